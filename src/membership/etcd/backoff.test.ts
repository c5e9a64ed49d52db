// backoff.test.ts: retry delays double within their bounds, with jitter, and reset.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, pause } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the minimum to the maximum, each delay in the upper half of its step', () => {
    const top = new Backoff(100, 1000, () => 1);
    assert.deepEqual(
      Array.from({ length: 6 }, () => top.next()),
      [100, 200, 400, 800, 1000, 1000],
    );
    const bottom = new Backoff(100, 1000, () => 0);
    assert.deepEqual(
      Array.from({ length: 6 }, () => bottom.next()),
      [50, 100, 200, 400, 500, 500],
    );
  });

  it('starts over after reset', () => {
    const b = new Backoff(10, 80, () => 1);
    b.next();
    b.next();
    b.next();
    b.reset();
    assert.equal(b.next(), 10);
  });

  it('pause ends early when its signal aborts', async () => {
    const stop = new AbortController();
    const t0 = Date.now();
    const p = pause(60_000, stop.signal);
    stop.abort();
    await p;
    assert.ok(Date.now() - t0 < 1000);
    await pause(60_000, stop.signal); // already aborted: at once
  });
});
