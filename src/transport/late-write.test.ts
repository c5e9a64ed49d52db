// late-write.test.ts: lateWrite refuses a write whose deadline has passed, and only that.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCacheError } from '../errors.js';
import { lateWrite } from './late-write.js';

test('a write without a deadline, or before it, is in time', () => {
  assert.equal(lateWrite('set', undefined, 1_000), undefined);
  assert.equal(lateWrite('remove', 1_001, 1_000), undefined);
});

test('a write at or past its deadline is DEADLINE_EXCEEDED and says so', () => {
  for (const [deadline, now] of [
    [1_000, 1_000],
    [1_000, 1_250],
  ] as const) {
    const err = lateWrite('set', deadline, now);
    assert.ok(isCacheError(err, 'DEADLINE_EXCEEDED'), `deadline ${deadline}, now ${now}`);
    assert.match(err.message, new RegExp(`set arrived ${now - deadline} ms past its deadline`));
  }
  assert.match(lateWrite('remove', 5, 6)?.message ?? '', /remove arrived 1 ms past/);
});
