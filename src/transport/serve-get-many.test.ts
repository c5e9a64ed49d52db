// serve-get-many.test.ts: serveGetMany answers a batch from a real group: per-key outcomes,
// one loadMany for the batch; checkBatch, which a server applies to a batch before serving it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerServedGroup, PeerValue } from '../core/peers.js';
import { GroupRegistry } from '../core/registry.js';
import { isCacheError, NotFoundError } from '../errors.js';
import { MAX_BATCH_KEYS } from '../limits.js';
import { checkBatch, oldestGeneration, serveGetMany } from './serve-get-many.js';

function groupWithBatches(calls: string[][]) {
  const registry = new GroupRegistry();
  return registry.newGroup('g', {
    cacheBytes: 1 << 20,
    maxValueBytes: 100,
    loadMany: (keys) => {
      calls.push([...keys]);
      const out = new Map<string, string>();
      for (const key of keys) {
        if (key === 'boom') throw new Error('never: one failing key fails its batch');
        if (key === 'big') out.set(key, 'x'.repeat(50));
        else if (key !== 'missing') out.set(key, `v:${key}`);
      }
      return out;
    },
  });
}

test('serveGetMany answers every key, each with its own outcome, from one loadMany', async () => {
  const calls: string[][] = [];
  const group = groupWithBatches(calls);
  const answer = await serveGetMany(
    group,
    ['a', 'b', 'missing', 'big', ''],
    {},
    {
      maxValueBytes: 10,
    },
  );
  assert.deepEqual(calls, [['a', 'b', 'missing', 'big']]);
  assert.equal(new TextDecoder().decode((answer.get('a') as { value: Uint8Array }).value), 'v:a');
  assert.equal(new TextDecoder().decode((answer.get('b') as { value: Uint8Array }).value), 'v:b');
  assert.ok(isCacheError(answer.get('missing'), 'NOT_FOUND'));
  assert.ok(isCacheError(answer.get('big'), 'TOO_LARGE'));
  assert.ok(isCacheError(answer.get(''), 'INVALID_ARGUMENT'));
  assert.equal(answer.size, 5);
});

test('serveGetMany hands out copies: changing an answer leaves the cache alone', async () => {
  const group = groupWithBatches([]);
  const first = await serveGetMany(group, ['a'], {});
  (first.get('a') as { value: Uint8Array }).value.fill(0);
  const again = await serveGetMany(group, ['a'], {});
  assert.equal(new TextDecoder().decode((again.get('a') as { value: Uint8Array }).value), 'v:a');
});

test('checkBatch refuses a batch over the key count or key bytes, and passes one within them', () => {
  const many = Array.from({ length: MAX_BATCH_KEYS + 1 }, (_, i) => `k${i}`);
  assert.ok(isCacheError(checkBatch(many), 'TOO_LARGE'));
  assert.equal(checkBatch(many.slice(1)), undefined, `${MAX_BATCH_KEYS} keys are within`);
  const wide = ['abcd', 'ефгх'];
  assert.ok(isCacheError(checkBatch(wide, { maxKeyBytes: 11 }), 'TOO_LARGE'), 'UTF-8 bytes count');
  assert.equal(checkBatch(wide, { maxKeyBytes: 12 }), undefined);
  assert.ok(isCacheError(checkBatch(['a', 'b', 'c'], { maxKeys: 2 }), 'TOO_LARGE'));
});

test("serveGetMany serves the batch it is given: the limits are the server's to check first", async () => {
  const calls: string[][] = [];
  const group = groupWithBatches(calls);
  const many = Array.from({ length: MAX_BATCH_KEYS + 1 }, (_, i) => `k${i}`);
  const answer = await serveGetMany(group, many, {});
  assert.equal(answer.size, many.length);
  assert.deepEqual(calls.flat(), many, 'every key loaded, none refused');
});

test("oldestGeneration is a batch's oldest value's generation, 0 as soon as one has none", () => {
  const at = (generation?: number) => ({
    value: new Uint8Array(),
    expireAt: 0,
    minuteQps: 0,
    generation,
  });
  const missing = new NotFoundError('no value');
  assert.equal(oldestGeneration([]), 0);
  assert.equal(oldestGeneration([missing]), 0, 'errors carry no generation');
  assert.equal(oldestGeneration([at(7), missing, at(5), at(9)]), 5);
  // Found before the group's first clear, and after it: the answer must not claim the
  // clear's generation for the earlier value.
  assert.equal(oldestGeneration([at(5), at(undefined)]), 0);
  assert.equal(oldestGeneration([at(0), at(5)]), 0);
});

test('a value given without bytes rejects the batch whole, cached or loaded, with every load observed', async () => {
  // A served group of the seam's own whose answers break the contract: no bytes.
  const broken = { expireAt: 0 } as unknown as PeerValue;
  const good: PeerValue = { value: new Uint8Array([1]), expireAt: 0, minuteQps: 0 };
  const served = (cached: boolean, late: boolean): PeerServedGroup => ({
    name: 'g',
    getForPeer: (key) => {
      if (key === 'broken') return cached ? broken : Promise.resolve(broken);
      // A load that fails after the batch has already failed: its rejection must not go unheard.
      if (late) return new Promise((_, reject) => setImmediate(() => reject(new Error('late'))));
      return good;
    },
    setFromPeer: async () => {},
    removeFromPeer: async () => {},
  });
  for (const cached of [true, false]) {
    await assert.rejects(serveGetMany(served(cached, true), ['slow', 'broken'], {}), TypeError);
    await assert.rejects(serveGetMany(served(cached, false), ['ok', 'broken'], {}), TypeError);
  }
  // Let the late loads fail: an unobserved rejection would fail this test.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
});
