// key-bytes.test.ts: KeyBytes puts a key's UTF-8 bytes in its buffer, zero-padded, and
// hashes them the same however the key arrives and whatever was loaded before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyBytes } from './key-bytes.js';

const loaded = (k: KeyBytes) => Buffer.from(k.bytes.subarray(0, k.length)).toString();

test('load writes the UTF-8 bytes, ASCII or not, and tells a lone surrogate apart', () => {
  const k = new KeyBytes();
  k.load('plain', 1);
  assert.equal(k.length, 5);
  assert.equal(loaded(k), 'plain');
  assert.ok(k.wellFormed);
  k.load('clé 🔑', 1);
  assert.equal(k.length, Buffer.byteLength('clé 🔑'));
  assert.equal(loaded(k), 'clé 🔑');
  assert.ok(k.wellFormed);
  k.load('a\uD800', 1);
  assert.equal(k.wellFormed, false);
  k.load('a', 1);
  assert.ok(k.wellFormed, 'reset by the next load');
});

test('the hash depends on the bytes and the seed only', () => {
  const k = new KeyBytes();
  const fresh = (key: string, seed = 7) => new KeyBytes().load(key, seed);
  // A longer key first leaves bytes behind the shorter one: the padding is zeroed.
  k.load('a-much-longer-key-than-the-next', 7);
  assert.equal(k.load('short', 7), fresh('short'));
  assert.equal(k.load(`sh${'ort'}`, 7), fresh('short'), 'a key built in pieces hashes the same');
  assert.equal(k.load('clé', 7), fresh('clé'));
  assert.notEqual(fresh('short'), fresh('short', 8));
  assert.notEqual(fresh('short'), fresh('short\0'), 'trailing zero bytes are part of the key');
  const hashes = new Set(Array.from({ length: 10_000 }, (_, i) => fresh(`key:${i}`)));
  assert.ok(hashes.size > 9_990, `${hashes.size} distinct hashes of 10,000 keys`);
});

test('keys longer than the buffer grow it', () => {
  const k = new KeyBytes();
  const long = 'é'.repeat(1000);
  k.load(long, 3);
  assert.equal(k.length, 2000);
  assert.equal(loaded(k), long);
  assert.equal(k.load(long, 3), new KeyBytes().load(long, 3));
});

test('the buffer grows to whole words for a key of any length', () => {
  for (let n = 80; n <= 120; n++) {
    const k = new KeyBytes();
    const key = 'k'.repeat(n);
    const hash = k.load(key, 5);
    assert.equal(k.length, n);
    assert.equal(loaded(k), key);
    assert.equal(k.bytes.byteLength % 4, 0, `${n} characters`);
    assert.equal(hash, new KeyBytes().load(key, 5));
  }
});

/** The hash load promises, over a key's UTF-8 bytes: murmur3's body and final mix, from `seed ^ length`. */
function referenceHash(key: string, seed: number): number {
  const bytes = Buffer.from(key);
  let h = seed ^ bytes.length;
  for (let i = 0; i < bytes.length; i += 4) {
    const word =
      (bytes[i] ?? 0) |
      ((bytes[i + 1] ?? 0) << 8) |
      ((bytes[i + 2] ?? 0) << 16) |
      ((bytes[i + 3] ?? 0) << 24);
    let k = Math.imul(word, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

test('short and long keys, ASCII or not, hash their UTF-8 bytes alike', () => {
  // Short ASCII keys are read a word at a time, long ones and others encoded: one hash.
  const k = new KeyBytes();
  for (let n = 1; n <= 80; n++) {
    for (const key of ['a'.repeat(n), `k:${n}:`.padEnd(n, 'x').slice(0, n), `é${'b'.repeat(n)}`]) {
      assert.equal(k.load(key, 11), referenceHash(key, 11), `${JSON.stringify(key)}`);
      assert.equal(loaded(k), key);
      assert.ok(k.wellFormed);
    }
  }
  k.load(`${'x'.repeat(40)}\uDC00`, 1);
  assert.equal(k.wellFormed, false, 'a long key with a lone surrogate');
  k.load('x'.repeat(40), 1);
  assert.ok(k.wellFormed, 'reset by the next long key');
});
