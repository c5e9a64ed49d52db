// arena.test.ts: ValueArena keeps records (owner, key, value) in shared blocks, compacts
// released space, tells owners where their records went, and never changes the bytes of a
// view it handed out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RECORD_HEADER_BYTES, recordBytes, ValueArena } from './arena.js';
import { viewBytes } from './byteview-internal.js';
import { KeyBytes } from './key-bytes.js';

const bytesOf = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** keyOf is `key` loaded into a KeyBytes of its own. */
function keyOf(key: string): KeyBytes {
  const k = new KeyBytes();
  k.load(key, 0);
  return k;
}

/**
 * An arena, where it says each owner's record lies, and the lengths each owner stored:
 * `view` reads a value where a cache reads it, from those alone (its record's offset,
 * the header, then the key), so a record laid out otherwise reads back wrong.
 */
function arenaOf(blockBytes: number, slackBytes: number) {
  const places = new Map<number, { block: number; offset: number }>();
  const lengths = new Map<number, { key: number; value: number }>();
  const arena = new ValueArena({
    blockBytes,
    slackBytes,
    place: (owner, block, offset) => places.set(owner, { block, offset }),
  });
  const at = (owner: number) => {
    const p = places.get(owner);
    assert.ok(p !== undefined, `owner ${owner} was placed`);
    return p;
  };
  const store: ValueArena['store'] = (owner, key, value, valueBytes) => {
    lengths.set(owner, { key: key.length, value: valueBytes });
    arena.store(owner, key, value, valueBytes);
  };
  return {
    arena,
    places,
    store,
    view: (owner: number) => {
      const { block, offset } = at(owner);
      const stored = lengths.get(owner) as { key: number; value: number };
      return arena.viewAt(block, offset + RECORD_HEADER_BYTES + stored.key, stored.value);
    },
    keyIs: (owner: number, key: string) =>
      arena.keyIs(at(owner).block, at(owner).offset, keyOf(key)),
    release: (owner: number) => {
      arena.release(at(owner).block, at(owner).offset);
      places.delete(owner);
    },
  };
}

test('store writes key and value into one block; views and keys read back', () => {
  const { arena, store, view, keyIs } = arenaOf(1024, 0);
  const src = bytesOf(10, 7);
  store(1, keyOf('a'), src, 10);
  store(2, keyOf('clé'), 'héllo', 6);
  store(3, keyOf('gone'), null, 0);
  src[0] = 9;
  assert.deepEqual(view(1).byteSlice(), bytesOf(10, 7));
  assert.equal(view(2).toString(), 'héllo');
  assert.equal(view(3).length, 0);
  assert.ok(keyIs(1, 'a') && keyIs(2, 'clé') && keyIs(3, 'gone'));
  for (const other of ['b', 'ab', '', 'cle', 'clé!', 'clè', 'é']) {
    assert.ok(!keyIs(1, other) && !keyIs(2, other), other);
  }
  const size = recordBytes(1, 10) + recordBytes(4, 6) + recordBytes(4, 0);
  assert.equal(recordBytes(1, 10), 20, 'an 8-byte header, then key and value, 4-byte aligned');
  assert.equal(arena.liveBytes, size);
  assert.equal(arena.usedBytes, size);
  assert.equal(arena.blockCount, 1);
  assert.equal(viewBytes(view(1)).buffer, viewBytes(view(2)).buffer, 'one block holds both');
});

test('keyIs compares every byte: same length, last bytes, value bytes right after the key', () => {
  const { store, keyIs } = arenaOf(1024, 0);
  store(1, keyOf('abcdefg'), 'h', 1);
  assert.ok(keyIs(1, 'abcdefg'));
  for (const other of ['abcdefh', 'bbcdefg', 'abcdef', 'abcdefgh', 'abcdefgi', 'abcdeg']) {
    assert.ok(!keyIs(1, other), other);
  }
});

test('fits: records over 1/8 of a block, or keys of 16 KiB, are not taken', () => {
  const { arena } = arenaOf(1024, 0);
  assert.ok(arena.fits(20, 100)); // 8 + 20 + 100 = 128
  assert.ok(!arena.fits(21, 100));
  const { arena: big } = arenaOf(1 << 20, 0);
  assert.ok(big.fits(16383, 10));
  assert.ok(!big.fits(16384, 10));
});

test('compaction moves live records, tells their owners, and drops the emptiest blocks', () => {
  // Blocks of 1 KiB hold 8 records of 128 B; the slack is two blocks.
  const { arena, store, places, view, release } = arenaOf(1024, 0);
  for (let i = 0; i < 64; i++) store(i + 1, keyOf(`k${i}`), bytesOf(110, i), 110);
  assert.equal(arena.blockCount, 8);
  const before = new Map(places);
  // Keep one record in eight: every block ends up with 1 live of 8.
  for (let i = 0; i < 64; i++) if (i % 8 !== 0) release(i + 1);
  assert.ok(arena.usedBytes - arena.liveBytes <= 2 * 1024, 'released bytes within the slack');
  assert.ok(arena.blockCount < 8, `blocks after compaction: ${arena.blockCount}`);
  let moved = 0;
  for (let i = 0; i < 64; i += 8) {
    assert.deepEqual(view(i + 1).byteSlice(), bytesOf(110, i), `value ${i} survived its move`);
    if (before.get(i + 1)?.block !== places.get(i + 1)?.block) moved++;
  }
  assert.ok(moved > 0, 'some records moved');
  const blocks = new Set([...places.values()].map((p) => p.block));
  assert.ok(blocks.size <= arena.blockCount, `${blocks.size} blocks used of ${arena.blockCount}`);
});

test('a view a reader kept stays valid through release, compaction and later stores', () => {
  const { arena, store, view, release } = arenaOf(1024, 0);
  store(1, keyOf('kept'), bytesOf(100, 42), 100);
  const kept = view(1);
  const keptBytes = viewBytes(kept);
  release(1);
  // Churn: many records stored and released, so old blocks are compacted and dropped,
  // and their indexes reused.
  for (let i = 0; i < 500; i++) {
    store(2, keyOf('k'), bytesOf(100, i % 256), 100);
    release(2);
  }
  assert.ok(arena.usedBytes - arena.liveBytes <= 2 * 1024);
  assert.deepEqual(kept.byteSlice(), bytesOf(100, 42));
  assert.deepEqual(keptBytes, bytesOf(100, 42), 'bytes a view held are never rewritten');
});

test('a view of a live record stays valid after compaction moves the record', () => {
  const { store, view, release } = arenaOf(1024, 0);
  // 8 blocks of 8 records; one record per block stays live, so every block is worth compacting.
  for (let i = 0; i < 64; i++) store(i + 1, keyOf('k'), bytesOf(110, i), 110);
  const early = view(1);
  for (let i = 0; i < 64; i++) if (i % 8 !== 0) release(i + 1);
  assert.deepEqual(early.byteSlice(), bytesOf(110, 0));
  assert.deepEqual(view(1).byteSlice(), bytesOf(110, 0));
  assert.notEqual(viewBytes(early).buffer, viewBytes(view(1)).buffer, 'the record moved');
});

test('clear forgets every block; views handed out keep their bytes', () => {
  const { arena, store, view } = arenaOf(1024, 0);
  store(1, keyOf('k'), 'kept', 4);
  const v = view(1);
  arena.clear();
  assert.equal(arena.blockCount, 0);
  assert.equal(arena.liveBytes, 0);
  assert.equal(arena.usedBytes, 0);
  assert.equal(v.toString(), 'kept');
  store(2, keyOf('k'), 'next', 4);
  assert.equal(v.toString(), 'kept');
  assert.equal(view(2).toString(), 'next');
});

test('random stores and releases: live bytes add up, every record reads back, slack is kept', () => {
  let seed = 1;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const { arena, store, view, keyIs, release } = arenaOf(4096, 4096);
  const live = new Map<number, { key: string; fill: number; size: number }>();
  let id = 1;
  for (let step = 0; step < 20000; step++) {
    if (live.size > 0 && random() < 0.5) {
      const owners = [...live.keys()];
      const owner = owners[Math.floor(random() * owners.length)] as number;
      release(owner);
      live.delete(owner);
    } else {
      const size = Math.floor(random() * 500);
      const key = `key-${id}`;
      const fill = id % 256;
      store(id, keyOf(key), bytesOf(size, fill), size);
      live.set(id++, { key, fill, size });
    }
    if (step % 1000 === 0 || step === 19999) {
      let sum = 0;
      for (const [owner, { key, fill, size }] of live) {
        sum += recordBytes(key.length, size);
        assert.deepEqual(view(owner).byteSlice(), bytesOf(size, fill));
        assert.ok(keyIs(owner, key));
      }
      assert.equal(arena.liveBytes, sum);
      assert.ok(arena.usedBytes - arena.liveBytes <= 2 * 4096 + 512);
    }
  }
});
