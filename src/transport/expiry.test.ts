// wire.test.ts: tests the conversion of expiry times between milliseconds and wire nanoseconds.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expireAtFromNanos, nanosFromExpireAt } from './expiry.js';

describe('expire conversion', () => {
  it('keeps 0 as never, both ways', () => {
    assert.equal(nanosFromExpireAt(0), 0n);
    assert.equal(expireAtFromNanos(0n), 0);
  });

  it('converts milliseconds to nanoseconds and back', () => {
    const ms = 1_700_000_000_123;
    assert.equal(nanosFromExpireAt(ms), 1_700_000_000_123_000_000n);
    assert.equal(expireAtFromNanos(nanosFromExpireAt(ms)), ms);
  });

  it('rounds nanoseconds down to the millisecond', () => {
    assert.equal(expireAtFromNanos(1_700_000_000_123_999_999n), 1_700_000_000_123);
    assert.equal(nanosFromExpireAt(1_700_000_000_123.9), 1_700_000_000_123_000_000n);
  });

  it('never turns a past expiry into "never"', () => {
    assert.equal(expireAtFromNanos(5n), 1);
    assert.equal(expireAtFromNanos(-1_000_000_000n), 1);
    assert.equal(nanosFromExpireAt(0.5), 1_000_000n);
    assert.equal(nanosFromExpireAt(-10), 1_000_000n);
  });

  it('treats non-finite as never', () => {
    assert.equal(nanosFromExpireAt(Number.POSITIVE_INFINITY), 0n);
    assert.equal(nanosFromExpireAt(Number.NaN), 0n);
  });
});
