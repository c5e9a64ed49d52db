// sweep-timer.test.ts: one timer serves many deadlines: it fires for the earliest,
// sweeps, re-arms for what is left, and holds the process only while asked to.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { SweepTimer } from './sweep-timer.js';

test('fires for the earliest deadline, then for the next one the sweep returns', async () => {
  const deadlines = new Set<number>();
  const swept: number[][] = [];
  const timer = new SweepTimer((now) => {
    const due = [...deadlines].filter((d) => d <= now);
    for (const d of due) deadlines.delete(d);
    swept.push(due);
    return Math.min(...deadlines);
  });
  const t0 = Date.now();
  for (const d of [t0 + 120, t0 + 40]) {
    deadlines.add(d);
    timer.schedule(d);
  }
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(
    swept,
    [[t0 + 40]],
    'the later deadline scheduled first did not delay the earlier',
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(swept, [[t0 + 40], [t0 + 120]]);
  timer.stop();
});

test('one timer for many deadlines that arrive in order', () => {
  const setSpy = mock.method(globalThis, 'setTimeout');
  try {
    const timer = new SweepTimer(() => Number.POSITIVE_INFINITY);
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) timer.schedule(t0 + 30_000 + i);
    assert.equal(setSpy.mock.callCount(), 1);
    timer.schedule(t0 + 10_000);
    assert.equal(setSpy.mock.callCount(), 2, 'an earlier deadline re-arms');
    timer.stop();
    timer.schedule(t0 + 1);
    assert.equal(setSpy.mock.callCount(), 2, 'stopped: schedules are ignored');
  } finally {
    setSpy.mock.restore();
  }
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
