// node.ts: CacheNode, the wiring of one cache process: its groups, the ring of
// peers, the peer transport (client and server), metrics, and its lifecycle.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Group, GroupOptions } from '../core/group.js';
import type { Logger } from '../core/logger.js';
import { noopLogger } from '../core/logger.js';
import { GroupRegistry } from '../core/registry.js';
import { RingPicker } from '../core/ring-picker.js';
import { InvalidArgumentError, UnavailableError } from '../errors.js';
import type { HashFn } from '../ring/ring.js';
import {
  createHttpPeerHandler,
  createHttpTransport,
  type HttpPeerHandler,
  type HttpTransport,
  type HttpTransportOptions,
} from '../transport/http/index.js';
import { NodeMetrics } from './metrics.js';
import { parsePeerUrl } from './peer-url.js';

/** NodeOptions configure {@link createNode}. */
export interface NodeOptions {
  /**
   * self is this node's peer base URL, e.g. `http://10.0.0.1:8001`: its identity
   * on the ring (peers must list it exactly so) and, unless `listen` says
   * otherwise, where it listens. Default `http://127.0.0.1:0`-less: a node
   * without `self` and without peers is a single instance with no network.
   */
  self?: string | undefined;
  /** peers is the static member list; it may include self. Default: none. */
  peers?: readonly string[] | undefined;
  /** listen is where `listen()` binds, as `host:port`. Default: the host and port of `self`. */
  listen?: string | undefined;
  /** basePath is the URL path prefix of peer requests. Default `/_groupcache/`. */
  basePath?: string | undefined;
  /** replicas is the number of ring points per peer. Default 50. */
  replicas?: number | undefined;
  /** hash is the ring's hash function. Default CRC-32 IEEE (golang/groupcache's). */
  hash?: HashFn | undefined;
  /** http configures the HTTP peer client (dispatcher hook, timeouts, connections). */
  http?: Omit<HttpTransportOptions, 'basePath'> | undefined;
  /** maxKeyBytes bounds keys on the peer endpoint. Default 4096. */
  maxKeyBytes?: number | undefined;
  /** maxValueBytes bounds values on the peer endpoint and from peers. Default 64 MiB. */
  maxValueBytes?: number | undefined;
  /** shutdownGraceMs is how long `close()` waits for in-flight requests. Default 10,000. */
  shutdownGraceMs?: number | undefined;
  /** logger receives loads, peer errors and membership changes (a pino logger fits). Default: silent. */
  logger?: Logger | undefined;
}

/** PeersInfo describes the ring as this node sees it. */
export interface PeersInfo {
  self: string;
  peers: string[];
  /** What set the current member list: `static`, `api`, or a membership source's name. */
  source: string;
  /** When the member list last changed (ISO 8601). */
  updatedAt: string;
}

/**
 * CacheNode is one cache process. With peers, each key has one owner on the
 * ring; a miss asks the owner, which loads it once for the whole cluster. With
 * no peers it is a local cache with no network. Create it with {@link createNode}.
 */
export class CacheNode {
  /** self is this node's ring identity (its peer base URL), or `local` for a single instance. */
  readonly self: string;
  /** metrics holds this node's Prometheus registry. */
  readonly metrics: NodeMetrics;
  /** handler serves peer requests; mount it yourself, or let `listen()` serve it. */
  readonly handler: HttpPeerHandler;
  readonly #registry: GroupRegistry;
  readonly #picker: RingPicker;
  readonly #transport: HttpTransport;
  readonly #log: Logger;
  readonly #listen: { host: string; port: number } | undefined;
  readonly #graceMs: number;
  readonly #shutdown = new AbortController();
  #server: Server | undefined;
  #closing: Promise<void> | undefined;
  #info: PeersInfo;

  constructor(options: NodeOptions = {}) {
    const peers = options.peers ?? [];
    if (!Array.isArray(peers)) throw new InvalidArgumentError('peers must be an array of URLs');
    if (options.self === undefined && peers.length > 0) {
      throw new InvalidArgumentError('self is required when peers are given');
    }
    this.self = options.self === undefined ? 'local' : parsePeerUrl(options.self, 'self');
    for (const p of peers) parsePeerUrl(p, 'peer');
    this.#listen =
      options.listen !== undefined
        ? parseHostPort(options.listen)
        : options.self !== undefined
          ? hostPortOf(options.self)
          : undefined;
    this.#log = options.logger ?? noopLogger;
    this.#graceMs = options.shutdownGraceMs ?? 10_000;
    this.#registry = new GroupRegistry({ logger: this.#log });
    this.metrics = new NodeMetrics(() => this.#registry.groups());
    this.#transport = createHttpTransport({
      ...options.http,
      ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
      ...(options.maxValueBytes !== undefined ? { maxValueBytes: options.maxValueBytes } : {}),
    });
    this.#picker = new RingPicker({
      self: this.self,
      replicas: options.replicas,
      hash: options.hash,
      clientFor: (url) => this.metrics.instrument(this.#transport.client(url)),
    });
    this.#registry.setPeerPicker(this.#picker);
    this.handler = createHttpPeerHandler(this.#registry, {
      ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
      ...(options.maxKeyBytes !== undefined ? { maxKeyBytes: options.maxKeyBytes } : {}),
      ...(options.maxValueBytes !== undefined ? { maxValueBytes: options.maxValueBytes } : {}),
      signalFor: () => this.#shutdown.signal,
      onError: (err, req) =>
        this.#log.warn(
          { err: err instanceof Error ? err.message : String(err), url: req.url },
          'peer request failed',
        ),
    });
    this.#info = {
      self: this.self,
      peers: [this.self],
      source: 'static',
      updatedAt: new Date().toISOString(),
    };
    this.setPeers(peers, 'static');
  }

  /** newGroup creates a group on this node. A duplicate name is an AlreadyExistsError. */
  newGroup(name: string, options: GroupOptions): Group {
    return this.#registry.newGroup(name, options);
  }

  /** getGroup returns the group called `name`, or undefined. */
  getGroup(name: string): Group | undefined {
    return this.#registry.getGroup(name);
  }

  /** groups lists this node's groups. */
  groups(): Group[] {
    return this.#registry.groups();
  }

  /**
   * setPeers replaces the member list in one step (self is always a member).
   * `source` says where the list came from, for `/peers` and the logs.
   */
  setPeers(peers: Iterable<string>, source = 'api'): void {
    const list = [...peers];
    for (const p of list) parsePeerUrl(p, 'peer');
    const { added, removed } = this.#picker.setPeers(list);
    const members = this.#picker.members();
    this.#info = { self: this.self, peers: members, source, updatedAt: new Date().toISOString() };
    this.metrics.membership(members.length, source);
    if (added.length > 0 || removed.length > 0) {
      this.#log.info({ source, added, removed, members }, 'membership changed');
    }
  }

  /** peers describes the current ring. */
  peers(): PeersInfo {
    return { ...this.#info, peers: [...this.#info.peers] };
  }

  /** ownerOf returns the URL of the node that owns `key`. */
  ownerOf(key: string): string {
    return this.#picker.ownerOf(key);
  }

  /**
   * listen starts serving peer requests on `listen` (or self's host and port)
   * and resolves with the bound address. Calling it twice is an error.
   */
  async listen(): Promise<AddressInfo> {
    if (this.#closing) throw new UnavailableError('node is closed');
    if (this.#server) throw new InvalidArgumentError('node is already listening');
    if (this.#listen === undefined) {
      throw new InvalidArgumentError('nothing to listen on: give self or listen');
    }
    const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => this.handler(req, res));
    this.#server = server;
    const { host, port } = this.#listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    this.#log.info(
      { self: this.self, address: `${address.address}:${address.port}` },
      'serving peers',
    );
    return address;
  }

  /**
   * close shuts the node down gracefully: it stops accepting connections, lets
   * in-flight requests finish (up to `shutdownGraceMs`, then aborts them), and
   * closes peer connections. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => {
        this.#shutdown.abort(new UnavailableError('node is shutting down'));
        server.closeAllConnections();
      }, this.#graceMs);
      grace.unref();
      await closed;
      clearTimeout(grace);
    }
    await this.#transport.close();
    this.#log.info({ self: this.self }, 'node closed');
  }
}

/** createNode builds a {@link CacheNode}; call `listen()` to serve peers. */
export function createNode(options: NodeOptions = {}): CacheNode {
  return new CacheNode(options);
}

function hostPortOf(self: string): { host: string; port: number } {
  const u = new URL(self);
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** parseHostPort parses `host:port` (`[::1]:8080` for IPv6, `:8080` for every interface). */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new InvalidArgumentError(`address must look like HOST:PORT, got ${JSON.stringify(s)}`);
  }
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string)), port };
}
