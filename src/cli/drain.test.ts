// drain.test.ts: the drain ends once the API has gone quiet, or at --drain-ms, on a fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import { drain } from './drain.js';

function watch(p: Promise<void>): { done: boolean } {
  const state = { done: false };
  void p.then(() => {
    state.done = true;
  });
  return state;
}

test('the drain ends once no request has come or run for the quiet period', async () => {
  const clock = new ManualClock(1_000_000);
  const activity = { lastRequestAt: clock.now(), inFlight: 1 };
  const d = watch(drain(activity, 5_000, clock, 1_000));
  await clock.advance(1_500);
  assert.equal(d.done, false, 'a request still runs');
  activity.inFlight = 0;
  activity.lastRequestAt = clock.now();
  await clock.advance(999);
  assert.equal(d.done, false);
  await clock.advance(1);
  assert.equal(d.done, true);
});

test('the drain ends at its limit however busy the API stays', async () => {
  const clock = new ManualClock(1_000_000);
  const activity = { lastRequestAt: clock.now(), inFlight: 3 };
  const d = watch(drain(activity, 2_000, clock, 1_000));
  await clock.advance(1_999);
  assert.equal(d.done, false);
  await clock.advance(1);
  assert.equal(d.done, true);
});

test('no API: the quiet period; --drain-ms 0: no drain', async () => {
  const clock = new ManualClock(1_000_000);
  const d = watch(drain(undefined, 5_000, clock, 1_000));
  await clock.advance(999);
  assert.equal(d.done, false);
  await clock.advance(1);
  assert.equal(d.done, true);
  const none = watch(drain({ lastRequestAt: clock.now(), inFlight: 5 }, 0, clock));
  await settle();
  assert.equal(none.done, true);
});
