// metrics.ts: a node's Prometheus metrics (prom-client, one registry per node):
// group and cache stats read at scrape time, peer request latency and errors.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Group } from '../core/group.js';
import type { PeerClient } from '../core/peers.js';
import type { GroupStats } from '../core/stats.js';
import { isCacheError } from '../errors.js';
import { LatencyHistogram, type LatencySeries } from './latency.js';
import { registerProcessMetrics } from './process-metrics.js';

const statNames: Record<keyof GroupStats, string> = {
  gets: 'gets: every get, hits included',
  cacheHits: 'gets answered from the main or hot cache',
  peerLoads: 'values fetched from the owner peer',
  peerErrors: 'failed requests to peers',
  loads: 'gets that missed the cache',
  loadsDeduped: 'loads that ran after singleflight deduplication',
  localLoads: 'successful runs of the local loader',
  localLoadErrs: 'failed runs of the local loader',
  serverRequests: 'gets that came from other peers',
};

type PeerOp = 'get' | 'set' | 'remove';

/** The latency series of one operation to one peer, by outcome. */
interface OpSeries {
  ok: LatencySeries;
  notFound: LatencySeries;
  error: LatencySeries;
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * NodeMetrics owns a prom-client Registry for one node. Group counters are
 * read from the groups when scraped; peer clients wrapped by `instrument`
 * record each request's latency and outcome.
 */
export class NodeMetrics {
  /** The prom-client registry; `registry.metrics()` renders the text format. */
  readonly registry = new Registry();
  readonly #latency: LatencyHistogram<'peer' | 'op' | 'outcome'>;
  readonly #errors: Counter<'peer' | 'op' | 'code'>;
  readonly #members: Gauge;
  readonly #ops = new Map<string, OpSeries>();
  readonly #changes: Counter<'source'>;

  constructor(groups: () => Iterable<Group>) {
    const reg = this.registry;
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
    this.#latency = new LatencyHistogram({
      name: 'peercache_peer_request_duration_seconds',
      help: 'Latency of requests to peers, by peer, operation and outcome.',
      labelNames: ['peer', 'op', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [reg],
    });
    this.#errors = new Counter({
      name: 'peercache_peer_request_errors_total',
      help: 'Failed requests to peers, by peer, operation and error code.',
      labelNames: ['peer', 'op', 'code'],
      registers: [reg],
    });
    this.#members = new Gauge({
      name: 'peercache_ring_members',
      help: 'Members of the ring, this node included.',
      registers: [reg],
    });
    this.#changes = new Counter({
      name: 'peercache_membership_changes_total',
      help: 'Membership updates applied to the ring, by source.',
      labelNames: ['source'],
      registers: [reg],
    });
    registerProcessMetrics(reg);
  }

  /** membership records that the ring now has `members` members, changed by `source`. */
  membership(members: number, source: string): void {
    this.#members.set(members);
    this.#changes.inc({ source });
  }

  /** instrument wraps `client` so that every request is timed and its failures counted. */
  instrument(client: PeerClient): PeerClient {
    const peer = client.url;
    const ops: Record<PeerOp, OpSeries> = {
      get: this.#seriesOf(peer, 'get'),
      set: this.#seriesOf(peer, 'set'),
      remove: this.#seriesOf(peer, 'remove'),
    };
    const timed = <T>(op: PeerOp, request: Promise<T>, started: number): Promise<T> => {
      const series = ops[op];
      return request.then(
        (out) => {
          series.ok.observe((performance.now() - started) / 1000);
          return out;
        },
        (err: unknown) => {
          const seconds = (performance.now() - started) / 1000;
          const code = isCacheError(err) ? err.code : 'INTERNAL';
          if (code === 'NOT_FOUND') {
            series.notFound.observe(seconds);
          } else {
            series.error.observe(seconds);
            this.#errors.inc({ peer, op, code });
          }
          throw err;
        },
      );
    };
    return {
      url: peer,
      get: (group, key, options) =>
        timed('get', client.get(group, key, options), performance.now()),
      set: (group, key, value, expireAt, options) =>
        timed('set', client.set(group, key, value, expireAt, options), performance.now()),
      remove: (group, key, options) =>
        timed('remove', client.remove(group, key, options), performance.now()),
    };
  }

  /** #seriesOf returns the latency series of `op` to `peer`, one per outcome. */
  #seriesOf(peer: string, op: PeerOp): OpSeries {
    const key = `${op} ${peer}`;
    let series = this.#ops.get(key);
    if (series === undefined) {
      const of = (outcome: string) => this.#latency.series({ peer, op, outcome });
      series = { ok: of('ok'), notFound: of('not_found'), error: of('error') };
      this.#ops.set(key, series);
    }
    return series;
  }
}
