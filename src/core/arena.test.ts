// arena.test.ts: ValueArena keeps values in shared blocks, compacts released space,
// and never changes the bytes of a view it handed out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueArena } from './arena.js';
import type { ByteView } from './byteview.js';
import { viewBytes } from './byteview-internal.js';

const bytesOf = (n: number, fill: number) => new Uint8Array(n).fill(fill);

test('store copies bytes and strings into a block; the views read them back', () => {
  const arena = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  const src = bytesOf(10, 7);
  const a = arena.store(src, 10);
  const b = arena.store('héllo', Buffer.byteLength('héllo'));
  src[0] = 9;
  assert.deepEqual(a.byteSlice(), bytesOf(10, 7));
  assert.equal(b.toString(), 'héllo');
  assert.equal(b.length, 6);
  assert.equal(arena.liveBytes, 16);
  assert.equal(arena.usedBytes, 16);
  assert.equal(arena.blockCount, 1);
  assert.ok(arena.holds(a));
  assert.equal(viewBytes(a).buffer, viewBytes(b).buffer, 'one block holds both');
});

test('fits: values over 1/8 of a block are not stored in blocks', () => {
  const arena = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  assert.ok(arena.fits(128));
  assert.ok(!arena.fits(129));
});

test('release counts bytes as free; compaction moves live values and drops the emptiest block', () => {
  // Blocks of 1 KiB hold 8 values of 128 B; the slack is two blocks.
  const arena = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  const views: ByteView[] = [];
  for (let i = 0; i < 64; i++) views.push(arena.store(bytesOf(128, i), 128));
  assert.equal(arena.blockCount, 8);
  // Keep one value in eight: every block ends up with 1 live of 8.
  for (let i = 0; i < 64; i++) if (i % 8 !== 0) arena.release(views[i] as ByteView);
  assert.equal(arena.liveBytes, 8 * 128);
  assert.ok(arena.usedBytes - arena.liveBytes <= 2 * 1024, 'released bytes within the slack');
  assert.ok(arena.blockCount < 8, `blocks after compaction: ${arena.blockCount}`);
  for (let i = 0; i < 64; i += 8) {
    const v = views[i] as ByteView;
    assert.ok(arena.holds(v));
    assert.deepEqual(v.byteSlice(), bytesOf(128, i), `value ${i} survived its move`);
  }
  // The live values now lie in the blocks the arena keeps, not in the ones it let go.
  const buffers = new Set(views.filter((v) => arena.holds(v)).map((v) => viewBytes(v).buffer));
  assert.ok(
    buffers.size <= arena.blockCount,
    `${buffers.size} buffers, ${arena.blockCount} blocks`,
  );
});

test('a released view a reader kept stays valid through compaction and later stores', () => {
  const arena = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  const kept = arena.store(bytesOf(100, 42), 100);
  const keptBytes = viewBytes(kept);
  arena.release(kept);
  assert.ok(!arena.holds(kept));
  // Churn: many values stored and released, so old blocks are compacted and dropped.
  for (let i = 0; i < 500; i++) arena.release(arena.store(bytesOf(100, i % 256), 100));
  assert.ok(arena.usedBytes - arena.liveBytes <= 2 * 1024);
  assert.deepEqual(kept.byteSlice(), bytesOf(100, 42));
  assert.deepEqual(keptBytes, bytesOf(100, 42), 'bytes a view held are never rewritten');
});

test('release of a view the arena does not hold is ignored, and twice is once', () => {
  const arena = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  const other = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  const v = other.store(bytesOf(10, 1), 10);
  const mine = arena.store(bytesOf(10, 2), 10);
  arena.release(v);
  assert.equal(arena.liveBytes, 10);
  assert.ok(other.holds(v) && !arena.holds(v));
  arena.release(mine);
  arena.release(mine);
  assert.equal(arena.liveBytes, 0);
  assert.equal(other.liveBytes, 10);
});

test('clear forgets every block; views handed out keep their bytes', () => {
  const arena = new ValueArena({ blockBytes: 1024, slackBytes: 0 });
  const v = arena.store('kept', 4);
  arena.clear();
  assert.equal(arena.blockCount, 0);
  assert.equal(arena.liveBytes, 0);
  assert.ok(!arena.holds(v));
  assert.equal(v.toString(), 'kept');
  arena.store('next', 4);
  assert.equal(v.toString(), 'kept');
});

test('random stores and releases: live bytes add up, values never change, slack is kept', () => {
  let seed = 1;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const arena = new ValueArena({ blockBytes: 4096, slackBytes: 4096 });
  const live = new Map<number, { view: ByteView; fill: number; size: number }>();
  let id = 0;
  for (let step = 0; step < 20000; step++) {
    if (live.size > 0 && random() < 0.5) {
      const keys = [...live.keys()];
      const k = keys[Math.floor(random() * keys.length)] as number;
      arena.release((live.get(k) as { view: ByteView }).view);
      live.delete(k);
    } else {
      const size = 1 + Math.floor(random() * 512);
      const fill = id % 256;
      live.set(id++, { view: arena.store(bytesOf(size, fill), size), fill, size });
    }
    if (step % 1000 === 0 || step === 19999) {
      let sum = 0;
      for (const { view, fill, size } of live.values()) {
        sum += size;
        assert.deepEqual(view.byteSlice(), bytesOf(size, fill));
      }
      assert.equal(arena.liveBytes, sum);
      assert.ok(arena.usedBytes - arena.liveBytes <= 2 * 4096 + 512);
    }
  }
});
