// arena.test.ts: ValueArena keeps records (owner, key, value) in shared blocks, compacts
// released space, tells owners where their records went, and never changes the bytes of a
// view it handed out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seeded } from '../../test/support/seeded.js';
import { LEAST_SLACK_BLOCKS, RECORD_HEADER_BYTES, recordBytes, ValueArena } from './arena.js';
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
function arenaOf(blockBytes: number, slackBytes: number, budgetBytes?: number) {
  const places = new Map<number, { block: number; offset: number }>();
  const lengths = new Map<number, { key: number; value: number }>();
  /** Bytes of records compaction moved, and how many moves. */
  const moves = { bytes: 0, count: 0 };
  const arena = new ValueArena({
    blockBytes,
    slackBytes,
    budgetBytes,
    place: (owner, block, offset) => {
      if (places.has(owner)) {
        const stored = lengths.get(owner) as { key: number; value: number };
        moves.bytes += recordBytes(stored.key, stored.value);
        moves.count++;
      }
      places.set(owner, { block, offset });
    },
  });
  const at = (owner: number) => {
    const p = places.get(owner);
    assert.ok(p !== undefined, `owner ${owner} was placed`);
    return p;
  };
  const store: ValueArena['store'] = (owner, key, value, valueBytes, shortLived) => {
    lengths.set(owner, { key: key.length, value: valueBytes });
    arena.store(owner, key, value, valueBytes, shortLived);
  };
  return {
    arena,
    places,
    moves,
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
  // Blocks of 1 KiB hold 8 records of 128 B; the slack is four blocks.
  const { arena, store, places, view, release } = arenaOf(1024, 0);
  for (let i = 0; i < 64; i++) store(i + 1, keyOf(`k${i}`), bytesOf(110, i), 110);
  assert.equal(arena.blockCount, 8);
  const before = new Map(places);
  // Keep one record in eight: every block ends up with 1 live of 8.
  for (let i = 0; i < 64; i++) if (i % 8 !== 0) release(i + 1);
  assert.ok(
    arena.usedBytes - arena.liveBytes <= LEAST_SLACK_BLOCKS * 1024,
    'released bytes within the slack',
  );
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
  assert.ok(arena.usedBytes - arena.liveBytes <= LEAST_SLACK_BLOCKS * 1024);
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
      assert.ok(arena.usedBytes - arena.liveBytes <= LEAST_SLACK_BLOCKS * 4096 + 512);
    }
  }
});

test('new, short-lived and moved records are written into blocks of their own', () => {
  const { store, view, release, places } = arenaOf(1024, 0);
  const bufferOf = (owner: number) => viewBytes(view(owner)).buffer;
  // Interleaved: three records of each kind, 128 B each.
  for (let i = 1; i <= 6; i++) store(i, keyOf(`k${i}`), bytesOf(110, i), 110, i % 2 === 0);
  assert.equal(bufferOf(1), bufferOf(3));
  assert.equal(bufferOf(1), bufferOf(5));
  assert.equal(bufferOf(2), bufferOf(4));
  assert.equal(bufferOf(2), bufferOf(6));
  assert.notEqual(bufferOf(1), bufferOf(2), 'short-lived records share no block with others');
  // Fill 8 more blocks of new records, then release all but one per block: compaction moves
  // the survivors, and none of them lands in a block that new records are written into.
  for (let i = 100; i < 164; i++) store(i, keyOf(`k${i}`), bytesOf(110, i % 256), 110);
  const before = new Map(places);
  for (let i = 100; i < 164; i++) if ((i - 100) % 8 !== 0) release(i);
  const moved = [...places.keys()].filter((o) => before.get(o)?.block !== places.get(o)?.block);
  assert.ok(moved.length > 0, 'compaction moved records');
  store(200, keyOf('after'), bytesOf(110, 1), 110);
  store(201, keyOf('after, short'), bytesOf(110, 2), 110, true);
  for (const owner of moved) {
    assert.notEqual(bufferOf(owner), bufferOf(200), `moved record ${owner} beside a new one`);
    assert.notEqual(
      bufferOf(owner),
      bufferOf(201),
      `moved record ${owner} beside a short-lived one`,
    );
  }
  for (let i = 100; i < 164; i += 8) assert.deepEqual(view(i).byteSlice(), bytesOf(110, i % 256));
});

test('well within its budget, the arena lets released bytes reach a quarter of the live ones', () => {
  // 400 records of 128 B in 1 KiB blocks: 50 blocks, 51,200 live bytes.
  const fill = (budgetBytes: number) => {
    const a = arenaOf(1024, 0, budgetBytes);
    // Keys of 10 bytes: records of 128 B, 8 to a block with nothing left at its end.
    for (let i = 0; i < 400; i++) a.store(i, keyOf(`k${i}`.padEnd(10)), bytesOf(110, i % 256), 110);
    return a;
  };
  // With a budget of 1 MiB: after r releases, live is (400 − r) × 128 and released r × 128,
  // so the first compaction comes with the 81st release.
  const roomy = fill(1 << 20);
  for (let i = 0; i < 80; i++) roomy.release(i * 4);
  assert.equal(roomy.moves.count, 0, 'no compaction within a quarter of the live bytes');
  assert.equal(roomy.arena.blockCount, 50);
  roomy.release(80 * 4);
  assert.ok(roomy.moves.count > 0, 'the next release compacts');
  const { usedBytes, liveBytes } = roomy.arena;
  assert.ok(usedBytes - liveBytes <= liveBytes / 4, `${usedBytes - liveBytes} released bytes kept`);
  // With a budget the live bytes fill, an entry replaced by another releases as much as is
  // stored: released bytes stay within the least slack, four blocks.
  const budget = 400 * 128;
  const full = fill(budget);
  for (let i = 0; i < 200; i++) {
    full.release(i * 2);
    full.store(1000 + i, keyOf(`n${i}`.padEnd(10)), bytesOf(110, 1), 110);
    const { usedBytes, liveBytes } = full.arena;
    assert.ok(
      usedBytes - liveBytes <= LEAST_SLACK_BLOCKS * 1024,
      `${usedBytes - liveBytes} released bytes kept after ${i + 1} replacements`,
    );
    assert.equal(liveBytes, budget);
  }
  assert.ok(full.moves.count > 0, 'at its budget, the arena compacts');
});

test('random stores and releases within a budget: the arena never holds more than the budget allows', () => {
  const random = seeded(3);
  const budget = 64 * 1024;
  const { arena, store, view, release } = arenaOf(1024, 0, budget);
  const live = new Map<number, number>();
  for (let id = 1; id < 20000; id++) {
    // Live bytes wander between none and the whole budget.
    const target = (0.5 + 0.5 * Math.sin(id / 2000)) * budget;
    if (live.size > 0 && (arena.liveBytes > target || random() < 0.3)) {
      const owners = [...live.keys()];
      const owner = owners[Math.floor(random() * owners.length)] as number;
      release(owner);
      live.delete(owner);
    } else {
      const size = Math.floor(random() * 100);
      store(id, keyOf(`k${id}`), bytesOf(size, id % 256), size, random() < 0.3);
      live.set(id, size);
    }
    const slack = Math.max(
      LEAST_SLACK_BLOCKS * 1024,
      Math.min(arena.liveBytes / 4, budget - arena.liveBytes),
    );
    // A record's worth more: a block closes with its end unwritten.
    assert.ok(arena.usedBytes - arena.liveBytes <= slack + 128, `step ${id}`);
  }
  for (const [owner, size] of live)
    assert.deepEqual(view(owner).byteSlice(), bytesOf(size, owner % 256));
});

test('compaction copies little when records of unlike lifetimes come mixed', () => {
  /**
   * Records stored per move compaction makes: 620 long-lived records, 20 of them rewritten
   * often (hot keys) and the rest seldom, among a stream of short-lived ones that each
   * leave 60 stores later, as a hot cache's entries do.
   */
  const movesPerStore = (budgetBytes: number) => {
    const random = seeded(11);
    const { store, release, moves } = arenaOf(4096, 0, budgetBytes);
    let stores = 0;
    const put = (owner: number, shortLived: boolean) => {
      store(owner, keyOf('k'), bytesOf(100, 1), 100, shortLived);
      stores++;
    };
    const rewrite = (owner: number) => {
      release(owner);
      put(owner, false);
    };
    for (let i = 0; i < 620; i++) put(i, false);
    const queue: number[] = [];
    for (let step = 0; step < 50000; step++) {
      const r = random();
      if (r < 0.02) rewrite(Math.floor(random() * 600));
      else if (r < 0.3) rewrite(600 + Math.floor(random() * 20));
      else {
        put(10000 + step, true);
        queue.push(10000 + step);
        if (queue.length > 60) release(queue.shift() as number);
      }
    }
    return moves.count / stores;
  };
  // One block for all (as the arena once wrote): 4.0 moves per store at the least slack.
  const tight = movesPerStore(0);
  assert.ok(tight < 2.5, `moves per store, least slack: ${tight.toFixed(2)}`);
  const roomy = movesPerStore(1 << 20);
  assert.ok(roomy < 1, `moves per store, well within the budget: ${roomy.toFixed(2)}`);
});
