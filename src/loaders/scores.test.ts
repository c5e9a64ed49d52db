// scores.test.ts: the demo scores loader.
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
  const slow = createScoresLoader({ delayMs: 40 });
  const t0 = performance.now();
  assert.equal(await slow('Tom', ctx()), '630');
  assert.ok(performance.now() - t0 >= 35);
  const ac = new AbortController();
  const pending = slow('Tom', ctx('scores', ac.signal));
  ac.abort(new Error('gone'));
  await assert.rejects(Promise.resolve(pending), { name: 'AbortError' });
});
