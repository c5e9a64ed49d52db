// entry-table.test.ts: EntryTable finds slots by hash, keeps recency lists in order,
// reuses freed slots, and keeps all of it through growth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryTable, INLINE_KEY_BYTES } from './entry-table.js';
import { KeyBytes } from './key-bytes.js';

/** chain lists the slots of the chain where `hash` would be. */
function chain(t: EntryTable, hash: number): number[] {
  const out: number[] = [];
  for (let s = t.first(hash); s !== 0; s = t.chained(s)) out.push(s);
  return out;
}

/** list lists list `l` from newest to oldest. */
function list(t: EntryTable, l: number): number[] {
  const out: number[] = [];
  for (let s = t.newest(l); s !== l; s = t.older(s)) out.push(s);
  return out;
}

test('added slots are found by hash, newest first in their list, with their flags and place', () => {
  const t = new EntryTable(2);
  const a = t.alloc();
  const b = t.alloc();
  const c = t.alloc();
  assert.deepEqual([a, b, c], [2, 3, 4], 'slots start after the sentinels');
  t.place(a, 5, 64);
  t.add(a, 100, 3, 0);
  t.add(b, 200, 0, 0);
  t.add(c, -7, 255, 1);
  t.place(c, 0xff_ffff, 1 << 20);
  assert.ok(chain(t, 100).includes(a));
  assert.ok(chain(t, -7).includes(c));
  assert.equal(t.hashOf(c), -7);
  assert.deepEqual([t.blockOf(a), t.offsetOf(a), t.flagsOf(a)], [5, 64, 3]);
  assert.deepEqual([t.blockOf(c), t.offsetOf(c), t.flagsOf(c)], [0xff_ffff, 1 << 20, 255]);
  assert.deepEqual(list(t, 0), [b, a]);
  assert.deepEqual(list(t, 1), [c]);
  assert.equal(t.oldest(0), a);
  assert.equal(t.oldest(1), c);
});

test('touch moves a slot to the front of its list; remove unlinks it everywhere and frees it', () => {
  const t = new EntryTable(2);
  const slots = [1, 2, 3, 4].map((i) => {
    const s = t.alloc();
    t.add(s, i * 16, 0, 0); // every hash in the same bucket: one chain of four
    return s;
  });
  const [a, b, c, d] = slots as [number, number, number, number];
  assert.deepEqual(list(t, 0), [d, c, b, a]);
  t.touch(0, b);
  t.touch(0, b);
  assert.deepEqual(list(t, 0), [b, d, c, a]);
  assert.equal(chain(t, 16).length, 4);
  t.remove(c);
  assert.deepEqual(list(t, 0), [b, d, a]);
  assert.deepEqual(chain(t, 16).sort(), [a, b, d].sort());
  t.remove(a);
  t.remove(b);
  assert.deepEqual(list(t, 0), [d]);
  assert.equal(t.oldest(0), d);
  assert.deepEqual(chain(t, 16), [d]);
  // Freed slots are taken again before new ones.
  assert.deepEqual([t.alloc(), t.alloc(), t.alloc()].sort(), [a, b, c].sort());
  assert.equal(t.alloc(), d + 1);
  t.remove(d);
  assert.deepEqual(list(t, 0), []);
  assert.equal(t.oldest(0), 0, 'an empty list is its own sentinel');
});

test('growth keeps every slot findable, every list in order, every place and flag', () => {
  const t = new EntryTable(3);
  const n = 5000;
  const hashOf = (i: number) => Math.imul(i, 0x9e3779b1) | 0;
  const slots: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = t.alloc();
    t.place(s, i % 1000, i * 4);
    t.add(s, hashOf(i), i % 256, i % 3);
    slots.push(s);
  }
  assert.ok(t.capacity >= n + 3);
  for (let i = 0; i < n; i++) {
    const s = slots[i] as number;
    assert.ok(chain(t, hashOf(i)).includes(s), `slot of ${i} found`);
    assert.deepEqual([t.blockOf(s), t.offsetOf(s), t.flagsOf(s)], [i % 1000, i * 4, i % 256]);
  }
  for (let l = 0; l < 3; l++) {
    const want = slots.filter((_, i) => i % 3 === l).reverse();
    assert.deepEqual(list(t, l), want, `list ${l}`);
  }
});

test('a slot keeps a short key and its lengths, and tells it from keys of the same hash', () => {
  const t = new EntryTable(2);
  const bytes = new KeyBytes();
  const keep = (key: string, value: number) => {
    const slot = t.alloc();
    bytes.load(key, 1);
    t.setLengths(slot, bytes.length, value);
    t.setKey(slot, bytes);
    // One hash for all: the chain holds every slot, and only the key tells them apart.
    t.add(slot, 42, 0, 0);
    return { slot };
  };
  const long = 'x'.repeat(INLINE_KEY_BYTES);
  const a = keep(long, (1 << 18) - 1);
  const b = keep('x'.repeat(INLINE_KEY_BYTES - 1), 0);
  const c = keep('xxxy', 7);
  assert.deepEqual(
    [t.keyLengthOf(a.slot), t.valueLengthOf(a.slot)],
    [INLINE_KEY_BYTES, (1 << 18) - 1],
  );
  const find = (key: string) => {
    bytes.load(key, 1);
    for (let s = t.first(42); s !== 0; s = t.chained(s)) if (t.keyIs(s, bytes)) return s;
    return 0;
  };
  assert.equal(find(long), a.slot);
  assert.equal(find('x'.repeat(INLINE_KEY_BYTES - 1)), b.slot);
  assert.equal(find('xxxy'), c.slot);
  assert.equal(find('xxx'), 0, 'a prefix is another key');
  assert.equal(find('xxxz'), 0);
  assert.equal(find(''), 0);
  // A freed slot reused for a shorter key: the longer key's bytes left behind do not count.
  t.remove(a.slot);
  const d = keep('xx', 1);
  assert.equal(d.slot, a.slot);
  assert.equal(find('xx'), d.slot);
  assert.equal(find(long), 0);
  // Growth keeps the keys.
  for (let i = 0; i < 100; i++) keep(`filler ${i}`, i);
  assert.equal(find('xxxy'), c.slot);
  assert.notEqual(find('filler 99'), 0);
});
