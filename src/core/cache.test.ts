// cache.test.ts: the shared budget of main and hot, and expiry on read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteView } from './byteview.js';
import { TwoTierCache } from './cache.js';

const entry = (s: string, expireAt = 0) => ({ view: ByteView.from(s), expireAt });

test('hot is evicted first while it holds more than 1/8 of main', () => {
  const c = new TwoTierCache({ cacheBytes: 100 });
  for (let i = 0; i < 8; i++) c.add('main', `m${i}`, entry('x'.repeat(8))); // 8 × 10 = 80
  c.add('hot', 'h0', entry('y'.repeat(8))); // 90
  c.add('hot', 'h1', entry('y'.repeat(8))); // 100
  c.add('hot', 'h2', entry('y'.repeat(8))); // 110 > 100: hot (30) > 80/8 → evict h0
  assert.equal(c.stats('hot').items, 2);
  assert.equal(c.stats('hot').evictions, 1);
  assert.equal(c.has('hot', 'h0'), false);
  assert.equal(c.stats('main').items, 8);
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, 100);
});

test('main is evicted when hot is within its share', () => {
  const c = new TwoTierCache({ cacheBytes: 100 });
  for (let i = 0; i < 9; i++) c.add('main', `m${i}`, entry('x'.repeat(8))); // 90
  c.add('hot', 'h0', entry('y'.repeat(8))); // 100; hot 10 ≤ 90/8 = 11.25
  c.add('main', 'm9', entry('x'.repeat(8))); // 110 → evict oldest of main: m0
  assert.equal(c.has('main', 'm0'), false);
  assert.equal(c.has('hot', 'h0'), true);
  assert.equal(c.stats('main').evictions, 1);
  assert.equal(c.stats('hot').evictions, 0);
});

test('hot entries go when main is empty; a key lives in one cache at a time', () => {
  const c = new TwoTierCache({ cacheBytes: 20 });
  c.add('hot', 'a', entry('123456789')); // 10
  c.add('hot', 'b', entry('123456789')); // 20
  c.add('hot', 'c', entry('123456789')); // 30 → evict a
  assert.equal(c.has('hot', 'a'), false);
  c.add('main', 'b', entry('12345'));
  assert.equal(c.has('hot', 'b'), false);
  assert.equal(c.has('main', 'b'), true);
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, 16);
});

test('an expired entry is a miss and is dropped', () => {
  let now = 1000;
  const c = new TwoTierCache({ cacheBytes: 100, now: () => now });
  c.add('main', 'k', entry('v', 1500));
  assert.ok(c.get('k'));
  now = 1500;
  assert.equal(c.get('k'), undefined);
  assert.equal(c.stats('main').items, 0);
  c.add('main', 'old', entry('v', 1000));
  assert.equal(c.stats('main').items, 0, 'already expired values are not stored');
});

test('a budget of 0 keeps nothing', () => {
  const c = new TwoTierCache({ cacheBytes: 0 });
  c.add('main', 'k', entry('v'));
  assert.equal(c.get('k'), undefined);
  assert.equal(c.stats('main').items, 0);
});
