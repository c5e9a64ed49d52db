// peercache.ts: starts `peercache node` as a real process for integration tests, talks to
// its API, and reads its JSON log lines (which node loaded which key).

import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { defaultRing } from '../../src/cli/args.js';
import type { CacheStats, GroupStats } from '../../src/core/stats.js';
import { createRing } from '../../src/ring/owner-ring.js';
import {
  freePorts,
  type ManagedProcess,
  type ProcessRegistry,
  type StartProcessOptions,
  startProcess,
  waitFor,
} from './process.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** VALUES_LOADER is the `--loader` module serving `testValue(key)` (see test/fixtures). */
export const VALUES_LOADER = 'test/fixtures/values-loader.ts';

/** StartPeercacheOptions configure {@link startPeercacheNode}. */
export interface StartPeercacheOptions {
  /** The node's `--self`: its peer base URL and ring identity, e.g. `http://127.0.0.1:41234`. */
  self: string;
  /** The `--peers` list (may include self). Default: none, a single instance. */
  peers?: readonly string[];
  /** Port of the API on 127.0.0.1. Default: a free port. */
  apiPort?: number;
  /** The `--loader` module, relative to the repository root. Default: {@link VALUES_LOADER}. */
  loader?: string;
  /** The group the node serves (`--group`), used by `syncLogs` and `stats`. Default: `scores`. */
  group?: string;
  /** Variables added to the node's environment (e.g. LOAD_DELAY_MS). Default: none. */
  env?: NodeJS.ProcessEnv;
  /** Registry that stops the node at cleanup. Default: none (call `stop`). */
  registry?: ProcessRegistry;
  /**
   * The `--transport`. Default: `http`, golang/groupcache's, which most
   * integration tests speak to directly (the CLI's own default is `tcp`).
   */
  transport?: 'http' | 'grpc' | 'tcp';
  /** More flags for `peercache node` (e.g. `['--peer-secret', 's']`). Default: none. */
  extraArgs?: readonly string[];
  /** The address the API binds and is asked on. Default: `127.0.0.1`. */
  apiHost?: string;
  /**
   * Where the process runs, e.g. a host of a network-namespace lab (test/support/netns.ts).
   * Default: here, with {@link startProcess}.
   */
  runner?: ProcessRunner;
}

/** ProcessRunner starts a process somewhere, as {@link startProcess} does here. */
export interface ProcessRunner {
  /** ProcessRunner.start starts `cmd args` and resolves once it is ready, as {@link startProcess}. */
  start(
    cmd: string,
    args: readonly string[],
    options?: StartProcessOptions,
  ): Promise<ManagedProcess>;
}

/** ApiAnswer is an HTTP answer from a node's API: status, raw body and content type. */
export interface ApiAnswer {
  status: number;
  body: Uint8Array;
  type: string | null;
  /** text is the body as UTF-8. */
  text: string;
}

/** NodeGroupStats is one group's entry in `GET /stats`. */
export interface NodeGroupStats {
  stats: GroupStats;
  main: CacheStats;
  hot: CacheStats;
}

/** LogLine is one JSON line of a node's pino log. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** PeercacheNode is a running `peercache node` process. */
export interface PeercacheNode {
  /** PeercacheNode.url is its `--self` URL. */
  readonly url: string;
  /** PeercacheNode.apiUrl is the base URL of its API, e.g. `http://127.0.0.1:41235`. */
  readonly apiUrl: string;
  /** PeercacheNode.process is the running process. */
  readonly process: ManagedProcess;
  /** PeercacheNode.get is `GET /api?key=K[&group=G]`. */
  get(key: string, group?: string): Promise<ApiAnswer>;
  /** PeercacheNode.set is `PUT /api?key=K[&group=G]` with `value` as the body. */
  set(key: string, value: string | Uint8Array, group?: string): Promise<ApiAnswer>;
  /** PeercacheNode.remove is `DELETE /api?key=K[&group=G]`. */
  remove(key: string, group?: string): Promise<ApiAnswer>;
  /** PeercacheNode.stats returns its group's entry of `GET /stats`. */
  stats(): Promise<NodeGroupStats>;
  /** PeercacheNode.logs returns the JSON log lines received so far. */
  logs(): LogLine[];
  /**
   * PeercacheNode.loads counts the `loaded` log lines received so far, per key (one line
   * per successful local load; `syncLogs` keys left out). Call `syncLogs` first.
   */
  loads(): Record<string, number>;
  /**
   * PeercacheNode.syncLogs makes sure every line the node logged before this call has been
   * received: it asks the node's API for a fresh key the node owns (loaded locally, so it
   * logs a `loaded` line) and waits for that line. Each call adds one to the node's local loads.
   */
  syncLogs(): Promise<void>;
  /** PeercacheNode.stop stops the process (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

const SYNC_PREFIX = '__sync-';

async function request(url: string, init: RequestInit = {}): Promise<ApiAnswer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  const body = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    body,
    type: res.headers.get('content-type'),
    text: new TextDecoder().decode(body),
  };
}

function parseLogs(lines: readonly string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as LogLine;
      if (typeof parsed.msg === 'string') out.push(parsed);
    } catch {
      // not a log line (e.g. a stack trace): skip it
    }
  }
  return out;
}

/**
 * startPeercacheNode runs `peercache node --self URL [--peers ...] --api HOST:PORT
 * --loader MODULE --log-level info` from the repository root (through tsx, from the
 * sources; HOST is `apiHost`, 127.0.0.1 by default) and resolves once it prints `ready <self>`.
 */
export async function startPeercacheNode(options: StartPeercacheOptions): Promise<PeercacheNode> {
  const apiPort = options.apiPort ?? (await freePorts(1))[0]!;
  const apiHost = options.apiHost ?? '127.0.0.1';
  const apiUrl = `http://${apiHost}:${apiPort}`;
  const group = options.group ?? 'scores';
  const args = [
    '--import',
    'tsx',
    'src/cli/main.ts',
    'node',
    '--self',
    options.self,
    '--api',
    `${apiHost}:${apiPort}`,
    '--loader',
    options.loader ?? VALUES_LOADER,
    // Loads are logged at debug; the tests count them from the log.
    '--log-level',
    'debug',
    '--transport',
    options.transport ?? 'http',
  ];
  if (options.peers && options.peers.length > 0) args.push('--peers', options.peers.join(','));
  if (options.group !== undefined) args.push('--group', options.group);
  if (options.extraArgs) args.push(...options.extraArgs);
  const syncRing = createRing({ kind: defaultRing(options.transport ?? 'http') });
  syncRing.set(new Set([options.self, ...(options.peers ?? [])]));
  const runner = options.runner;
  const start: ProcessRunner['start'] = runner ? (c, a, o) => runner.start(c, a, o) : startProcess;
  const proc = await start(process.execPath, args, {
    cwd: REPO_ROOT,
    env: options.env,
    readyLine: `ready ${options.self}`,
    timeoutMs: 60_000,
    registry: options.registry,
  });

  const apiPath = (key: string, g: string | undefined) => {
    const q = new URLSearchParams({ key });
    if (g !== undefined) q.set('group', g);
    return `${apiUrl}/api?${q}`;
  };
  const logs = () => parseLogs(proc.stderr);

  return {
    url: options.self,
    apiUrl,
    process: proc,
    get: (key, g) => request(apiPath(key, g)),
    set: (key, value, g) => request(apiPath(key, g), { method: 'PUT', body: value }),
    remove: (key, g) => request(apiPath(key, g), { method: 'DELETE' }),
    async stats() {
      const res = await request(`${apiUrl}/stats`);
      if (res.status !== 200) throw new Error(`GET /stats: ${res.status} ${res.text}`);
      const all = JSON.parse(res.text) as { groups: Record<string, NodeGroupStats> };
      const entry = all.groups[group];
      if (!entry) throw new Error(`GET /stats has no group ${group}: ${res.text}`);
      return entry;
    },
    logs,
    loads() {
      const counts: Record<string, number> = {};
      for (const line of logs()) {
        if (line.msg !== 'loaded' || typeof line.key !== 'string') continue;
        if (line.key.startsWith(SYNC_PREFIX)) continue;
        counts[line.key] = (counts[line.key] ?? 0) + 1;
      }
      return counts;
    },
    async syncLogs() {
      // A fresh key this node owns, asked through its API (whatever the peer
      // transport), is loaded here and logged.
      const prefix = `${SYNC_PREFIX}${randomUUID()}-`;
      let key = `${prefix}0`;
      for (let i = 1; syncRing.get(key) !== options.self; i++) key = `${prefix}${i}`;
      const res = await request(`${apiUrl}/api?${new URLSearchParams({ key, group })}`);
      if (res.status !== 200) throw new Error(`sync get on ${options.self}: ${res.status}`);
      await waitFor(() => logs().some((l) => l.msg === 'loaded' && l.key === key), {
        timeoutMs: 10_000,
        message: `log line of ${key} from ${options.self}`,
      });
    },
    async stop() {
      await proc.stop();
    },
  };
}

/** sumLoads adds up the loads of `key` over `counts` (one record per node). */
export function sumLoads(counts: readonly Record<string, number>[], key: string): number {
  return counts.reduce((sum, c) => sum + (c[key] ?? 0), 0);
}
