// gopeer.ts: builds and drives the real golang/groupcache test peer (test/go/peer) so
// interop tests can put Go nodes in a cluster and ask them questions.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePorts, type ManagedProcess, type ProcessRegistry, startProcess } from './process.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/go-peer.sh', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** GoPeerBinary is the built binary's path, or why it cannot be built here. */
export type GoPeerBinary = string | { skip: string };

// The build runs once per test process; every caller shares its promise.
let building: Promise<GoPeerBinary> | undefined;

function runBuild(): Promise<GoPeerBinary> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [SCRIPT],
      { cwd: REPO_ROOT, timeout: 15 * 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const path = stdout.trim().split('\n').pop() ?? '';
        if (!err && path !== '') return resolve(path);
        const detail = stderr.trim().split('\n').slice(-5).join('\n') || String(err?.message);
        resolve({ skip: `Go groupcache peer cannot be built: ${detail}` });
      },
    );
  });
}

/**
 * goPeerBinary builds the Go peer with scripts/go-peer.sh (once per process) and
 * resolves to its path, or to `{ skip }` when it cannot be built here. Under
 * `CI=true` nothing may skip, so it rejects instead.
 */
export async function goPeerBinary(): Promise<GoPeerBinary> {
  building ??= runBuild();
  const result = await building;
  if (typeof result !== 'string' && process.env.CI === 'true') throw new Error(result.skip);
  return result;
}

/** StartGoPeerOptions configure {@link startGoPeer}. */
export interface StartGoPeerOptions {
  /** The peer's base URL and ring identity, e.g. `http://127.0.0.1:41234`; it listens there. */
  self: string;
  /** Every peer's base URL, in ring order (may include `self`). */
  peers: readonly string[];
  /** Group name. Default: `scores`. */
  group?: string;
  /** Cache bytes, main + hot. Default: 64 MiB. */
  cacheBytes?: number;
  /** Virtual nodes per peer. Default: 50. */
  replicas?: number;
  /** Base path of the groupcache protocol. Default: `/_groupcache/`. */
  basePath?: string;
  /** Sleep this long in the loader before it answers. Default: 0. */
  loadDelayMs?: number;
  /** Port of the control API on 127.0.0.1. Default: a free port. */
  controlPort?: number;
  /** Registry that stops the peer at cleanup. Default: none (call `stop`). */
  registry?: ProcessRegistry;
  /**
   * TLS of the groupcache protocol, as PEM files: served with `certFile`/`keyFile`
   * (also presented to peers that ask for a client certificate), peers checked
   * against `caFile`, client certificates required with `clientAuth`. Default: plain.
   */
  tls?: { certFile: string; keyFile: string; caFile?: string; clientAuth?: boolean };
}

/** GoCacheStats is one of a Go group's caches (groupcache.CacheStats). */
export interface GoCacheStats {
  Bytes: number;
  Items: number;
  Gets: number;
  Hits: number;
  Evictions: number;
}

/** GoGroupStats is a Go group's counters (groupcache.Stats) and its two caches. */
export interface GoGroupStats {
  Gets: number;
  CacheHits: number;
  PeerLoads: number;
  PeerErrors: number;
  Loads: number;
  LoadsDeduped: number;
  LocalLoads: number;
  LocalLoadErrs: number;
  ServerRequests: number;
  MainCache: GoCacheStats;
  HotCache: GoCacheStats;
}

/** GoPeerError is a failed `GoPeer.get`: the Go group's error text and HTTP status. */
export class GoPeerError extends Error {
  /** GoPeerError.status is the control API's status (500 for a group error). */
  readonly status: number;
  constructor(status: number, text: string) {
    super(text);
    this.name = 'GoPeerError';
    this.status = status;
  }
}

/** GoPeer is a running Go groupcache node. */
export interface GoPeer {
  /** GoPeer.url is its base URL (`self`). */
  readonly url: string;
  /** GoPeer.controlUrl is the base URL of its control API. */
  readonly controlUrl: string;
  /** GoPeer.process is the running process. */
  readonly process: ManagedProcess;
  /** GoPeer.get runs `group.Get(key)` on the node; rejects with {@link GoPeerError}. */
  get(key: string): Promise<Uint8Array>;
  /** GoPeer.loads returns how often this node's loader ran, per key. */
  loads(): Promise<Record<string, number>>;
  /** GoPeer.owner returns the ring owner of `key` per Go's consistenthash and its peers. */
  owner(key: string): Promise<string>;
  /**
   * GoPeer.ownerIn returns the owner of `key` on a Go ring built from `peers` and
   * `replicas` (default: the node's), without touching the node's own ring.
   */
  ownerIn(key: string, peers: readonly string[], replicas?: number): Promise<string>;
  /** GoPeer.stats returns the group's counters. */
  stats(): Promise<GoGroupStats>;
  /** GoPeer.stop stops the process (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

async function control(base: string, path: string, params: Record<string, string>) {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
}

async function controlText(base: string, path: string, params: Record<string, string> = {}) {
  const { status, body } = await control(base, path, params);
  const text = new TextDecoder().decode(body);
  if (status !== 200) throw new GoPeerError(status, text.trimEnd());
  return text;
}

/**
 * peerUrls returns `count` base URLs `http://127.0.0.1:PORT` on distinct free ports,
 * for a cluster whose peer list must be known before its nodes start.
 */
export async function peerUrls(count: number, host = '127.0.0.1'): Promise<string[]> {
  return (await freePorts(count, host)).map((port) => `http://${host}:${port}`);
}

/**
 * startGoPeer builds (if needed) and starts a Go groupcache node listening at `self`,
 * resolving once both its listeners accept. Rejects when the Go peer cannot be built;
 * tests should check {@link goPeerBinary} first and skip.
 */
export async function startGoPeer(options: StartGoPeerOptions): Promise<GoPeer> {
  const binary = await goPeerBinary();
  if (typeof binary !== 'string') throw new Error(binary.skip);
  const controlPort = options.controlPort ?? (await freePorts(1))[0]!;
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  const args = [
    `-self=${options.self}`,
    `-peers=${options.peers.join(',')}`,
    `-control=127.0.0.1:${controlPort}`,
    `-group=${options.group ?? 'scores'}`,
    `-cache=${options.cacheBytes ?? 64 << 20}`,
    `-replicas=${options.replicas ?? 50}`,
    `-basepath=${options.basePath ?? '/_groupcache/'}`,
    `-load-delay=${options.loadDelayMs ?? 0}ms`,
    '-exit-on-stdin-eof',
  ];
  const tls = options.tls;
  if (tls !== undefined) {
    args.push(`-tls-cert=${tls.certFile}`, `-tls-key=${tls.keyFile}`);
    if (tls.caFile !== undefined) args.push(`-tls-ca=${tls.caFile}`);
    if (tls.clientAuth === true) args.push('-tls-client-auth');
  }
  const proc = await startProcess(binary, args, {
    readyLine: 'ready',
    timeoutMs: 15_000,
    registry: options.registry,
  });
  return {
    url: options.self,
    controlUrl,
    process: proc,
    async get(key) {
      const { status, body } = await control(controlUrl, '/get', { key });
      if (status !== 200) throw new GoPeerError(status, new TextDecoder().decode(body).trimEnd());
      return body;
    },
    async loads() {
      return JSON.parse(await controlText(controlUrl, '/loads')) as Record<string, number>;
    },
    owner(key) {
      return controlText(controlUrl, '/owner', { key });
    },
    ownerIn(key, peers, replicas) {
      const params: Record<string, string> = { key, peers: peers.join(',') };
      if (replicas !== undefined) params.replicas = String(replicas);
      return controlText(controlUrl, '/owner', params);
    },
    async stats() {
      return JSON.parse(await controlText(controlUrl, '/stats')) as GoGroupStats;
    },
    async stop() {
      await proc.stop();
    },
  };
}
