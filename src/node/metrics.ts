// metrics.ts: a node's Prometheus metrics (prom-client, one registry per node):
// group and cache stats read at scrape time, peer request latency and errors.
import type { Gauge, Registry } from 'prom-client';
import type { Group } from '../core/group.js';
import { healthOf, type PeerCallObserver, type PeerCallOp } from '../core/peer-health.js';
import type { PeerClient } from '../core/peers.js';
import type { GroupStats } from '../core/stats.js';
import { isCacheError } from '../errors.js';
import { LatencyHistogram, type LatencySeries } from './latency.js';
import { registerProcessMetrics } from './process-metrics.js';

const statNames: Record<keyof GroupStats, string> = {
  gets: 'gets: every get, hits included',
  cacheHits: 'gets answered from the main or hot cache',
  peerLoads: 'values fetched from a peer (the owner, or the fallback owner)',
  peerErrors: 'failed requests to peers',
  loads: 'gets that missed the cache',
  loadsDeduped: 'loads that ran after singleflight deduplication',
  localLoads: 'successful runs of the local loader',
  localLoadErrs: 'failed runs of the local loader',
  serverRequests: 'gets that came from other peers',
  staleHits:
    'gets answered with a value past its expiry (within graceMs) because reloading it failed',
  refreshes: 'background reloads started by hits near expiry (refreshAhead)',
};

/** The labels of one series of the peer error counter. */
interface ErrorLabels {
  peer: string;
  op: PeerCallOp;
  code: string;
}

/** healthGauge registers `peercache_peer_healthy{peer}` in `reg`, reading `peers` at scrape time. */
function healthGauge(
  GaugeClass: typeof Gauge,
  reg: Registry,
  peers: () => Iterable<PeerClient>,
): void {
  new GaugeClass({
    name: 'peercache_peer_healthy',
    help: 'Whether a peer is used (1) or avoided, its keys sent to their fallback owners, because it stopped answering (0).',
    labelNames: ['peer'],
    registers: [reg],
    collect() {
      this.reset();
      for (const client of peers()) {
        this.set({ peer: client.url }, (healthOf(client)?.healthy ?? true) ? 1 : 0);
      }
    },
  });
}

const ops = ['get', 'set', 'remove'] as const satisfies readonly PeerCallOp[];
const outcomes = ['ok', 'not_found', 'error'] as const;
type Outcome = (typeof outcomes)[number];

/** slotOf is the index of an (operation, outcome) pair in {@link PeerSeries.latency}. */
function slotOf(op: PeerCallOp, outcome: Outcome): number {
  return ops.indexOf(op) * outcomes.length + outcomes.indexOf(outcome);
}

/** PeerSeries is every series of one peer, shared by the observers of it. */
interface PeerSeries {
  /**
   * The latency series by operation and outcome (see {@link slotOf}), each made
   * on its first observation: a peer never asked costs no series, which at a
   * thousand peers is most of what a node holds per peer.
   */
  readonly latency: (LatencySeries | undefined)[];
  /** The (op, code) pairs of the error counter's series, to remove them with the peer. */
  readonly errorLabels: Map<string, { op: PeerCallOp; code: string }>;
  /** How many observers of the peer are still open. */
  observers: number;
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Resolves prom-client from this module, when a registry is first asked for
 * (node:module itself is loaded then too, not with the core entry).
 */
const requireHere = (id: string): unknown =>
  process.getBuiltinModule('node:module').createRequire(import.meta.url)(id);

/**
 * NodeMetrics owns a prom-client Registry for one node. Group counters are
 * read from the groups when scraped; the observer of each peer's client (see
 * `observer`) records each request's latency and outcome. prom-client is loaded, and the
 * registry built, when `registry` is first read: until then the counts are kept
 * here, so a node nobody scrapes (a local cache) never loads it.
 */
export class NodeMetrics {
  readonly #groups: () => Iterable<Group>;
  #registry: Registry | undefined;
  readonly #latency: LatencyHistogram<'peer' | 'op' | 'outcome'>;
  readonly #groupLatency: LatencyHistogram<'group'>;
  /** Each group's series of {@link #groupLatency}, looked up once. */
  readonly #byGroup = new Map<string, LatencySeries>();
  /** Failed requests by `peer op code`, read by the error counter at scrape time. */
  readonly #errors = new Map<string, { labels: ErrorLabels; count: number }>();
  #members = 0;
  /** Membership updates by source. */
  readonly #changes = new Map<string, number>();
  #healthOf: (() => Iterable<PeerClient>) | undefined;
  readonly #peers = new Map<string, PeerSeries>();

  constructor(groups: () => Iterable<Group>) {
    this.#groups = groups;
    // The same gets by group, for each group's quantiles (the stats call); not exported.
    this.#groupLatency = new LatencyHistogram({
      name: 'peercache_group_peer_get_duration_seconds',
      help: 'Latency of gets from peers, by group.',
      labelNames: ['group'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [],
    });
    this.#latency = new LatencyHistogram({
      name: 'peercache_peer_request_duration_seconds',
      help: 'Latency of requests to peers, by peer, operation and outcome.',
      labelNames: ['peer', 'op', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [],
    });
  }

  /** #groupSeries is the latency series of `group`'s gets from peers, made on first use. */
  #groupSeries(group: string): LatencySeries {
    let series = this.#byGroup.get(group);
    if (series === undefined) {
      series = this.#groupLatency.series({ group });
      this.#byGroup.set(group, series);
    }
    return series;
  }

  /**
   * peerGetLatency is the median and 99th percentile, in ms, of this node's
   * gets from peers since it started (every peer and outcome, estimated from
   * the latency histogram's buckets), and how many there were; with `group`,
   * only the gets of that group.
   */
  peerGetLatency(group?: string): { count: number; p50Ms: number | null; p99Ms: number | null } {
    const { count, values } =
      group === undefined
        ? this.#latency.quantiles((l) => l.op === 'get', [0.5, 0.99])
        : this.#groupLatency.quantiles((l) => l.group === group, [0.5, 0.99]);
    const ms = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 1000);
    return { count, p50Ms: ms(values[0]), p99Ms: ms(values[1]) };
  }

  /** The prom-client registry; `registry.metrics()` renders the text format. Built on first read. */
  get registry(): Registry {
    if (this.#registry === undefined) {
      this.#registry = this.#build(requireHere('prom-client') as typeof import('prom-client'));
    }
    return this.#registry;
  }

  /** #build makes the registry and its metrics, each reading its values here at scrape time. */
  #build({ Counter, Gauge, Registry }: typeof import('prom-client')): Registry {
    const reg = new Registry();
    const groups = this.#groups;
    for (const [stat, help] of Object.entries(statNames) as [keyof GroupStats, string][]) {
      new Counter({
        name: `peercache_group_${snake(stat)}_total`,
        help: `Group ${help}.`,
        labelNames: ['group'],
        registers: [reg],
        collect() {
          this.reset();
          for (const g of groups()) this.inc({ group: g.name }, g.stats[stat]);
        },
      });
    }
    const cacheGauge = (name: string, help: string, pick: 'bytes' | 'items') =>
      new Gauge({
        name,
        help,
        labelNames: ['group', 'cache'],
        registers: [reg],
        collect() {
          this.reset();
          for (const g of groups()) {
            for (const which of ['main', 'hot'] as const) {
              this.set({ group: g.name, cache: which }, g.cacheStats(which)[pick]);
            }
          }
        },
      });
    cacheGauge('peercache_cache_bytes', 'Bytes held by a cache (keys + values).', 'bytes');
    cacheGauge('peercache_cache_items', 'Entries held by a cache.', 'items');
    for (const stat of ['gets', 'hits', 'evictions'] as const) {
      new Counter({
        name: `peercache_cache_${stat}_total`,
        help: `Cache ${stat}.`,
        labelNames: ['group', 'cache'],
        registers: [reg],
        collect() {
          this.reset();
          for (const g of groups()) {
            for (const which of ['main', 'hot'] as const) {
              this.inc({ group: g.name, cache: which }, g.cacheStats(which)[stat]);
            }
          }
        },
      });
    }
    reg.registerMetric(this.#latency as never);
    const errors = this.#errors;
    new Counter({
      name: 'peercache_peer_request_errors_total',
      help: 'Failed requests to peers, by peer, operation and error code.',
      labelNames: ['peer', 'op', 'code'],
      registers: [reg],
      collect() {
        this.reset();
        for (const { labels, count } of errors.values()) this.inc(labels, count);
      },
    });
    const members = () => this.#members;
    new Gauge({
      name: 'peercache_ring_members',
      help: 'Members of the ring, this node included.',
      registers: [reg],
      collect() {
        this.set(members());
      },
    });
    const changes = this.#changes;
    new Counter({
      name: 'peercache_membership_changes_total',
      help: 'Membership updates applied to the ring, by source.',
      labelNames: ['source'],
      registers: [reg],
      collect() {
        this.reset();
        for (const [source, count] of changes) this.inc({ source }, count);
      },
    });
    registerProcessMetrics(Gauge, reg);
    const health = this.#healthOf;
    if (health !== undefined) healthGauge(Gauge, reg, health);
    return reg;
  }

  /** membership records that the ring now has `members` members, changed by `source`. */
  membership(members: number, source: string): void {
    this.#members = members;
    this.#changes.set(source, (this.#changes.get(source) ?? 0) + 1);
  }

  /**
   * peerHealth registers the gauge `peercache_peer_healthy{peer}`: 0 while a
   * peer is avoided because it stopped answering, else 1 (a peer not asked yet
   * counts as healthy). It reads `peers` at scrape time, so a peer that left the
   * ring leaves the gauge with it.
   */
  peerHealth(peers: () => Iterable<PeerClient>): void {
    this.#healthOf = peers;
    if (this.#registry !== undefined) {
      const { Gauge } = requireHere('prom-client') as typeof import('prom-client');
      healthGauge(Gauge, this.#registry, peers);
    }
  }

  /**
   * observer times every request a peer's {@link HealthCheckedPeer} sends and counts
   * its failures, under the peer's URL (see its `observer` option). Its `close()`
   * removes the peer's series (once every observer of the peer is closed): a peer
   * that left leaves nothing behind in the registry.
   */
  observer(peer: string): PeerCallObserver & { close(): void } {
    const series = this.#seriesOf(peer);
    const observe = (op: PeerCallOp, outcome: Outcome, seconds: number) => {
      const slot = slotOf(op, outcome);
      let latency = series.latency[slot];
      if (latency === undefined) {
        // A request that ends after its peer's series were removed would bring one back.
        if (this.#peers.get(peer) !== series) return;
        latency = this.#latency.series({ peer, op, outcome });
        series.latency[slot] = latency;
      }
      latency.observe(seconds);
    };
    let closed = false;
    return {
      start: () => performance.now(),
      answered: (op, group, started) => {
        const seconds = (performance.now() - started) / 1000;
        observe(op, 'ok', seconds);
        if (op === 'get') this.#groupSeries(group).observe(seconds);
      },
      failed: (op, group, started, err) => {
        const seconds = (performance.now() - started) / 1000;
        if (op === 'get') this.#groupSeries(group).observe(seconds);
        const code = isCacheError(err) ? err.code : 'INTERNAL';
        if (code === 'NOT_FOUND') {
          observe(op, 'not_found', seconds);
          return;
        }
        observe(op, 'error', seconds);
        // A request that ends after its peer's series were removed would bring one back.
        if (this.#peers.get(peer) !== series) return;
        const key = `${op} ${code}`;
        if (!series.errorLabels.has(key)) series.errorLabels.set(key, { op, code });
        const counted = this.#errors.get(`${peer} ${key}`);
        if (counted !== undefined) counted.count++;
        else this.#errors.set(`${peer} ${key}`, { labels: { peer, op, code }, count: 1 });
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.#release(peer, series);
      },
    };
  }

  /** #seriesOf returns the series of `peer`, made on first use, counting one more observer of it. */
  #seriesOf(peer: string): PeerSeries {
    let series = this.#peers.get(peer);
    if (series === undefined) {
      series = {
        latency: new Array(ops.length * outcomes.length).fill(undefined),
        errorLabels: new Map(),
        observers: 0,
      };
      this.#peers.set(peer, series);
    }
    series.observers++;
    return series;
  }

  /** #release counts one observer of `peer` closed; with the last one, the peer's series go. */
  #release(peer: string, series: PeerSeries): void {
    series.observers--;
    if (series.observers > 0 || this.#peers.get(peer) !== series) return;
    this.#peers.delete(peer);
    for (const op of ops) {
      for (const outcome of outcomes) {
        if (series.latency[slotOf(op, outcome)] !== undefined) {
          this.#latency.remove({ peer, op, outcome });
        }
      }
    }
    for (const { op, code } of series.errorLabels.values())
      this.#errors.delete(`${peer} ${op} ${code}`);
  }
}
