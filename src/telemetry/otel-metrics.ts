// otel-metrics.ts: a node's group and cache counters as OpenTelemetry instruments, under the
// names groupcache-go v3 gives them, read from the groups at each collection.
import {
  type Attributes,
  type Meter,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api';
import type { Group } from '../core/group.js';
import type { CacheType, GroupStats } from '../core/stats.js';

/** The instrumentation scope's name, as an OpenTelemetry meter is named. */
export const INSTRUMENTATION_NAME = 'peercache';

/** GroupSource is what the metrics read: a CacheNode or a GroupRegistry. */
export interface GroupSource {
  groups(): Group[];
}

/** OtelMetricsOptions configure {@link registerOtelMetrics}. */
export interface OtelMetricsOptions {
  /** meterProvider makes the meter. Default: the global one of `@opentelemetry/api`. */
  meterProvider?: MeterProvider | undefined;
}

/** OtelMetrics is a registration of {@link registerOtelMetrics}; `close()` stops reporting. */
export interface OtelMetrics {
  close(): void;
}

/** The group counters, each groupcache-go's instrument name, with the GroupStats field it reads. */
const GROUP_COUNTERS: Array<[string, keyof GroupStats, string]> = [
  ['groupcache.group.gets', 'gets', 'Total get requests for the group'],
  ['groupcache.group.cache_hits', 'cacheHits', 'Total successful cache hits'],
  ['groupcache.group.peer.loads', 'peerLoads', 'Total successful loads from peers'],
  ['groupcache.group.peer.errors', 'peerErrors', 'Total failed loads from peers'],
  ['groupcache.group.loads', 'loads', 'Total loads after cache miss'],
  ['groupcache.group.loads.deduped', 'loadsDeduped', 'Total loads after singleflight'],
  ['groupcache.group.local.loads', 'localLoads', 'Total successful local loads'],
  ['groupcache.group.local.load_errors', 'localLoadErrs', 'Total failed local loads'],
];

const CACHE_TYPES: CacheType[] = ['main', 'hot'];

/**
 * registerOtelMetrics reports the groups of `source` (a node) through OpenTelemetry, under
 * groupcache-go v3's instrument names: the group counters (`groupcache.group.gets`,
 * `groupcache.group.cache_hits`, `groupcache.group.peer.loads`, ... with attribute
 * `group.name`) and the cache figures (`groupcache.cache.bytes`, `.items`, `.gets`,
 * `.hits`, `.evictions`, with `group.name` and `cache.type` = `main` or `hot`). They are
 * observable instruments: read from the groups at each collection, nothing on the
 * request path. The Prometheus registry of the node is unaffected.
 */
export function registerOtelMetrics(
  source: GroupSource,
  options: OtelMetricsOptions = {},
): OtelMetrics {
  const meter: Meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(
    INSTRUMENTATION_NAME,
  );
  const groupCounters = GROUP_COUNTERS.map(
    ([name, stat, description]) =>
      [meter.createObservableCounter(name, { description }), stat] as const,
  );
  const bytes = meter.createObservableUpDownCounter('groupcache.cache.bytes', {
    description: 'Number of bytes in cache',
    unit: 'By',
  });
  const items = meter.createObservableUpDownCounter('groupcache.cache.items', {
    description: 'Number of items in cache',
  });
  const gets = meter.createObservableCounter('groupcache.cache.gets', {
    description: 'Total get requests',
  });
  const hits = meter.createObservableCounter('groupcache.cache.hits', {
    description: 'Total successful cache hits',
  });
  const evictions = meter.createObservableCounter('groupcache.cache.evictions', {
    description: 'Total number of evictions',
  });
  const observables: Observable[] = [
    ...groupCounters.map(([c]) => c),
    bytes,
    items,
    gets,
    hits,
    evictions,
  ];
  const callback = (result: {
    observe(o: Observable, value: number, attributes?: Attributes): void;
  }): void => {
    for (const group of source.groups()) {
      const stats = group.stats;
      const attributes = { 'group.name': group.name };
      for (const [counter, stat] of groupCounters) result.observe(counter, stats[stat], attributes);
      for (const type of CACHE_TYPES) {
        const c = group.cacheStats(type);
        const a = { 'group.name': group.name, 'cache.type': type };
        result.observe(bytes, c.bytes, a);
        result.observe(items, c.items, a);
        result.observe(gets, c.gets, a);
        result.observe(hits, c.hits, a);
        result.observe(evictions, c.evictions, a);
      }
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return {
    close: () => meter.removeBatchObservableCallback(callback, observables),
  };
}
