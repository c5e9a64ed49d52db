// node.ts: CacheNode, the wiring of one cache process: its groups, the ring of
// peers, the peer transport, membership, metrics, and its lifecycle.
import type { AddressInfo } from 'node:net';
import type { Group, GroupOptions } from '../core/group.js';
import type { Logger } from '../core/logger.js';
import { noopLogger } from '../core/logger.js';
import {
  HealthCheckedPeer,
  healthOf,
  type PeerHealthOptions,
  type ResolvedPeerHealth,
  resolvePeerHealth,
} from '../core/peer-health.js';
import { GroupRegistry } from '../core/registry.js';
import { RingPicker } from '../core/ring-picker.js';
import type { Telemetry } from '../core/telemetry.js';
import { InvalidArgumentError, UnavailableError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import type { RingKind } from '../ring/owner-ring.js';
import type { HashFn } from '../ring/ring.js';
import { defaultTransport } from '../transport/default.js';
import type { PeerServer, PeerService, PeerTransport } from '../transport/transport.js';
import { hostPortOf, parseHostPort, parsePeerUrl } from '../util/address.js';
import { type Clock, systemClock } from '../util/clock.js';
import { NodeMetrics } from './metrics.js';

/** NodeOptions configure {@link createNode}. */
export interface NodeOptions {
  /**
   * self is this node's peer base URL, e.g. `http://10.0.0.1:8001`: its identity
   * on the ring (peers must list it exactly so) and, unless `listen` says
   * otherwise, where it listens. Without `self` and without peers, a node is a
   * single instance with no network.
   */
  self?: string | undefined;
  /**
   * peers is the static member list; it may include self. With `membership`
   * it seeds the ring until the membership source delivers its first set.
   * Default: none.
   */
  peers?: readonly string[] | undefined;
  /** membership is a source of member lists (e.g. etcd), started by `listen()` or `start()`. */
  membership?: Membership | undefined;
  /**
   * member says whether this node owns keys. `false` makes a client-only node (a
   * gateway): it follows membership, is never on the ring, and asks each key's
   * owner. Default true.
   */
  member?: boolean | undefined;
  /** listen is where `listen()` binds, as `host:port`. Default: the host and port of `self`. */
  listen?: string | undefined;
  /**
   * transport is the peer protocol, built by its factory with its own options
   * (TLS, peer secret, limits): `httpTransport({...})` from `peercache/http`,
   * `tcpTransport({...})` from `peercache/tcp`, `grpcTransport({...})` from
   * `peercache/grpc`, or `memoryTransport(network)`. Default: HTTP,
   * golang/groupcache's protocol, as `httpTransport()` with no options builds
   * it, imported when first needed (a peer request, `listen()`), so a node
   * with no peers never loads it. The transport options createNode once took
   * (`tls`, `peerSecret`, `basePath`, `http`, `maxKeyBytes`, `maxValueBytes`)
   * are refused with InvalidArgumentError rather than dropped.
   * Give each node a transport of its own: a node closes the clients of peers
   * that leave its ring, which another node sharing the transport may still use.
   */
  transport?: PeerTransport | undefined;
  /**
   * ring is how keys are mapped to owners; every node of a cluster must use the
   * same (the tcp transport refuses a peer with another). `golang` (the
   * default) places keys as golang/groupcache does, `mailgun` and
   * `groupcache-go` as those lineages do; `balanced` spreads keys evenly
   * (the busiest node within a few percent of the mean) but no Go node
   * computes it: use it only where every node is peercache. See
   * docs/protocol.md. An unknown name is an InvalidArgumentError.
   */
  ring?: RingKind | undefined;
  /**
   * replicas is the number of points per peer of the Go rings. Default 50. The
   * `balanced` ring takes none (InvalidArgumentError).
   */
  replicas?: number | undefined;
  /** hash is the `golang` ring's hash function (no other kind takes one). Default CRC-32 IEEE. */
  hash?: HashFn | undefined;
  /**
   * peerTimeoutMs bounds every request to a peer, apart from the groups'
   * `loadTimeoutMs`: its deadline is the earlier of the caller's and now + this.
   * Default 5,000.
   */
  peerTimeoutMs?: number | undefined;
  /**
   * peerHealth tunes how peers that stop answering are found and avoided (see
   * {@link PeerHealthOptions}; each field documents its default). An unhealthy
   * peer's keys go to their fallback owners (the next healthy member on the
   * ring) at once until it answers a probe again.
   * Default: on, with the defaults.
   */
  peerHealth?: PeerHealthOptions | undefined;
  /** shutdownGraceMs is how long `close()` waits for in-flight requests. Default 10,000. */
  shutdownGraceMs?: number | undefined;
  /** logger receives loads, peer errors and membership changes (a pino logger fits). Default: silent. */
  logger?: Logger | undefined;
  /**
   * clock is the node's time source, handed to its groups (unless a group
   * brings its own), to peer health and to the shutdown grace timer; give the
   * same one to the transport and membership you build. Default {@link systemClock}.
   */
  clock?: Clock | undefined;
  /**
   * telemetry traces gets, peer requests, loads and writes of every group of the node, with
   * the trace context carried to peers: `otelTelemetry()` of `peercache/otel`. Default: none.
   */
  telemetry?: Telemetry | undefined;
}

/** MOVED_OPTIONS are the transport options NodeOptions no longer has. */
const MOVED_OPTIONS = ['tls', 'peerSecret', 'basePath', 'http', 'maxKeyBytes', 'maxValueBytes'];

/** PeersInfo describes the ring as this node sees it. */
export interface PeersInfo {
  self: string;
  /** Whether this node owns keys (false for a client-only node). */
  member: boolean;
  /** The ring kind (see {@link NodeOptions.ring}). */
  ring: RingKind;
  /** The ring's members, sorted. */
  peers: string[];
  /** What set the current member list: `static`, `api`, or a membership source's name. */
  source: string;
  /** When the member list last changed (ISO 8601). */
  updatedAt: string;
  /** The membership source's own state, when it reports one. */
  membership?: Record<string, unknown>;
  /**
   * Whether each peer but self is used: false while it is avoided because it
   * stopped answering (requests to it fail at once and its keys are loaded
   * locally, see `peerHealth`); a peer not asked yet counts as healthy.
   */
  peerHealthy: Record<string, boolean>;
  /** Why each unhealthy peer is so, and since when (ISO 8601). */
  unhealthyPeers: Record<string, { reason: string; since: string }>;
}

/**
 * CacheNode is one cache process. With peers, each key has one owner on the
 * ring; a miss asks the owner, which loads it once for the whole cluster. With
 * no peers it is a local cache with no network. Create it with {@link createNode}.
 */
export class CacheNode implements PeerService {
  /** self is this node's ring identity (its peer base URL), or `local` for a single instance. */
  readonly self: string;
  /** metrics holds this node's Prometheus registry. */
  readonly metrics: NodeMetrics;
  /** transport is the peer protocol this node speaks. */
  readonly transport: PeerTransport;
  readonly #registry: GroupRegistry;
  readonly #picker: RingPicker;
  readonly #membership: Membership | undefined;
  readonly #member: boolean;
  readonly #log: Logger;
  readonly #listen: { host: string; port: number } | undefined;
  readonly #graceMs: number;
  readonly #clock: Clock;
  readonly #shutdown = new AbortController();
  #membershipStarted: Promise<void> | undefined;
  #server: PeerServer | undefined;
  #listening = false;
  #closing: Promise<void> | undefined;
  #info: Omit<PeersInfo, 'peerHealthy' | 'unhealthyPeers'>;

  constructor(options: NodeOptions = {}) {
    const peers = options.peers ?? [];
    if (!Array.isArray(peers)) throw new InvalidArgumentError('peers must be an array of URLs');
    if (options.self === undefined && peers.length > 0 && options.member !== false) {
      throw new InvalidArgumentError('self is required when peers are given');
    }
    this.self = options.self === undefined ? 'local' : parsePeerUrl(options.self, 'self');
    this.#listen =
      options.listen !== undefined
        ? parseHostPort(options.listen)
        : options.self !== undefined
          ? hostPortOf(options.self)
          : undefined;
    this.#member = options.member ?? true;
    this.#membership = options.membership;
    this.#log = options.logger ?? noopLogger;
    this.#graceMs = options.shutdownGraceMs ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#registry = new GroupRegistry({
      logger: this.#log,
      clock: this.#clock,
      telemetry: options.telemetry,
    });
    this.metrics = new NodeMetrics(() => this.#registry.groups());
    // Options the node once took for its default transport: silently dropping a
    // `tls` or `peerSecret` would leave the peer port open, so each is refused.
    const moved = MOVED_OPTIONS.filter(
      (name) => (options as Record<string, unknown>)[name] !== undefined,
    );
    if (moved.length > 0) {
      throw new InvalidArgumentError(
        `${moved.join(', ')}: options of the transport's factory, not of createNode: createNode({ transport: httpTransport({ ${moved.join(', ')} }) })`,
      );
    }
    this.transport = options.transport ?? defaultTransport();
    const health: ResolvedPeerHealth = resolvePeerHealth({
      ...options.peerHealth,
      requestTimeoutMs: options.peerTimeoutMs,
    });
    this.#picker = new RingPicker({
      self: this.self,
      ring: options.ring,
      replicas: options.replicas,
      hash: options.hash,
      member: this.#member,
      // Probes go through the bare client: they are not requests, and stay out
      // of the request metrics.
      clientFor: (url) => {
        const client = this.transport.client(url, { ring: this.#picker.ring });
        return new HealthCheckedPeer(this.metrics.instrument(client), {
          ...health,
          clock: this.#clock,
          probe: client,
          logger: this.#log,
        });
      },
    });
    this.metrics.peerHealth(() => this.#picker.otherPeers());
    this.#registry.setPeerPicker(this.#picker);
    this.#info = {
      self: this.self,
      member: this.#member,
      ring: this.#picker.ring,
      peers: [],
      source: 'static',
      updatedAt: new Date().toISOString(),
    };
    this.setPeers(peers, 'static');
  }

  /**
   * shutdownSignal fires when the node, closing, stops waiting for the peer
   * requests in flight: `shutdownGraceMs` after `close()` with a server of its
   * own, at the end of `close()` otherwise. A peer handler mounted in an
   * application's own server (see `httpTransport`'s `handler`) ends its
   * requests by it.
   */
  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
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
   * setPeers replaces the member list in one step (self is always a member of
   * a member node). `source` says where the list came from, for `/peers`, logs
   * and metrics.
   */
  setPeers(peers: Iterable<string>, source = 'api'): void {
    const list = [...peers];
    for (const p of list) parsePeerUrl(p, 'peer');
    const { added, removed } = this.#picker.setPeers(list);
    const members = this.#picker.members();
    this.#info = {
      self: this.self,
      member: this.#member,
      ring: this.#picker.ring,
      peers: members,
      source,
      updatedAt: new Date().toISOString(),
    };
    this.metrics.membership(members.length, source);
    if (added.length > 0 || removed.length > 0) {
      this.#log.info({ source, added, removed, members }, 'membership changed');
    }
  }

  /**
   * peers describes the current ring, each peer's health, and the membership
   * source's state if it reports one.
   */
  peers(): PeersInfo {
    const status = this.#membership?.status?.();
    const peerHealthy: Record<string, boolean> = {};
    const unhealthyPeers: Record<string, { reason: string; since: string }> = {};
    for (const client of this.#picker.otherPeers()) {
      const health = healthOf(client);
      peerHealthy[client.url] = health?.healthy ?? true;
      if (health !== undefined && !health.healthy) {
        unhealthyPeers[client.url] = {
          reason: health.reason ?? 'no answer',
          since: new Date(health.since).toISOString(),
        };
      }
    }
    return {
      ...this.#info,
      peers: [...this.#info.peers],
      ...(status !== undefined ? { membership: status } : {}),
      peerHealthy,
      unhealthyPeers,
    };
  }

  /** ownerOf returns the URL of the node that owns `key`. */
  ownerOf(key: string): string {
    return this.#picker.ownerOf(key);
  }

  /** ring names this node's ring kind (see {@link NodeOptions.ring}). */
  get ring(): RingKind {
    return this.#picker.ring;
  }

  /**
   * shares gives each member's fraction of the key hash space on this node's
   * ring (fractions summing to 1): what share of keys each would own.
   */
  shares(): Map<string, number> {
    return this.#picker.shares();
  }

  /**
   * listen serves peer requests on `listen` (or self's host and port), then
   * starts the membership source; it resolves with the bound address.
   * Calling it twice is an InvalidArgumentError.
   */
  async listen(): Promise<AddressInfo> {
    if (this.#closing) throw new UnavailableError('node is closed');
    if (this.#listening) throw new InvalidArgumentError('node is already listening');
    if (this.#listen === undefined) {
      throw new InvalidArgumentError('nothing to listen on: give self or listen');
    }
    this.#listening = true;
    const { host, port } = this.#listen;
    try {
      this.#server = await this.transport.serve(this.#registry, {
        host,
        port,
        signal: this.#shutdown.signal,
        logger: this.#log,
        ring: this.#picker.ring,
      });
    } catch (err) {
      this.#listening = false;
      throw err;
    }
    const address = this.#server.address;
    this.#log.info(
      {
        self: this.self,
        transport: this.transport.name,
        ring: this.#picker.ring,
        address: `${address.address}:${address.port}`,
      },
      'serving peers',
    );
    await this.start();
    return address;
  }

  /**
   * start starts the membership source, if any: from then on its member lists
   * replace the ring. `listen()` calls it once the node serves peers; a
   * client-only node, which serves none, calls it directly. Idempotent.
   */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new UnavailableError('node is closed'));
    const membership = this.#membership;
    this.#membershipStarted ??=
      membership === undefined
        ? Promise.resolve()
        : membership.start((peers) => {
            if (this.#closing === undefined) this.setPeers(peers, membership.name);
          });
    return this.#membershipStarted;
  }

  /**
   * close shuts the node down gracefully: it leaves the membership (so peers
   * stop routing here), stops accepting connections, lets in-flight requests
   * finish (up to `shutdownGraceMs`, then aborts them), and closes peer
   * connections. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#membership !== undefined && this.#membershipStarted !== undefined) {
      await this.#membershipStarted.catch(() => {});
      await this.#membership.close().catch((err: unknown) => {
        this.#log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'membership close failed',
        );
      });
    }
    const server = this.#server;
    if (server) {
      // Past the grace period, in-flight requests are told to give up.
      const grace = this.#clock.setTimeout(
        () => this.#shutdown.abort(new UnavailableError('node is shutting down')),
        this.#graceMs,
      );
      await server.close(this.#graceMs);
      this.#clock.clearTimeout(grace);
    }
    await this.transport.close();
    if (!this.#shutdown.signal.aborted) {
      this.#shutdown.abort(new UnavailableError('node is shutting down'));
    }
    this.#log.info({ self: this.self }, 'node closed');
  }
}

/** createNode builds a {@link CacheNode}; call `listen()` to serve peers. */
export function createNode(options: NodeOptions = {}): CacheNode {
  return new CacheNode(options);
}
