// otel-metrics.test.ts: a node's group and cache counters read through OpenTelemetry's SDK,
// under groupcache-go's instrument names and attributes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { GroupRegistry } from '../core/registry.js';
import { registerOtelMetrics } from './otel-metrics.js';

async function collect(provider: MeterProvider, reader: PeriodicExportingMetricReader) {
  const { resourceMetrics } = await reader.collect();
  const points = new Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) {
      points.set(
        m.descriptor.name,
        m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
      );
    }
  }
  void provider;
  return points;
}

describe('registerOtelMetrics', () => {
  test('reports every group under groupcache-go names, read at collection', async () => {
    const registry = new GroupRegistry();
    const users = registry.newGroup('users', { cacheBytes: 1 << 20, load: (k) => `v:${k}` });
    registry.newGroup('empty', { cacheBytes: 1 << 20, load: () => null });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const provider = new MeterProvider({ readers: [reader] });
    const handle = registerOtelMetrics(registry, { meterProvider: provider });

    await users.get('a');
    await users.get('a');
    await users.get('b');
    const points = await collect(provider, reader);
    const of = (name: string, attrs: Record<string, string>) =>
      points.get(name)?.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
        ?.value;
    assert.equal(of('groupcache.group.gets', { 'group.name': 'users' }), 3);
    assert.equal(of('groupcache.group.cache_hits', { 'group.name': 'users' }), 1);
    assert.equal(of('groupcache.group.local.loads', { 'group.name': 'users' }), 2);
    assert.equal(of('groupcache.group.gets', { 'group.name': 'empty' }), 0);
    assert.equal(of('groupcache.cache.items', { 'group.name': 'users', 'cache.type': 'main' }), 2);
    assert.equal(of('groupcache.cache.items', { 'group.name': 'users', 'cache.type': 'hot' }), 0);
    assert.ok(
      (of('groupcache.cache.bytes', { 'group.name': 'users', 'cache.type': 'main' }) as number) > 0,
    );
    for (const name of [
      'groupcache.group.peer.loads',
      'groupcache.group.peer.errors',
      'groupcache.group.loads',
      'groupcache.group.loads.deduped',
      'groupcache.group.local.load_errors',
      'groupcache.cache.gets',
      'groupcache.cache.hits',
      'groupcache.cache.evictions',
    ]) {
      assert.ok(points.has(name), name);
    }

    // Later collections read the groups again; after close() they no longer do.
    await users.get('c');
    assert.equal(
      (await collect(provider, reader))
        .get('groupcache.group.gets')
        ?.find((p) => p.attributes['group.name'] === 'users')?.value,
      4,
    );
    handle.close();
    await users.get('d');
    const after = (await collect(provider, reader)).get('groupcache.group.gets');
    assert.notEqual(
      after?.find((p) => p.attributes['group.name'] === 'users')?.value,
      5,
      'no longer read after close',
    );
    await provider.shutdown();
  });
});
