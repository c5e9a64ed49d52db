// sweep-timer.test.ts: one timer serves many deadlines: it fires for the earliest,
// sweeps, re-arms for what is left, and holds the process only while asked to.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ManualClock } from '../../test/support/manual-clock.js';
import { SweepTimer } from './sweep-timer.js';

test('fires for the earliest deadline, then for the next one the sweep returns', async () => {
  const clock = new ManualClock();
  const deadlines = new Set<number>();
  const swept: { at: number; due: number[] }[] = [];
  const timer = new SweepTimer((now) => {
    const due = [...deadlines].filter((d) => d <= now);
    for (const d of due) deadlines.delete(d);
    swept.push({ at: now, due });
    return Math.min(...deadlines);
  }, clock);
  const t0 = clock.now();
  for (const d of [t0 + 120, t0 + 40]) {
    deadlines.add(d);
    timer.schedule(d);
  }
  await clock.advance(39);
  assert.deepEqual(swept, [], 'nothing is due before the earliest deadline');
  await clock.advance(1);
  assert.deepEqual(
    swept,
    [{ at: t0 + 40, due: [t0 + 40] }],
    'the later deadline scheduled first did not delay the earlier',
  );
  await clock.advance(80);
  assert.deepEqual(swept, [
    { at: t0 + 40, due: [t0 + 40] },
    { at: t0 + 120, due: [t0 + 120] },
  ]);
  assert.equal(clock.pending, 0, 'nothing left: no timer armed');
  timer.stop();
});

test('one timer for many deadlines that arrive in order', () => {
  const clock = new ManualClock();
  const setSpy = mock.method(clock, 'setTimeout');
  const timer = new SweepTimer(() => Number.POSITIVE_INFINITY, clock);
  const t0 = clock.now();
  for (let i = 0; i < 100; i++) timer.schedule(t0 + 30_000 + i);
  assert.equal(setSpy.mock.callCount(), 1);
  assert.equal(clock.pending, 1);
  timer.schedule(t0 + 10_000);
  assert.equal(setSpy.mock.callCount(), 2, 'an earlier deadline re-arms');
  assert.equal(clock.pending, 1, 'the later timer was cleared');
  assert.equal(clock.nextAt, t0 + 10_000);
  timer.stop();
  assert.equal(clock.pending, 0);
  timer.schedule(t0 + 1);
  assert.equal(setSpy.mock.callCount(), 2, 'stopped: schedules are ignored');
});

test('holds the process open only while told requests are pending', () => {
  const setSpy = mock.method(globalThis, 'setTimeout');
  try {
    const timer = new SweepTimer(() => Number.POSITIVE_INFINITY);
    timer.schedule(Date.now() + 60_000);
    const handle = setSpy.mock.calls[0]!.result as NodeJS.Timeout;
    assert.equal(handle.hasRef(), true);
    timer.hold(false);
    assert.equal(handle.hasRef(), false);
    timer.hold(true);
    assert.equal(handle.hasRef(), true);
    timer.stop();
  } finally {
    setSpy.mock.restore();
  }
});
