// read-holds.test.ts: reading pauses on the first reason held, resumes on the last lifted,
// and stays paused once the stream has ended.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadHolds } from './read-holds.js';

test('pauses once for several reasons, resumes when the last is lifted, not after the end', () => {
  const calls: string[] = [];
  let ended = false;
  const holds = new ReadHolds(
    { pause: () => calls.push('pause'), resume: () => calls.push('resume') },
    () => ended,
  );
  holds.hold(1);
  holds.hold(2);
  holds.hold(1);
  assert.deepEqual(calls, ['pause']);
  holds.unhold(1);
  holds.unhold(1);
  assert.deepEqual(calls, ['pause'], 'reason 2 still holds');
  holds.unhold(2);
  assert.deepEqual(calls, ['pause', 'resume']);
  holds.hold(4);
  ended = true;
  holds.unhold(4);
  assert.deepEqual(calls, ['pause', 'resume', 'pause'], 'an ended stream is not resumed');
});
