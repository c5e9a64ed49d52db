// churn-map.test.ts: a ChurnMap behaves as a Map through its renewals, and a table
// churned through it does not drag its dead entries into the old generation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChurnMap } from './churn-map.js';

test('answers as a Map does, in insertion order, across many renewals', () => {
  const map = new Map<number, string>();
  const churn = new ChurnMap<number, string>();
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let step = 0; step < 20_000; step++) {
    const key = Math.floor(random() * 200);
    if (random() < 0.5) {
      map.set(key, `v${step}`);
      assert.equal(churn.set(key, `v${step}`), churn);
    } else {
      assert.equal(churn.delete(key), map.delete(key), `delete ${key} at step ${step}`);
    }
    assert.equal(churn.size, map.size);
    assert.equal(churn.get(key), map.get(key));
    assert.equal(churn.has(key), map.has(key));
    if (step % 997 === 0) {
      assert.deepEqual([...churn], [...map]);
      assert.deepEqual([...churn.values()], [...map.values()]);
    }
  }
  churn.clear();
  assert.equal(churn.size, 0);
  assert.deepEqual([...churn], []);
  assert.equal(churn.get(1), undefined);
});

test('entries that came and went stay out of the old generation', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;
  const oldSpace = () =>
    getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
  const entry = (i: number) => ({ id: i, payload: new Array<number>(16).fill(i) });

  // What one entry costs, measured by keeping a sample of them.
  gc();
  const bare = process.memoryUsage().heapUsed;
  const sample = Array.from({ length: 10_000 }, (_, i) => entry(i));
  gc();
  const entryBytes = (process.memoryUsage().heapUsed - bare) / sample.length;
  assert.ok(entryBytes > 0 && sample.length === 10_000);

  // A table with 64 entries in flight, turned over 100,000 times with young collections
  // in between, as a busy connection's requests are; the table itself is old.
  const table = new ChurnMap<number, unknown>();
  gc();
  gc();
  const before = oldSpace();
  const rounds = 200;
  const perRound = 500;
  let id = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) {
      table.set(id, entry(id));
      if (id >= 64) table.delete(id - 64);
      id++;
    }
    gc({ type: 'minor' });
  }
  const promoted = oldSpace() - before;
  const churned = rounds * perRound * entryBytes;
  // Only what is alive at a collection may be promoted: 64 of every 500 entries.
  assert.ok(
    promoted < churned / 4,
    `old space grew by ${promoted} bytes for ${Math.round(churned)} bytes of entries churned`,
  );
  assert.equal(table.size, 64);
});
