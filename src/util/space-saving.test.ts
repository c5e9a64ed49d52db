// space-saving.test.ts: the heavy-hitters sketch finds the top keys of a skewed stream,
// and its window forgets old keys as the clock moves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seeded } from '../../test/support/seeded.js';
import { SpaceSaving, WindowedHotKeys } from './space-saving.js';

/** zipfStream draws `n` ranks in [0, keys) with P(rank r) ∝ 1 / (r + 1)^s. */
function zipfStream(n: number, keys: number, s: number, seed: number): Uint32Array {
  const cdf = new Float64Array(keys);
  let sum = 0;
  for (let r = 0; r < keys; r++) {
    sum += 1 / (r + 1) ** s;
    cdf[r] = sum;
  }
  const random = seeded(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const u = random() * sum;
    let lo = 0;
    let hi = keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

describe('SpaceSaving', () => {
  it('has the true top 10 of a Zipf(1.1) stream of 1M gets over 100k keys in its top 20', () => {
    const stream = zipfStream(1_000_000, 100_000, 1.1, 42);
    // Keys are named by a scrambled rank, so their names say nothing of their order.
    const name = (rank: number) => `key-${Math.imul(rank + 1, 2654435761) >>> 0}`;
    const truth = new Map<string, number>();
    const sketch = new SpaceSaving(256);
    for (const rank of stream) {
      const key = name(rank);
      truth.set(key, (truth.get(key) ?? 0) + 1);
      sketch.offer(key);
    }
    const trueTop10 = [...truth.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k]) => k);
    const top20 = new Set(sketch.top(20).map((k) => k.key));
    for (const k of trueTop10) assert.ok(top20.has(k), `${k} of the true top 10 is missing`);
    // The counts bound the truth: count - error <= true <= count.
    for (const k of sketch.top(20)) {
      const t = truth.get(k.key) ?? 0;
      assert.ok(k.count >= t && k.count - k.error <= t, `bounds of ${k.key}`);
    }
    assert.equal(sketch.total, 1_000_000);
  });

  it('counts exactly while the keys fit', () => {
    const s = new SpaceSaving(4);
    for (const k of ['a', 'b', 'a', 'c', 'a', 'b']) s.offer(k);
    assert.deepEqual(s.top(2), [
      { key: 'a', count: 3, error: 0 },
      { key: 'b', count: 2, error: 0 },
    ]);
  });

  it('gives a new key the smallest slot, with its count as the error', () => {
    const s = new SpaceSaving(2);
    for (const k of ['a', 'a', 'b', 'c']) s.offer(k);
    assert.deepEqual(s.top(5), [
      { key: 'a', count: 2, error: 0 },
      { key: 'c', count: 2, error: 1 },
    ]);
  });

  it('refuses a capacity below 1', () => {
    assert.throws(() => new SpaceSaving(0), RangeError);
  });
});

describe('WindowedHotKeys', () => {
  it('counts the first offers exactly, then samples and weighs the rest', () => {
    const exact = new WindowedHotKeys({ capacity: 16, sampleEvery: 8, now: () => 0 });
    for (let i = 0; i < 1000; i++) exact.offer(i % 2 === 0 ? 'a' : 'b');
    assert.deepEqual(exact.top(2), [
      { key: 'a', count: 500, error: 0 },
      { key: 'b', count: 500, error: 0 },
    ]);
    const w = new WindowedHotKeys({ capacity: 16, sampleEvery: 8, now: () => 0 });
    for (let i = 0; i < 80_000; i++) w.offer(i % 2 === 0 ? 'a' : 'b');
    const [a, b] = w.top(2);
    assert.deepEqual([a?.key, b?.key].sort(), ['a', 'b']);
    for (const k of [a, b]) {
      assert.ok(k !== undefined && Math.abs(k.count - 40_000) < 2_000, `${k?.key}: ${k?.count}`);
    }
  });

  it('finds the top of a Zipf stream from a sample too', () => {
    const stream = zipfStream(200_000, 10_000, 1.1, 7);
    const w = new WindowedHotKeys({ capacity: 256, now: () => 0 });
    for (const rank of stream) w.offer(`k${rank}`);
    const top = new Set(w.top(20).map((k) => k.key));
    for (let r = 0; r < 5; r++) assert.ok(top.has(`k${r}`), `k${r} of the true top 5`);
  });

  it('calls heavy only the keys asked at least once per capacity gets, over both halves', () => {
    const stream = zipfStream(200_000, 10_000, 1.1, 11);
    let now = 0;
    const w = new WindowedHotKeys({ capacity: 256, windowMs: 1000, now: () => now });
    const counts = new Map<number, number>();
    for (const [i, rank] of stream.entries()) {
      if (i === 100_000) now = 500; // the second half of the stream in the next half window
      w.offer(`k${rank}`);
      counts.set(rank, (counts.get(rank) ?? 0) + 1);
    }
    assert.ok(w.heavy('k0') && w.heavy('k1') && w.heavy('k5'), 'the top keys are heavy');
    for (const [rank, n] of counts) {
      // Sampled counts are estimates: a key well under the share is never called heavy.
      if (n * 256 < stream.length / 2) assert.equal(w.heavy(`k${rank}`), false, `k${rank}`);
    }
    assert.equal(w.heavy('never-asked'), false);
    assert.equal(new WindowedHotKeys({ now: () => 0 }).heavy('k0'), false, 'nothing counted');
  });

  it('keeps the last half window to whole window, and forgets older keys', () => {
    let now = 1_000_000;
    const w = new WindowedHotKeys({
      capacity: 8,
      windowMs: 60_000,
      sampleEvery: 1,
      now: () => now,
    });
    w.offer('old');
    w.offer('old');
    now += 30_000; // the first half rotates into the previous sketch
    w.offer('new');
    assert.deepEqual(
      w.top(5).map((k) => [k.key, k.count]),
      [
        ['old', 2],
        ['new', 1],
      ],
    );
    now += 30_000; // 'old' is now more than a window back
    assert.deepEqual(
      w.top(5).map((k) => [k.key, k.count]),
      [['new', 1]],
    );
    now += 60_000; // idle for a whole window
    assert.deepEqual(w.top(5), []);
  });

  it('sums a key counted in both halves', () => {
    let now = 0;
    const w = new WindowedHotKeys({ capacity: 8, windowMs: 10, sampleEvery: 1, now: () => now });
    w.offer('k');
    now = 5;
    w.offer('k');
    w.offer('j');
    assert.deepEqual(w.top(1), [{ key: 'k', count: 2, error: 0 }]);
  });
});
