// arena.ts: ValueArena, the block storage behind a cache's entries: each entry's key and
// value as one record in large shared blocks, written once, so views handed out never change.
import type { ByteView } from './byteview.js';
import { viewSlots } from './byteview-internal.js';
import type { KeyWords } from './key-bytes.js';

const encoder = new TextEncoder();

/**
 * RECORD_HEADER_BYTES is what a record holds before its key: its owner (an int32, or
 * RELEASED), then the key's length in the low KEY_BITS bits of a second int32 and the
 * value's length in the bits above. Records start on 4-byte boundaries.
 */
export const RECORD_HEADER_BYTES = 8;
const KEY_BITS = 14;
const KEY_MASK = (1 << KEY_BITS) - 1;
/** The longest key a record can hold: 16 KiB − 1. */
export const MAX_RECORD_KEY_BYTES = KEY_MASK;
/** The owner of a record its owner has let go. */
const RELEASED = -1;

/**
 * The blocks being written, one per kind of record, so that records of like lifetimes
 * share blocks: new records, new records expected to leave soon (`shortLived`), and
 * records compaction moved (which have already outlived others).
 */
const NEW = 0;
const SHORT_LIVED = 1;
const MOVED = 2;
/** OPEN_BLOCKS is the number of blocks being written at once. */
const OPEN_BLOCKS = 3;
/**
 * LEAST_SLACK_BLOCKS is the least slack, in blocks: one more than the blocks being
 * written, which compaction never picks, so that past the slack the other blocks hold
 * at least a block's worth of released bytes.
 */
export const LEAST_SLACK_BLOCKS = OPEN_BLOCKS + 1;

/** recordBytes is the size of a record with a key and value of these lengths: 4-byte aligned. */
export function recordBytes(keyBytes: number, valueBytes: number): number {
  return (RECORD_HEADER_BYTES + keyBytes + valueBytes + 3) & ~3;
}

/** A block: bytes written once, front to back; `i32` reads the record headers of the same memory. */
interface Block {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  /** Bytes of records written so far. */
  written: number;
  /** Bytes written, plus the unwritten end once the block is full. */
  used: number;
  /** Bytes of records whose owners still hold them. */
  live: number;
}

/** ValueArenaOptions configure a {@link ValueArena}. */
export interface ValueArenaOptions {
  /** Size of each block in bytes, a multiple of 4. Records over `blockBytes / 8` are not taken. */
  blockBytes: number;
  /**
   * Bytes of released records the arena lets its blocks keep before it compacts: it
   * then copies the live records out of the emptiest block and lets that block go.
   * At least {@link LEAST_SLACK_BLOCKS} blocks' worth is kept whatever is given.
   */
  slackBytes: number;
  /**
   * Bytes the arena may fill, live and released together, before `slackBytes` is all
   * the released space it keeps. Below it, released bytes may grow to a quarter of the
   * live bytes (never past `budgetBytes` in all), so that compaction finds emptier
   * blocks and copies less. Default 0: `slackBytes` always.
   */
  budgetBytes?: number | undefined;
  /**
   * place is told where the record of `owner` lies: at once by {@link ValueArena.store},
   * and again whenever compaction moves it. `block` and `offset` are what the other
   * methods take to find it.
   */
  place(owner: number, block: number, offset: number): void;
}

/**
 * ValueArena keeps a cache's entries as records in large shared blocks: a record is
 * the entry's owner (a number the cache gives, its slot), the key's UTF-8 bytes and
 * the value's bytes. In V8 every `ArrayBuffer` costs a few hundred bytes beyond its
 * contents and every object tens, so many entries per allocation, and no object per
 * entry, is what keeps a full cache close to its byte budget.
 *
 * A block is written front to back and never rewritten, so a view of a value (made
 * by {@link ValueArena.viewAt}) stays valid for as long as a reader keeps it. When an
 * entry leaves the cache its record is released; once released bytes exceed the
 * slack (`slackBytes`, or more while the arena is well within `budgetBytes`), the
 * block with the fewest live bytes is compacted: its live records are copied into
 * the block of moved records, their owners are told where (`place`), and the arena
 * forgets the old block. A reader still holding a view of the old block keeps that
 * block's memory alive until it drops the view; its bytes never change.
 *
 * Every block the arena lets go stays in memory until V8's next full collection, and
 * V8 counts it towards starting that collection. So the arena keeps records of like
 * lifetimes together (new, short-lived, moved), and compacts as seldom as its budget
 * allows, to let go of as few blocks as it can.
 */
export class ValueArena {
  readonly #blockBytes: number;
  readonly #largest: number;
  readonly #slack: number;
  readonly #place: (owner: number, block: number, offset: number) => void;
  /** Blocks by index; an index is reused once its block is let go. */
  #blocks: (Block | undefined)[] = [];
  #freeIndexes: number[] = [];
  #count = 0;
  /** The index of the block being written for each kind of record (NEW, SHORT_LIVED, MOVED), -1 for none. */
  readonly #open = [-1, -1, -1];
  readonly #budget: number;
  /** Sum of `used` over the blocks. */
  #used = 0;
  /** Sum of `live` over the blocks. */
  #live = 0;

  constructor(options: ValueArenaOptions) {
    this.#blockBytes = options.blockBytes;
    this.#largest = Math.floor(options.blockBytes / 8);
    this.#slack = Math.max(options.slackBytes, LEAST_SLACK_BLOCKS * options.blockBytes);
    this.#budget = options.budgetBytes ?? 0;
    this.#place = options.place;
  }

  /** fits tells whether a record of a key and value of these many bytes is stored in a block. */
  fits(keyBytes: number, valueBytes: number): boolean {
    return keyBytes <= KEY_MASK && RECORD_HEADER_BYTES + keyBytes + valueBytes <= this.#largest;
  }

  /**
   * store writes a record of `owner`: the key's bytes, and `value` (bytes, a string
   * as UTF-8 of `valueBytes` bytes, or nothing), then calls `place` with where it
   * lies. The lengths must pass {@link ValueArena.fits}. A `shortLived` record (one
   * expected to be released before most others, as a hot cache's are) is written
   * into a block of such records, so that blocks empty together and compaction has
   * little to move.
   */
  store(
    owner: number,
    key: KeyWords,
    value: Uint8Array | string | null,
    valueBytes: number,
    shortLived = false,
  ): void {
    const keyBytes = key.length;
    const size = recordBytes(keyBytes, valueBytes);
    const index = this.#room(size, shortLived ? SHORT_LIVED : NEW);
    const block = this.#blocks[index] as Block;
    const off = block.written;
    const { u8, i32 } = block;
    const at = off >> 2;
    i32[at] = owner;
    i32[at + 1] = keyBytes | (valueBytes << KEY_BITS);
    // Whole words: the zeros past the key's end are within the record, and the value
    // is written over them.
    const words = key.words;
    for (let w = 0, count = (keyBytes + 3) >> 2; w < count; w++) {
      i32[at + 2 + w] = words[w] as number;
    }
    const v = off + RECORD_HEADER_BYTES + keyBytes;
    if (typeof value === 'string') encoder.encodeInto(value, u8.subarray(v, v + valueBytes));
    else if (value !== null) u8.set(value, v);
    this.#wrote(owner, index, block, size);
    // More live bytes can mean less room under the budget for released ones.
    if (this.#used - this.#live > this.#slackNow()) this.#compact();
  }

  /** keyIs tells whether the record at `block`, `offset` has the key whose bytes are `key`. */
  keyIs(block: number, offset: number, key: KeyWords): boolean {
    const b = this.#blocks[block] as Block;
    const i32 = b.i32;
    const at = (offset >> 2) + 2;
    const n = key.length;
    if (((i32[at - 1] as number) & KEY_MASK) !== n) return false;
    const words = key.words;
    const full = n >> 2;
    for (let w = 0; w < full; w++) if (words[w] !== i32[at + w]) return false;
    // The last bytes one by one: past the key's end, the record holds its value.
    const u8 = b.u8;
    const bytes = key.bytes;
    const k = offset + RECORD_HEADER_BYTES;
    for (let i = full << 2; i < n; i++) if (bytes[i] !== u8[k + i]) return false;
    return true;
  }

  /**
   * viewAt returns a view of the `length` bytes at `start` of `block`: a value whose
   * place its owner knows without reading the record's header (a record's value starts
   * {@link RECORD_HEADER_BYTES} and its key's length after the record's offset).
   */
  viewAt(block: number, start: number, length: number): ByteView {
    return viewSlots.make((this.#blocks[block] as Block).u8, start, length);
  }

  /**
   * release tells the arena that the owner no longer holds the record at `block`,
   * `offset`; its bytes are reclaimed at a later compaction. This may compact now,
   * moving other records (and calling `place` for them).
   */
  release(block: number, offset: number): void {
    const b = this.#blocks[block] as Block;
    const at = offset >> 2;
    const lengths = b.i32[at + 1] as number;
    b.i32[at] = RELEASED;
    const size = recordBytes(lengths & KEY_MASK, lengths >>> KEY_BITS);
    b.live -= size;
    this.#live -= size;
    if (this.#used - this.#live > this.#slackNow()) this.#compact();
  }

  /**
   * #slackNow is the released bytes kept before compacting: the least slack (`slackBytes`,
   * at least {@link LEAST_SLACK_BLOCKS} blocks), or more while live bytes are well within
   * the budget: a quarter of them, or what is left of the budget, whichever is less.
   */
  #slackNow(): number {
    const live = this.#live;
    const roomy = Math.min(live / 4, this.#budget - live);
    return Math.max(roomy, this.#slack);
  }

  /** clear forgets every block; views already handed out stay valid. */
  clear(): void {
    this.#blocks = [];
    this.#freeIndexes = [];
    this.#count = 0;
    this.#open.fill(-1);
    this.#used = 0;
    this.#live = 0;
  }

  /** usedBytes is the sum of bytes written into the blocks the arena keeps. */
  get usedBytes(): number {
    return this.#used;
  }

  /** liveBytes is the sum of bytes of the records the arena holds for their owners. */
  get liveBytes(): number {
    return this.#live;
  }

  /** blockCount is the number of blocks the arena keeps. */
  get blockCount(): number {
    return this.#count;
  }

  /**
   * #wrote counts the `size` bytes of `owner`'s record, just written at the end of
   * `block` (whose index is `index`), as live, and tells the owner where it lies.
   */
  #wrote(owner: number, index: number, block: Block, size: number): void {
    const off = block.written;
    block.written += size;
    block.used += size;
    block.live += size;
    this.#used += size;
    this.#live += size;
    this.#place(owner, index, off);
  }

  /**
   * #room returns the index of the block being written for records of `kind` if it has
   * `bytes` free at its end, else of a new block it starts for them.
   */
  #room(bytes: number, kind: number): number {
    const open = this.#open;
    const head = open[kind] as number;
    if (head !== -1) {
      const block = this.#blocks[head] as Block;
      if (block.written + bytes <= block.u8.length) return head;
      // The unwritten end of a full block is as lost as a released record.
      this.#used += block.u8.length - block.written;
      block.used = block.u8.length;
    }
    const u8 = new Uint8Array(this.#blockBytes);
    const block: Block = { u8, i32: new Int32Array(u8.buffer), written: 0, used: 0, live: 0 };
    const index = this.#freeIndexes.pop() ?? this.#blocks.length;
    this.#blocks[index] = block;
    this.#count++;
    open[kind] = index;
    return index;
  }

  /**
   * #compact empties the blocks with the fewest live bytes until released bytes are
   * within the slack. Neither a block being written nor one with nothing released is
   * chosen; the slack is a block more than the blocks being written can hold, so past
   * it the other blocks hold more than a block's worth of released bytes to compact. A
   * round may leave the unwritten end of a full block, so the loop is also bounded by
   * the block count. The live records move into a block of moved
   * records: having outlived the others of their block, they are likely to outlive
   * new ones too.
   */
  #compact(): void {
    const open = this.#open;
    // Bounded as well: a round may fill a block and leave its end unwritten.
    for (
      let rounds = this.#count;
      rounds > 0 && this.#used - this.#live > this.#slackNow();
      rounds--
    ) {
      let victim = -1;
      let fewest = Number.POSITIVE_INFINITY;
      const blocks = this.#blocks;
      for (let i = 0; i < blocks.length; i++) {
        const b = blocks[i];
        if (
          b !== undefined &&
          b.live < b.used &&
          b.live < fewest &&
          i !== open[NEW] &&
          i !== open[SHORT_LIVED] &&
          i !== open[MOVED]
        ) {
          victim = i;
          fewest = b.live;
        }
      }
      if (victim === -1) return;
      const from = blocks[victim] as Block;
      // Forgotten first: the moves below must not write into it.
      blocks[victim] = undefined;
      this.#count--;
      this.#used -= from.used;
      this.#live -= from.live;
      for (let off = 0; off < from.written; ) {
        const at = off >> 2;
        const owner = from.i32[at] as number;
        const lengths = from.i32[at + 1] as number;
        const size = recordBytes(lengths & KEY_MASK, lengths >>> KEY_BITS);
        if (owner !== RELEASED) {
          const index = this.#room(size, MOVED);
          const to = this.#blocks[index] as Block;
          to.u8.set(from.u8.subarray(off, off + size), to.written);
          this.#wrote(owner, index, to, size);
        }
        off += size;
      }
      this.#freeIndexes.push(victim);
    }
  }
}
