// bench-workload.test.ts: the workload benchmark's parts: its stale-read checker, values,
// latency histogram and database, and short runs of its harness on a real peercache
// cluster of three app processes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectWorkloadDb, startWorkloadDb } from '../bench/support/workload-db.js';
import { runWorkload } from '../bench/support/workload-harness.js';
import { LatencyHistogram } from '../bench/support/workload-histogram.js';
import { ReadLog, StaleChecker, type WriteRecord } from '../bench/support/workload-stale.js';
import {
  encodeValue,
  HEAD_CHARS,
  valueVersion,
  WORKLOAD_VALUE_BYTES,
} from '../bench/support/workload-values.js';
import { type AfterHook, cleanupAfter } from './support/process.js';

describe('StaleChecker', () => {
  // Key 7: v2 written from 100 to 200 µs, v3 from 300 to 400 µs.
  const writes: WriteRecord[] = [
    [7, 3, 300, 400],
    [7, 2, 100, 200],
  ];
  const checker = new StaleChecker(writes);

  test('flags a read begun after an acked write that returned an older version', () => {
    assert.equal(checker.verdict(7, 250, 1, false), 'stale');
    assert.equal(checker.verdict(7, 450, 2, false), 'stale');
  });

  test('accepts the written version or a newer one, and reads that overlap the write', () => {
    assert.equal(checker.verdict(7, 250, 2, false), 'fresh');
    assert.equal(checker.verdict(7, 250, 3, true), 'fresh');
    assert.equal(checker.verdict(7, 200, 1, false), 'fresh', 'begun at the ack itself: overlaps');
    assert.equal(checker.verdict(7, 150, 1, false), 'fresh');
    assert.equal(checker.verdict(8, 999, 1, false), 'fresh', 'a key never written');
  });

  test('tells a written value overtaken by an overlapping newer write from other stale reads', () => {
    const overlapping = new StaleChecker([
      [1, 2, 100, 500],
      [1, 3, 200, 300],
    ]);
    assert.equal(overlapping.verdict(1, 600, 2, true), 'reordered');
    assert.equal(overlapping.verdict(1, 600, 2, false), 'stale', 'a loaded value is no write');
    assert.equal(checker.verdict(7, 450, 2, true), 'stale', 'v3 began after v2 was acked');
  });

  test('a ReadLog counts the stale reads it recorded, past its first capacity', () => {
    const log = new ReadLog();
    for (let r = 0; r < 70_000; r++) log.add(7, 450, 3, false);
    log.add(7, 450, 2, true);
    log.add(7, 450, 1, false);
    assert.equal(log.size, 70_002);
    assert.deepEqual(log.countStale(checker), { stale: 2, reordered: 0 });
  });
});

describe('workload values and keys', () => {
  test('a value carries its key, version and source, in 1 KiB', () => {
    const value = encodeValue(42, 9, 'write');
    assert.equal(value.length, WORKLOAD_VALUE_BYTES);
    assert.deepEqual(valueVersion(42, value.length, value.slice(0, HEAD_CHARS)), {
      version: 9,
      written: true,
    });
    const loaded = Buffer.from(encodeValue(42, 3));
    assert.deepEqual(valueVersion(42, loaded.length, loaded.toString('latin1', 0, HEAD_CHARS)), {
      version: 3,
      written: false,
    });
  });

  test("another key's value or a value of the wrong size is refused", () => {
    const value = encodeValue(42, 9);
    assert.throws(() => valueVersion(43, value.length, value.slice(0, HEAD_CHARS)));
    assert.throws(() => valueVersion(42, 100, value.slice(0, HEAD_CHARS)));
  });
});

test('LatencyHistogram percentiles are within 1% of the exact ones, and merge', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) (us % 2 === 0 ? a : b).record(us);
  a.merge(b.counts());
  assert.equal(a.total, 10_000);
  for (const [p, exact] of [
    [50, 5000],
    [99, 9900],
    [99.9, 9990],
  ] as const) {
    const got = a.percentile(p);
    assert.ok(got >= exact && got <= exact * 1.01, `p${p}: ${got} vs ${exact}`);
  }
});

test('the database counts reads per key, repeats within the TTL, and bumps versions on writes', async () => {
  const db = await startWorkloadDb({ keys: 10, delayMs: 0, ttlMs: 60_000 });
  const client = await connectWorkloadDb(db.port);
  try {
    assert.deepEqual(
      await Promise.all([client.read(3), client.read(3), client.read(4)]),
      [1, 1, 1],
    );
    assert.equal(await client.write(3), 2);
    assert.equal(await client.read(3), 2);
    assert.equal(db.readsPerKey()[3], 3);
    assert.equal(db.readsPerKey()[4], 1);
    assert.equal(db.writes(), 1);
    assert.equal(db.repeatReads(), 1, 'the second read of 3; the third came after a write');
  } finally {
    client.close();
    await db.close();
  }
});

/** shortRun runs the harness on the peercache cluster for a fraction of a second. */
async function shortRun(t: AfterHook, options: { keys: number; writeShare: number }) {
  const [r] = await runWorkload({
    systems: ['peercache'],
    registry: cleanupAfter(t),
    inFlight: 16,
    warmupMs: 200,
    rounds: 1,
    roundMs: 300,
    ...options,
  });
  assert.ok(r !== undefined && r.gets > 0 && r.getsPerSec > 0);
  assert.equal(r.errors, 0, r.firstError);
  return r;
}

describe('the workload harness on a peercache cluster of three app processes', () => {
  test('without writes: every key is loaded once in the cluster, and no read is stale', async (t) => {
    const r = await shortRun(t, { keys: 2000, writeShare: 0 });
    assert.ok(r.distinctKeys > 0);
    assert.equal(r.dbReads, r.distinctKeys, 'one database read per key');
    assert.equal(r.repeatReads, 0);
    assert.ok(r.cpuUsPerGet > 0);
    assert.equal(r.readsChecked, r.gets);
    assert.equal(r.stale, 0);
    assert.ok(r.p50Us <= r.p99Us && r.p99Us <= r.p999Us);
    assert.ok(r.rssBytes > 3 * 20 * 2 ** 20, 'RSS of the three processes');
  });

  test('with writes: the only stale reads are of writes overtaken by overlapping ones', async (t) => {
    const r = await shortRun(t, { keys: 50, writeShare: 0.2 });
    assert.ok(r.writes > 0);
    assert.equal(r.stale, r.staleReordered);
  });
});
