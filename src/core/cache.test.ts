// cache.test.ts: the shared budget of main and hot, and expiry on read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../test/support/manual-clock.js';
import { InvalidArgumentError } from '../errors.js';
import { LEAST_SLACK_BLOCKS, recordBytes } from './arena.js';
import { ByteView } from './byteview.js';
import { viewBytes } from './byteview-internal.js';
import { hitExpireAt, hitView, TwoTierCache } from './cache.js';
import { INLINE_KEY_BYTES } from './entry-table.js';

/** recordOf is the size of the record of an entry: a short key is kept in its slot instead. */
function recordOf(key: string, valueBytes: number): number {
  const keyBytes = Buffer.byteLength(key);
  return recordBytes(keyBytes <= INLINE_KEY_BYTES ? 0 : keyBytes, valueBytes);
}

test('hot is evicted first while it holds more than 1/8 of main', () => {
  const c = new TwoTierCache({ cacheBytes: 100 });
  for (let i = 0; i < 8; i++) c.add('main', `m${i}`, 'x'.repeat(8), 0); // 8 × 10 = 80
  c.add('hot', 'h0', 'y'.repeat(8), 0); // 90
  c.add('hot', 'h1', 'y'.repeat(8), 0); // 100
  c.add('hot', 'h2', 'y'.repeat(8), 0); // 110 > 100: hot (30) > 80/8 → evict h0
  assert.equal(c.stats('hot').items, 2);
  assert.equal(c.stats('hot').evictions, 1);
  assert.equal(c.has('hot', 'h0'), false);
  assert.equal(c.stats('main').items, 8);
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, 100);
});

test('main is evicted when hot is within its share', () => {
  const c = new TwoTierCache({ cacheBytes: 100 });
  for (let i = 0; i < 9; i++) c.add('main', `m${i}`, 'x'.repeat(8), 0); // 90
  c.add('hot', 'h0', 'y'.repeat(8), 0); // 100; hot 10 ≤ 90/8 = 11.25
  c.add('main', 'm9', 'x'.repeat(8), 0); // 110 → evict oldest of main: m0
  assert.equal(c.has('main', 'm0'), false);
  assert.equal(c.has('hot', 'h0'), true);
  assert.equal(c.stats('main').evictions, 1);
  assert.equal(c.stats('hot').evictions, 0);
});

test('hot entries go when main is empty; a key lives in one cache at a time', () => {
  const c = new TwoTierCache({ cacheBytes: 20 });
  c.add('hot', 'a', '123456789', 0); // 10
  c.add('hot', 'b', '123456789', 0); // 20
  c.add('hot', 'c', '123456789', 0); // 30 → evict a
  assert.equal(c.has('hot', 'a'), false);
  c.add('main', 'b', '12345', 0);
  assert.equal(c.has('hot', 'b'), false);
  assert.equal(c.has('main', 'b'), true);
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, 16);
});

test('an expired entry is a miss and is dropped', () => {
  let now = 1000;
  const c = new TwoTierCache({ cacheBytes: 100, now: () => now });
  c.add('main', 'k', 'v', 1500);
  assert.ok(c.get('k'));
  now = 1500;
  assert.equal(c.get('k'), undefined);
  assert.equal(c.stats('main').items, 0);
  c.add('main', 'old', 'v', 1000);
  assert.equal(c.stats('main').items, 0, 'already expired values are not stored');
});

test('a budget of 0 keeps nothing', () => {
  const c = new TwoTierCache({ cacheBytes: 0 });
  c.add('main', 'k', 'v', 0);
  assert.equal(c.get('k'), undefined);
  assert.equal(c.stats('main').items, 0);
});

test('values are copied into the arena, short keys into their slots; every way out of the cache releases them', () => {
  let now = 1000;
  const c = new TwoTierCache({ cacheBytes: 4096, now: () => now });
  const src = new Uint8Array(100).fill(1);
  const stored = c.add('main', 'a', src, 0);
  src.fill(2);
  assert.deepEqual(hitView(stored)?.byteSlice(), new Uint8Array(100).fill(1));
  assert.equal(c.arenaBytes.live, recordOf('a', 100));
  c.add('main', 'a', 'x'.repeat(50), 0); // replaced
  assert.equal(c.arenaBytes.live, recordOf('a', 50));
  c.add('hot', 'a', 'y'.repeat(60), 0); // moved to hot
  assert.equal(c.arenaBytes.live, recordOf('a', 60));
  c.remove('a');
  assert.equal(c.arenaBytes.live, 0);
  c.add('main', 'e', 'z'.repeat(70), 1500);
  now = 2000;
  assert.equal(c.get('e'), undefined); // expired on read
  assert.equal(c.arenaBytes.live, 0);
  for (let i = 0; i < 100; i++) c.add('main', `k${i}`, 'v'.repeat(99), 0); // evicts the oldest
  assert.ok(c.stats('main').evictions > 0);
  let kept = 0;
  let live = 0;
  for (let i = 0; i < 100; i++) {
    if (c.has('main', `k${i}`)) {
      kept++;
      live += recordOf(`k${i}`, 99);
    }
  }
  assert.equal(kept, c.stats('main').items);
  assert.equal(c.arenaBytes.live, live);
  c.clear();
  assert.deepEqual(c.arenaBytes, { used: 0, live: 0, blocks: 0 });
});

test('a value not kept (too large, expired, no budget) is still an owned copy', () => {
  const src = new Uint8Array(10).fill(3);
  for (const [c, expireAt] of [
    [new TwoTierCache({ cacheBytes: 0 }), 0],
    [new TwoTierCache({ cacheBytes: 5 }), 0],
    [new TwoTierCache({ cacheBytes: 100, now: () => 10 }), 5],
  ] as const) {
    const e = c.add('main', 'k', src, expireAt);
    assert.equal(c.get('k'), undefined);
    src[0] = 4;
    assert.equal(hitView(e)?.at(0), 3);
    src[0] = 3;
  }
});

test('random adds, removes and evictions, short and long keys: every value read matches, the arena adds up', () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const c = new TwoTierCache({ cacheBytes: 64 * 1024 });
  const want = new Map<string, string>();
  for (let step = 0; step < 20000; step++) {
    // 14 to 25 bytes: keys kept in their slots and keys kept in their records.
    const x = Math.floor(random() * 2000);
    const key = `k${x}`.padEnd(14 + (x % 12), '.');
    const r = random();
    if (r < 0.1) {
      c.remove(key);
      want.delete(key);
    } else if (r < 0.6) {
      const value = `${key}:${step}:`.padEnd(Math.floor(random() * 300), '.');
      c.add(random() < 0.2 ? 'hot' : 'main', key, value, 0);
      want.set(key, value);
    } else {
      const got = c.get(key);
      if (got !== undefined) assert.equal(got?.toString(), want.get(key), key);
    }
  }
  let live = 0;
  let bytes = 0;
  for (const [key, value] of want) {
    if (c.has('main', key) || c.has('hot', key)) {
      live += recordOf(key, Buffer.byteLength(value));
      bytes += key.length + Buffer.byteLength(value);
      assert.equal(c.inspect(c.has('main', key) ? 'main' : 'hot', key)?.view?.toString(), value);
    }
  }
  assert.equal(c.arenaBytes.live, live);
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, bytes);
  const { used } = c.arenaBytes;
  assert.ok(used - live <= LEAST_SLACK_BLOCKS * 4096 + 300, `released bytes kept: ${used - live}`);
});

test('a hit is a fresh view of the stored bytes; its expiry and refresh time are read beside it', () => {
  const c = new TwoTierCache({ cacheBytes: 1024, now: () => 1000 });
  const forever = c.add('main', 'a', 'v', 0);
  assert.ok(forever instanceof ByteView, 'a value that never expires is returned as its view');
  const hit = c.get('a');
  assert.ok(hit instanceof ByteView && hit !== forever);
  assert.equal(viewBytes(hit).buffer, viewBytes(forever).buffer, 'both read the one stored copy');
  assert.equal(c.lastExpireAt, 0);
  assert.ok(c.getHit('a') instanceof ByteView, 'no Entry object for a value that never expires');
  c.add('main', 'b', 'w', 5000, 4000);
  assert.equal(c.get('b')?.toString(), 'w');
  assert.equal(c.lastExpireAt, 5000);
  assert.equal(c.lastRefreshAt, 4000);
  const expiring = c.getHit('b');
  assert.ok(expiring !== undefined);
  assert.equal(hitView(expiring)?.toString(), 'w');
  assert.equal(hitExpireAt(expiring), 5000);
  assert.equal(c.inspect('main', 'b')?.expireAt, 5000);
  c.add('main', 'gone', null, 5000);
  assert.equal(c.get('gone'), null);
  assert.equal(c.lastExpireAt, 5000);
  assert.equal(c.lastRefreshAt, 0);
  const notFound = c.getHit('gone');
  assert.ok(notFound !== undefined);
  assert.equal(hitView(notFound), null);
  assert.equal(hitExpireAt(notFound), 5000);
});

test('keys are their UTF-8 bytes: non-ASCII keys, long keys and large values are found again', () => {
  const c = new TwoTierCache({ cacheBytes: 1 << 20 });
  const keys = ['clé', '🔑', 'a'.repeat(20_000), 'k'];
  c.add('main', keys[0] as string, 'accent', 0);
  c.add('main', keys[1] as string, 'emoji', 0);
  c.add('main', keys[2] as string, 'long key, kept outside the arena', 0);
  c.add('hot', keys[3] as string, 'x'.repeat(200_000), 0); // over 1/8 of a block: outside too
  assert.equal(c.get('clé')?.toString(), 'accent');
  assert.equal(c.get('cle'), undefined);
  assert.equal(c.get('🔑')?.toString(), 'emoji');
  assert.equal(c.get('a'.repeat(20_000))?.toString(), 'long key, kept outside the arena');
  assert.equal(c.get('a'.repeat(19_999)), undefined);
  assert.equal(c.get('k')?.length, 200_000);
  assert.equal(c.stats('hot').hits, 1);
  const bytes = keys.reduce((sum, k) => sum + Buffer.byteLength(k), 0) + 6 + 5 + 32 + 200_000;
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, bytes);
  for (const k of keys) assert.ok(c.remove(k));
  assert.equal(c.stats('main').items + c.stats('hot').items, 0);
  assert.equal(c.stats('main').bytes + c.stats('hot').bytes, 0);
});

test('keys around the length a slot keeps are told apart by every byte and their length', () => {
  const c = new TwoTierCache({ cacheBytes: 1 << 16 });
  const n = INLINE_KEY_BYTES;
  // Each a prefix of the next, or one byte apart; 'é' is 2 bytes, so its keys cross n in UTF-8.
  const keys = [
    'k'.repeat(n - 1),
    'k'.repeat(n),
    'k'.repeat(n + 1),
    `${'k'.repeat(n - 1)}j`,
    `${'k'.repeat(n)}\0`,
    `${'k'.repeat(n - 2)}é`,
    `${'k'.repeat(n - 1)}é`,
    `${'k'.repeat(n - 3)}\0`,
  ];
  for (const [i, k] of keys.entries()) c.add('main', k, `v${i}`, 0);
  for (const [i, k] of keys.entries()) assert.equal(c.get(k)?.toString(), `v${i}`, k);
  assert.equal(c.get('k'.repeat(n - 2)), undefined);
  assert.equal(c.get(`${'k'.repeat(n - 2)}e`), undefined);
  // A freed slot taken by a shorter key keeps nothing of the longer one.
  assert.ok(c.remove(keys[1] as string));
  c.add('main', 'k', 'short', 0);
  assert.equal(c.get('k')?.toString(), 'short');
  assert.equal(c.get(keys[1] as string), undefined);
  assert.equal(c.get('k'.repeat(n - 1))?.toString(), 'v0');
});

test('a key with a lone surrogate is not the key U+FFFD stands for in its UTF-8', () => {
  const c = new TwoTierCache({ cacheBytes: 1024 });
  c.add('main', 'a\uFFFD', 'replacement', 0);
  c.add('main', 'a\uD800', 'lone', 0);
  assert.equal(c.get('a\uFFFD')?.toString(), 'replacement');
  assert.equal(c.get('a\uD800')?.toString(), 'lone');
  assert.ok(c.remove('a\uD800'));
  assert.equal(c.get('a\uD800'), undefined);
  assert.equal(c.get('a\uFFFD')?.toString(), 'replacement');
});

test('maxEntries bounds each cache by count; a bad one is a typed error', () => {
  const c = new TwoTierCache({ cacheBytes: 1 << 20, maxEntries: 2 });
  for (const k of ['a', 'b', 'c']) c.add('main', k, 'v', 0);
  c.add('hot', 'h', 'v', 0);
  assert.equal(c.has('main', 'a'), false);
  assert.equal(c.stats('main').items, 2);
  assert.equal(c.stats('main').evictions, 1);
  assert.equal(c.has('hot', 'h'), true);
  assert.throws(() => new TwoTierCache({ cacheBytes: 1, maxEntries: -1 }), InvalidArgumentError);
  assert.throws(() => new TwoTierCache({ cacheBytes: 1, maxEntries: 1.5 }), InvalidArgumentError);
});

test('TTL by the clock: a hit before expiry, stale within the grace, gone after it', async () => {
  const clock = new ManualClock();
  const c = new TwoTierCache({ cacheBytes: 1024, now: () => clock.now(), graceMs: 1000 });
  const t0 = clock.now();
  c.add('main', 'k', 'v1', t0 + 5000, t0 + 4000);
  c.add('main', 'forever', 'v', 0);
  await clock.advance(3999);
  assert.equal(c.get('k')?.toString(), 'v1');
  assert.equal(c.lastRefreshAt, t0 + 4000);
  assert.equal(c.stale('k'), undefined, 'still live');
  await clock.advance(1001); // t0 + 5000: expired, within the grace
  assert.equal(c.get('k'), undefined);
  assert.equal(c.stale('k')?.view?.toString(), 'v1');
  assert.equal(c.stats('main').items, 2, 'kept for the grace');
  await clock.advance(1000); // t0 + 6000: past the grace
  assert.equal(c.get('k'), undefined);
  assert.equal(c.stale('k'), undefined);
  assert.equal(c.stats('main').items, 1);
  assert.equal(c.get('forever')?.toString(), 'v');
  assert.equal(c.lastExpireAt, 0);
  assert.equal(c.lastRefreshAt, 0, 'a slot reused without a refresh time has none');
});

test('LRU order: a hit keeps an entry, the least recently used one goes', () => {
  const c = new TwoTierCache({ cacheBytes: 40 }); // four entries of 10 bytes
  for (const k of ['a', 'b', 'c', 'd']) c.add('main', k, 'v'.repeat(9), 0);
  assert.ok(c.get('a'));
  c.add('main', 'e', 'v'.repeat(9), 0);
  assert.equal(c.has('main', 'b'), false, 'b was the least recently used');
  assert.ok(c.has('main', 'a') && c.has('main', 'c') && c.has('main', 'e'));
  assert.ok(c.has('main', 'c'));
  c.add('main', 'f', 'v'.repeat(9), 0);
  assert.equal(c.has('main', 'c'), false, 'has() does not touch recency');
});

test('a view handed out never changes after its entry leaves and the arena reuses space', () => {
  const c = new TwoTierCache({ cacheBytes: 64 * 1024 });
  c.add('main', 'kept', 'the first value', 0);
  const view = c.get('kept');
  const early = c.add('main', 'early', 'an early value', 0);
  for (let i = 0; i < 5000; i++) c.add('main', `k${i}`, `value ${i} `.repeat(10), 0);
  assert.equal(c.get('kept'), undefined, 'evicted long ago');
  assert.ok(c.arenaBytes.used < 2 * 64 * 1024, 'the arena compacted and let blocks go');
  assert.equal(view?.toString(), 'the first value');
  assert.equal(hitView(early)?.toString(), 'an early value');
});

test('keys of every length from 1 to 300 characters are stored and found', () => {
  const c = new TwoTierCache({ cacheBytes: 1 << 20 });
  for (let n = 1; n <= 300; n++) c.add('main', 'k'.repeat(n), `v${n}`, 0);
  for (let n = 1; n <= 300; n++) assert.equal(c.get('k'.repeat(n))?.toString(), `v${n}`, `${n}`);
});

test('hot entries are written into blocks apart from main ones', () => {
  const c = new TwoTierCache({ cacheBytes: 1 << 20 });
  const bufferOf = (which: 'main' | 'hot', key: string) =>
    viewBytes(c.inspect(which, key)?.view as ByteView).buffer;
  for (let i = 0; i < 10; i++) c.add(i % 2 === 0 ? 'main' : 'hot', `key ${i}`, `value ${i}`, 0);
  for (let i = 2; i < 10; i += 2) {
    assert.equal(bufferOf('main', `key ${i}`), bufferOf('main', 'key 0'));
    assert.equal(bufferOf('hot', `key ${i + 1}`), bufferOf('hot', 'key 1'));
  }
  assert.notEqual(bufferOf('main', 'key 0'), bufferOf('hot', 'key 1'));
});

test('a cache well within its budget compacts its arena later, never past the budget', () => {
  // 1 MiB: blocks of 16 KiB, and 4 of them (64 KiB) are the least slack.
  const c = new TwoTierCache({ cacheBytes: 1 << 20 });
  const value = 'v'.repeat(100);
  for (let i = 0; i < 4000; i++) c.add('main', `key ${i}`.padEnd(24), value, 0);
  const record = recordOf('key 0'.padEnd(24), 100);
  const full = c.arenaBytes;
  assert.equal(full.live, 4000 * record);
  // 600 entries removed: 79 KB released, under a quarter of the 442 KB still live.
  for (let i = 0; i < 600; i++) c.remove(`key ${i * 6}`.padEnd(24));
  const after = c.arenaBytes;
  assert.equal(after.live, 3400 * record);
  assert.equal(after.used, full.used, 'nothing compacted yet');
  // Many more removed: compaction brings released bytes back to a quarter of live ones.
  for (let i = 0; i < 4000; i++) if (i % 6 !== 0 && i % 5 === 0) c.remove(`key ${i}`.padEnd(24));
  const { used, live } = c.arenaBytes;
  assert.ok(used - live <= live / 4, `${used - live} released bytes with ${live} live`);
  for (let i = 1; i < 4000; i++) {
    if (i % 6 !== 0 && i % 5 !== 0) assert.equal(c.get(`key ${i}`.padEnd(24))?.toString(), value);
  }
});
