// process-metrics.test.ts: a node's /metrics text carries the process's memory gauges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { createNode } from '../index.js';
import { registerProcessMetrics } from './process-metrics.js';

/** gauge reads the value of the unlabelled metric `name` from Prometheus text. */
function gauge(text: string, name: string): number {
  const line = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  assert.ok(line, `${name} in:\n${text}`);
  return Number(line[1]);
}

test('registerProcessMetrics reports the memory of this process when scraped', async () => {
  const registry = new Registry();
  registerProcessMetrics(Gauge, registry);
  const text = await registry.metrics();
  const rss = gauge(text, 'process_resident_memory_bytes');
  const total = gauge(text, 'nodejs_heap_size_total_bytes');
  const used = gauge(text, 'nodejs_heap_size_used_bytes');
  gauge(text, 'nodejs_external_memory_bytes');
  assert.ok(used > 0 && used <= total, `heap used ${used} of ${total}`);
  assert.ok(total < rss, `heap ${total} within the resident set ${rss}`);
  // Read afresh at each scrape: some 20 MB kept alive shows in the next one.
  const keep = new Array(1 << 20).fill(0).map((_, i) => ({ i }));
  const after = gauge(await registry.metrics(), 'nodejs_heap_size_used_bytes');
  assert.ok(after > used + 8_000_000, `heap used ${used} then ${after}`);
  assert.equal(keep.length, 1 << 20);
});

test("a node's registry has the memory gauges, and two nodes in one process each have theirs", async () => {
  const a = createNode();
  const b = createNode();
  try {
    for (const node of [a, b]) {
      const text = await node.metrics.registry.metrics();
      assert.ok(gauge(text, 'nodejs_heap_size_used_bytes') > 0);
      assert.ok(gauge(text, 'process_resident_memory_bytes') > 0);
    }
  } finally {
    await a.close();
    await b.close();
  }
});
