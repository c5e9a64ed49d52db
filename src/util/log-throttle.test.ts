import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogThrottle } from './log-throttle.js';

test('LogThrottle logs a subject once per interval and counts what it held back', () => {
  let now = 1_000;
  const t = new LogThrottle({ intervalMs: 100, now: () => now });
  assert.equal(t.take('a'), 0);
  assert.equal(t.take('a'), undefined);
  assert.equal(t.take('a'), undefined);
  assert.equal(t.take('b'), 0, 'another subject has its own interval');
  now += 99;
  assert.equal(t.take('a'), undefined);
  now += 1;
  assert.equal(t.take('a'), 3, 'the line after the interval carries the count held back');
  assert.equal(t.take('a'), undefined);
});

test('LogThrottle forgets a subject on request and bounds what it remembers', () => {
  let now = 0;
  const t = new LogThrottle({ intervalMs: 1_000, now: () => now, maxSubjects: 2 });
  assert.equal(t.take('a'), 0);
  t.forget('a');
  assert.equal(t.take('a'), 0, 'a forgotten subject logs at once');
  assert.equal(t.take('b'), 0);
  assert.equal(t.take('c'), 0, 'a third subject pushes out the oldest');
  assert.equal(t.take('a'), 0, 'a was forgotten to make room');
  now += 1;
  assert.equal(t.take('c'), undefined);
});
