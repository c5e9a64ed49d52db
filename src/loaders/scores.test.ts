// scores.test.ts: the demo scores loader.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../test/support/manual-clock.js';
import { createScoresLoader, DEMO_SCORES } from './scores.js';

const ctx = (group = 'scores', signal = new AbortController().signal) => ({ group, signal });

test('answers the seed table for group scores, null for anything else', async () => {
  const load = createScoresLoader({ delayMs: 0 });
  assert.deepEqual(DEMO_SCORES, { Tom: '630', Jack: '589', Sam: '567', Peter: '999' });
  for (const [key, value] of Object.entries(DEMO_SCORES)) {
    assert.equal(await load(key, ctx()), value);
  }
  assert.equal(await load('Nobody', ctx()), null);
  assert.equal(await load('toString', ctx()), null);
  assert.equal(await load('Tom', ctx('other')), null);
});

test('waits delayMs and stops waiting when the signal aborts', async () => {
  const clock = new ManualClock();
  const slow = createScoresLoader({ delayMs: 40, clock });
  let answer: unknown;
  const first = Promise.resolve(slow('Tom', ctx())).then((v) => {
    answer = v;
  });
  await clock.advance(39);
  assert.equal(answer, undefined, 'still waiting at 39 ms');
  await clock.advance(1);
  await first;
  assert.equal(answer, '630');
  const ac = new AbortController();
  const pending = slow('Tom', ctx('scores', ac.signal));
  ac.abort(new Error('gone'));
  await assert.rejects(Promise.resolve(pending), (err: Error) => {
    assert.equal(err.name, 'AbortError');
    assert.equal((err.cause as Error).message, 'gone');
    return true;
  });
  assert.equal(clock.pending, 0, 'the aborted wait left no timer');
});
