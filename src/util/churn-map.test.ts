// churn-map.test.ts: a ChurnMap behaves as a Map through its renewals (what it does
// for the old generation is measured by bench/churn.bench.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
