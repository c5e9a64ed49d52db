// node.ts: CacheNode, the wiring of one cache process: its groups, the ring of
// peers, the peer transport, membership, metrics, and its lifecycle.
import type { AddressInfo } from 'node:net';
import type { Group, GroupOptions } from '../core/group.js';
import {
  LEAVE_NOTICE_GROUP,
  LEFT_NOTICE_GROUP,
  type NoticeStep,
  ServedGroups,
} from '../core/leave.js';
import type { Logger } from '../core/logger.js';
import { noopLogger } from '../core/logger.js';
import { buildNodeStats, type NodeStats, type NodeStatsRequest } from '../core/node-stats.js';
import {
  HealthCheckedPeer,
  healthCheckedOf,
  healthOf,
  type PeerHealthOptions,
  type ResolvedPeerHealth,
  resolvePeerHealth,
} from '../core/peer-health.js';
import type { CallOptions, GroupLookup } from '../core/peers.js';
import { GroupRegistry } from '../core/registry.js';
import { RingPicker } from '../core/ring-picker.js';
import type { Telemetry } from '../core/telemetry.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import type { RingKind } from '../ring/owner-ring.js';
import type { HashFn } from '../ring/ring.js';
import { defaultTransport } from '../transport/default.js';
import type { PeerServer, PeerService, PeerTransport } from '../transport/transport.js';
import { hostPortOf, parseHostPort, parsePeerUrl } from '../util/address.js';
import { type Clock, systemClock } from '../util/clock.js';
import { VERSION } from '../version.js';
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
  /**
   * drainMs is how long a leaving node keeps serving after it has left the
   * membership and told its peers (see `leave()`): for whoever learns of it late
   * (a load balancer polling `/readyz`, a gateway, a golang/groupcache peer).
   * Default 0: the peers on its ring are told before it stops, which is all an
   * embedded node needs; the CLI's `--drain-ms` defaults to 5 s.
   */
  drainMs?: number | undefined;
  /** logger receives loads, peer errors and membership changes (a pino logger fits). Default: silent. */
  logger?: Logger | undefined;
  /**
   * clock is the node's time source, handed to its groups (unless a group
   * brings its own), to peer health, the drain and the shutdown grace timer; give the
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
   * Members that said they are leaving (self included once it is): still on the
   * ring, but their keys go to the next member that is not leaving.
   */
  departed: string[];
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
 * NodeState is where a node is in its life: `starting` until it serves peers and
 * has a member set, `ready`, `leaving` from `leave()` (or `close()`) on, `closed`.
 */
export type NodeState = 'starting' | 'ready' | 'leaving' | 'closed';

/** How long a leaving node waits for each peer to take its leave notice. */
const NOTICE_TIMEOUT_MS = 2_000;

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
  /** startedAt is when this node was made, in ms since the epoch. */
  readonly startedAt = Date.now();
  readonly #registry: GroupRegistry;
  /** What transport servers serve: the groups, and this node's stats. */
  readonly #picker: RingPicker;
  readonly #membership: Membership | undefined;
  readonly #member: boolean;
  readonly #log: Logger;
  readonly #listen: { host: string; port: number } | undefined;
  readonly #graceMs: number;
  readonly #drainMs: number;
  readonly #clock: Clock;
  readonly #served: ServedGroups;
  readonly #shutdown = new AbortController();
  #membershipStarted: Promise<void> | undefined;
  #server: PeerServer | undefined;
  #listening = false;
  /** Whether a transport's handler serves peers for this node in an application's server. */
  #mounted = false;
  /** Whether the membership (or the static list, at start) has delivered a member set. */
  #hasMembers = false;
  #started = false;
  #leaving: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  #info: Omit<PeersInfo, 'peerHealthy' | 'unhealthyPeers' | 'departed'>;

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
    this.#drainMs = options.drainMs ?? 0;
    if (!(this.#drainMs >= 0) || !Number.isFinite(this.#drainMs)) {
      throw new InvalidArgumentError(`drainMs must be a number of ms >= 0, got ${options.drainMs}`);
    }
    this.#clock = options.clock ?? systemClock;
    this.#registry = new GroupRegistry({
      logger: this.#log,
      clock: this.#clock,
      telemetry: options.telemetry,
    });
    this.#served = new ServedGroups(this, {
      self: this.self,
      onNotice: (url, step) => this.#peerLeaving(url, step),
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
      // The request metrics observe the calls, not the probes: they are not requests.
      clientFor: (url) =>
        new HealthCheckedPeer(this.transport.client(url, { ring: this.#picker.ring }), {
          ...health,
          observer: this.metrics.observer(url),
          clock: this.#clock,
          logger: this.#log,
          onLeaving: (peer) => this.#picker.depart(peer),
          onReturned: (peer) => this.#picker.rejoin(peer),
        }),
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

  /**
   * servedToPeers is what this node serves peers through: its groups, the leave
   * notices of peers (so each peer's gets and writes move off a leaving peer at once),
   * and, once the node leaves, the "leaving" answer. The node's own server serves it,
   * and so does a peer handler mounted in an application's own server.
   */
  get servedToPeers(): GroupLookup {
    return this.#served;
  }

  /**
   * onMounted is told by a transport's `handler(node)` that its handler serves peers for
   * this node in an application's own server: from then on the node serves peers as if
   * it listened, so `leave()` tells them it leaves (and drains), and it can be `ready`.
   */
  onMounted(): void {
    this.#mounted = true;
  }

  /** servesPeers tells whether peers reach this node: its own server, or a mounted handler. */
  get #servesPeers(): boolean {
    return this.#server !== undefined || this.#mounted;
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
      departed: this.#picker.departed(),
      peerHealthy,
      unhealthyPeers,
    };
  }

  /**
   * nodeStats is this node's report of itself, as it answers a peer's stats
   * call: its groups' counters, caches and hot keys, and, when `request` names
   * a group and a key, what this node holds of that key (nothing is loaded).
   */
  nodeStats(request: NodeStatsRequest = {}): NodeStats {
    return buildNodeStats(request, {
      groups: () => this.#registry.groups(),
      getGroup: (name) => this.#registry.getGroup(name),
      version: VERSION,
      startedAt: this.startedAt,
      now: Date.now,
      peerGets: (group) => this.metrics.peerGetLatency(group),
    });
  }

  /**
   * peerStats asks the member `url` for its report (see {@link nodeStats})
   * over the peer transport. Rejects with NotFoundError when the transport's
   * client has no stats call or the peer does not know it (a golang/groupcache
   * peer), InvalidArgumentError for a URL that is not a member, and the
   * transport's error when the peer cannot be reached.
   */
  async peerStats(
    url: string,
    request: NodeStatsRequest = {},
    options?: CallOptions,
  ): Promise<NodeStats> {
    if (url === this.self) return this.nodeStats(request);
    if (!this.#picker.members().includes(url)) {
      throw new InvalidArgumentError(`${url} is not a member of the ring`);
    }
    const client = this.transport.client(url);
    if (client.nodeStats === undefined) {
      throw new NotFoundError(`the ${this.transport.name} transport has no stats call`);
    }
    return client.nodeStats(request, options);
  }

  /**
   * ringShares is each member's share of the ring's hash space (the shares sum
   * to 1): about the fraction of keys it owns.
   */
  ringShares(): Record<string, number> {
    return Object.fromEntries(this.#picker.shares());
  }

  /**
   * state is where the node is in its life (see {@link NodeState}): `ready` once
   * it serves peers (with its own server or a mounted handler; a client-only node:
   * once started) and has a member set from
   * its membership (at once with a static list), `leaving` from the moment
   * `leave()` or `close()` is called.
   */
  get state(): NodeState {
    if (this.#closed) return 'closed';
    if (this.#leaving !== undefined) return 'leaving';
    const serving = this.#member ? this.#servesPeers : true;
    return this.#started && serving && this.#hasMembers ? 'ready' : 'starting';
  }

  /** ready tells whether the node is `ready` (see {@link state}): what `/readyz` answers. */
  get ready(): boolean {
    return this.state === 'ready';
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
    if (this.#leaving) throw new UnavailableError('node is closed');
    if (this.#listening) throw new InvalidArgumentError('node is already listening');
    if (this.#listen === undefined) {
      throw new InvalidArgumentError('nothing to listen on: give self or listen');
    }
    this.#listening = true;
    const { host, port } = this.#listen;
    try {
      this.#server = await this.transport.serve(this.#served, {
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
    if (this.#leaving) return Promise.reject(new UnavailableError('node is closed'));
    const membership = this.#membership;
    this.#membershipStarted ??= (
      membership === undefined
        ? Promise.resolve().then(() => {
            this.#hasMembers = true;
          })
        : membership.start((peers) => {
            if (this.#leaving !== undefined) return;
            this.setPeers(peers, membership.name);
            this.#hasMembers = true;
          })
    ).then(() => {
      this.#started = true;
    });
    return this.#membershipStarted;
  }

  /**
   * leave begins an orderly exit; `close()` calls it first. In order: the node
   * is no longer ready; it tells every peer on its ring that it is about to
   * leave; it stops answering peers' gets and sets as an owner (they get a
   * "leaving" answer that sends them to the key's next owner) and stops owning
   * keys itself; it tells every peer that it left (each takes it off its
   * routing at once; it waits for each notice at most 2 s); it leaves the
   * membership (etcd: revokes its lease, for those it could not tell: gateways,
   * nodes that joined meanwhile); then it keeps serving peers,
   * who still send it the drops of their writes, and its API for `drainMs`. It
   * resolves when the drain is over. Idempotent.
   */
  leave(): Promise<void> {
    this.#leaving ??= this.#leave();
    return this.#leaving;
  }

  async #leave(): Promise<void> {
    // A node served through a mounted handler tells its peers as one that listens does.
    if (this.#servesPeers) {
      // Each step told to every peer before the next: first that this node is about to
      // leave (each peer then counts its keys as the next owners' when asked for them),
      // then, once all know, that it has left (each peer sends its keys to the next owner
      // from then on). Told in one step, a peer told early could send a key to a next
      // owner not yet told, which would keep what it loads only as a short-lived fallback
      // copy and load it again later. Between the steps this node refuses peers' gets and
      // sets: from the moment a peer sends a key to its next owner, it no longer answers
      // for it as its owner.
      const first = await this.#tell(LEAVE_NOTICE_GROUP);
      this.#served.leave();
      this.#picker.leave();
      const second = await this.#tell(LEFT_NOTICE_GROUP);
      const failed = [...new Set([...first.failed, ...second.failed])];
      this.#log.info(
        { self: this.self, told: second.told - second.failed.length, failed },
        'leaving: peers told',
      );
    }
    // Then the membership: a change there reaches each peer at its own moment, and so
    // would move the keys of this node on each at a different time. With the peers told
    // it tells only those who could not be (gateways, nodes that joined meanwhile).
    if (this.#membership !== undefined && this.#membershipStarted !== undefined) {
      await this.#membershipStarted.catch(() => {});
      await this.#membership.close().catch((err: unknown) => {
        this.#log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'membership close failed',
        );
      });
    }
    if (this.#servesPeers && this.#drainMs > 0) {
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#drainMs));
    }
  }

  /** tell sends every other member one leave notice, waiting for each at most 2 s. */
  async #tell(group: string): Promise<{ told: number; failed: string[] }> {
    const peers = this.#picker.otherPeers();
    const deadline = this.#clock.now() + NOTICE_TIMEOUT_MS;
    const answers = await Promise.allSettled(
      peers.map((p) => p.get(group, this.self, { deadline })),
    );
    const failed = answers.flatMap((r, i) =>
      r.status === 'rejected' ? [peers[i]?.url as string] : [],
    );
    return { told: peers.length, failed };
  }

  /**
   * A peer said it is about to leave (its keys, asked of this node, are the next
   * owners'), or that it left the routing (its keys go to their next owners until
   * it is back).
   */
  #peerLeaving(url: string, step: NoticeStep): void {
    if (step === 'leaving') {
      // The second notice follows within two notice timeouts; if it never comes (the
      // node died in between), the member keeps its keys.
      if (this.#picker.departing(url)) {
        this.#clock.setTimeout(() => this.#picker.stayed(url), 2 * NOTICE_TIMEOUT_MS + 1_000);
      }
      return;
    }
    const client = this.#picker.otherPeers().find((p) => p.url === url);
    const checked = client === undefined ? undefined : healthCheckedOf(client);
    if (checked !== undefined) checked.markLeaving();
    else if (client !== undefined) this.#picker.depart(url);
  }

  /**
   * close shuts the node down gracefully: it leaves (see `leave()`: the
   * membership, its peers told, the drain), stops accepting connections, lets
   * in-flight requests finish (up to `shutdownGraceMs`, then aborts them), and
   * closes peer connections. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.leave();
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
    for (const group of this.#registry.groups()) group.cancelClearRetries();
    await this.transport.close();
    this.#closed = true;
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
