// bench-soak.test.ts: the soak benchmark's own arithmetic and checks: the growth fit, and
// the values that let its client tell a right answer from a wrong one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { leastSquaresSlope } from '../bench/support/slope.js';
import {
  isSoakValue,
  loadedValue,
  SOAK_MAX_VALUE_BYTES,
  SOAK_MIN_VALUE_BYTES,
  setValue,
  soakKey,
} from '../bench/support/soak-values.js';

describe('leastSquaresSlope', () => {
  test('is the slope of points on a line, and of a flat series 0', () => {
    const line = [0, 1, 2, 3, 4].map((t) => ({ t, v: 100 + 2.5 * t }));
    assert.ok(Math.abs(leastSquaresSlope(line) - 2.5) < 1e-9);
    assert.equal(leastSquaresSlope([0, 1, 2].map((t) => ({ t, v: 7 }))), 0);
  });

  test('sees through noise that has no trend: a sawtooth around a level', () => {
    const saw = Array.from({ length: 120 }, (_, t) => ({ t, v: 50 + (t % 6) - 2.5 }));
    assert.ok(Math.abs(leastSquaresSlope(saw)) < 0.05);
    const growing = saw.map((p) => ({ t: p.t, v: p.v + 0.5 * p.t }));
    assert.ok(Math.abs(leastSquaresSlope(growing) - 0.5) < 0.05);
  });

  test('is NaN for fewer than two points or a single time', () => {
    assert.ok(Number.isNaN(leastSquaresSlope([])));
    assert.ok(Number.isNaN(leastSquaresSlope([{ t: 1, v: 1 }])));
    assert.ok(
      Number.isNaN(
        leastSquaresSlope([
          { t: 1, v: 1 },
          { t: 1, v: 3 },
        ]),
      ),
    );
  });
});

describe('soak values', () => {
  test('loaded and set values name their key, and span the sizes', () => {
    const sizes = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const key = soakKey(i);
      const loaded = loadedValue(key);
      sizes.add(loaded.length);
      assert.ok(loaded.length >= SOAK_MIN_VALUE_BYTES && loaded.length <= SOAK_MAX_VALUE_BYTES);
      assert.ok(Buffer.from(loaded).toString('latin1').startsWith(`${key}|load|`));
      assert.ok(isSoakValue(key, loaded));
      assert.ok(isSoakValue(key, setValue(key, i * 3)));
    }
    assert.ok(sizes.size > 500, `${sizes.size} distinct sizes`);
  });

  test("another key's value, a truncated or an altered one is refused", () => {
    const key = soakKey(12);
    assert.equal(isSoakValue(key, loadedValue(soakKey(13))), false);
    assert.equal(isSoakValue(key, setValue(soakKey(120), 5)), false);
    assert.equal(isSoakValue(soakKey(1), loadedValue(soakKey(12))), false);
    const set = setValue(key, 42);
    assert.equal(isSoakValue(key, set.subarray(0, set.length - 1)), false);
    const altered = Uint8Array.from(set);
    altered[altered.length - 1] = (altered.at(-1) as number) ^ 1;
    assert.equal(isSoakValue(key, altered), false);
    assert.equal(isSoakValue(key, new Uint8Array(0)), false);
  });
});
