// console.ts: the web console's part of the API server: its static page, and the JSON it
// reads (the cluster as this node sees it, with every member's stats, and one key's state).
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeStats } from '../core/node-stats.js';
import { isCacheError } from '../errors.js';
import type { CacheNode } from '../node/node.js';

/** CONSOLE_PATH is where the API server serves the console's page. */
export const CONSOLE_PATH = '/console/';

/** ConsoleNode is what the console needs of a node; a {@link CacheNode} fits. */
export type ConsoleNode = Pick<
  CacheNode,
  | 'self'
  | 'transport'
  | 'startedAt'
  | 'peers'
  | 'ringShares'
  | 'ownerOf'
  | 'nodeStats'
  | 'peerStats'
  | 'getGroup'
  | 'groups'
>;

/** isConsoleNode tells whether `node` has what the console's endpoints need. */
export function isConsoleNode(node: object): node is ConsoleNode {
  const n = node as Partial<ConsoleNode>;
  return typeof n.peerStats === 'function' && typeof n.ringShares === 'function';
}

/** MemberView is one member of the cluster as the console shows it. */
export interface MemberView {
  url: string;
  /** self is true for the node that answers. */
  self: boolean;
  /** share is the member's share of the ring's hash space, 0 to 1. */
  share: number;
  /** answering is whether it answered the stats call (or another request, for one without it). */
  answering: boolean;
  /** ringHealthy is the node's own view of the peer's health (false while it is avoided). */
  ringHealthy: boolean;
  /** noStats is true for a peer that answers but has no stats call: a Go groupcache peer. */
  noStats: boolean;
  /** error is why the stats call failed, if it did. */
  error?: string | undefined;
  /** stats is its report, when it answered. */
  stats?: NodeStats | undefined;
}

/** ClusterView is the console's `/console/api/cluster` answer. */
export interface ClusterView {
  self: string;
  /** member is false on a client-only node (a gateway). */
  member: boolean;
  transport: string;
  source: string;
  updatedAt: string;
  membership?: Record<string, unknown> | undefined;
  now: number;
  members: MemberView[];
}

/** How long the console waits for a member's stats before it calls it not answering. */
const STATS_TIMEOUT_MS = 2_000;

/** clusterView asks every member for its stats at once and gathers the answers. */
export async function clusterView(
  node: ConsoleNode,
  request: { group?: string; key?: string } = {},
): Promise<ClusterView> {
  const info = node.peers();
  const shares = node.ringShares();
  const urls = info.member ? info.peers : info.peers.filter((p) => p !== node.self);
  const deadline = Date.now() + STATS_TIMEOUT_MS;
  const members = await Promise.all(
    urls.map(async (url): Promise<MemberView> => {
      const self = url === node.self;
      const base = {
        url,
        self,
        share: shares[url] ?? 0,
        ringHealthy: self ? true : (info.peerHealthy[url] ?? true),
      };
      try {
        const stats = self
          ? node.nodeStats(request)
          : await node.peerStats(url, request, { deadline });
        return { ...base, answering: true, noStats: false, stats };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // A peer that answered "no such call" is up, just not a peercache one.
        const noStats = isCacheError(err, 'NOT_FOUND');
        return { ...base, answering: noStats, noStats, error: message };
      }
    }),
  );
  return {
    self: node.self,
    member: info.member,
    transport: node.transport.name,
    source: info.source,
    updatedAt: info.updatedAt,
    membership: info.membership,
    now: Date.now(),
    members,
  };
}

/** KeyView is the console's `/console/api/key` answer: one key's owner and every member's copy. */
export interface KeyView {
  group: string;
  key: string;
  /** owner is the member the ring names for the key. */
  owner: string;
  members: {
    url: string;
    answering: boolean;
    error?: string | undefined;
    key?: NodeStats['key'];
  }[];
}

/** keyView asks every member what it holds of `key` in `group`. */
export async function keyView(node: ConsoleNode, group: string, key: string): Promise<KeyView> {
  const view = await clusterView(node, { group, key });
  return {
    group,
    key,
    owner: node.ownerOf(key),
    members: view.members.map((m) => ({
      url: m.url,
      answering: m.answering,
      error: m.error,
      key: m.stats?.key,
    })),
  };
}

/** Content types of the page's files. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * defaultConsoleDir is where the built page lives: `dist/console/` of the
 * package this module belongs to (found by walking up to its package.json),
 * from the sources and from the built package alike.
 */
export async function defaultConsoleDir(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
      };
      if (pkg.name === 'peercache') return join(dir, 'dist', 'console');
    } catch {
      // No package.json here: keep walking up.
    }
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), 'console');
    dir = up;
  }
}

/**
 * serveConsoleFile answers a GET of the page's files under {@link CONSOLE_PATH}
 * from `dir`: `index.html` for the directory itself, 404 for anything else or
 * a page that was not built. They hold no data, so they need no token: the
 * page asks for it before it reads any.
 */
export async function serveConsoleFile(
  dir: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('method not allowed; use GET, HEAD\n');
    return;
  }
  const name = path === CONSOLE_PATH ? 'index.html' : path.slice(CONSOLE_PATH.length);
  const type = TYPES[name.slice(name.lastIndexOf('.'))];
  const file = normalize(join(dir, name));
  if (type === undefined || !/^[\w.-]+$/.test(name) || !file.startsWith(dir + sep)) {
    notFound(res, path);
    return;
  }
  let body: Buffer;
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    body = await readFile(file);
  } catch {
    notFound(res, path, name === 'index.html' ? ' (the console was not built: npm run build)' : '');
    return;
  }
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': body.byteLength,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
    // Everything the page needs is its own: nothing from elsewhere may run or load.
    'Content-Security-Policy':
      "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function notFound(res: ServerResponse, path: string, why = ''): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`not found: ${path}${why}\n`);
}
