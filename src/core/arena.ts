// arena.ts: ValueArena, the block storage behind a cache's values: many values per
// allocation, and compaction instead of reuse, so views handed out never change.
import type { ByteView } from './byteview.js';
import { viewSlots } from './byteview-internal.js';

const encoder = new TextEncoder();

/** A block of the arena: bytes written once, front to back, and the views that hold them. */
interface Block {
  readonly arena: ValueArena;
  readonly buf: Uint8Array;
  /** Bytes written so far; the block is full when a value does not fit after them. */
  used: number;
  /** Bytes of values the cache still holds. */
  live: number;
  /** Every view written here or moved here (some since released). */
  views: ByteView[];
}

/** ValueArenaOptions configure a {@link ValueArena}. */
export interface ValueArenaOptions {
  /** Size of each block in bytes. Values over `blockBytes / 8` are not stored in blocks. */
  blockBytes: number;
  /**
   * Bytes of released values the arena lets its blocks keep before it compacts: it
   * then copies the live values out of the emptiest block and lets that block go.
   * At least two blocks' worth is kept whatever is given.
   */
  slackBytes: number;
}

/**
 * ValueArena stores a cache's small values in large shared blocks instead of one
 * `ArrayBuffer` each: in V8 every `ArrayBuffer` costs a few hundred bytes beyond
 * its contents, and freed ones fragment the heap that `malloc` cannot give back.
 *
 * A block is written front to back and never rewritten, so a view of it stays
 * valid for as long as a reader keeps it. When a value leaves the cache it is
 * released; once released bytes exceed `slackBytes`, the block with the fewest live
 * bytes is compacted: its live values are copied into the current block, their
 * views are pointed at the copies, and the arena forgets the old block (readers
 * still holding an old view keep that block alive until they drop it).
 */
export class ValueArena {
  readonly #blockBytes: number;
  readonly #largest: number;
  readonly #slack: number;
  #blocks: Block[] = [];
  #head: Block | undefined;
  /** Sum of `used` over the blocks. */
  #used = 0;
  /** Sum of `live` over the blocks. */
  #live = 0;

  constructor(options: ValueArenaOptions) {
    this.#blockBytes = options.blockBytes;
    this.#largest = Math.floor(options.blockBytes / 8);
    this.#slack = Math.max(options.slackBytes, 2 * options.blockBytes);
  }

  /** fits tells whether a value of `bytes` bytes is stored in a block. */
  fits(bytes: number): boolean {
    return bytes <= this.#largest;
  }

  /**
   * store copies `value` (bytes, or a string as UTF-8 of `bytes` bytes) into a block
   * and returns a view held by the arena until {@link ValueArena.release}.
   * `bytes` must not exceed the limit of {@link ValueArena.fits}.
   */
  store(value: Uint8Array | string, bytes: number): ByteView {
    const block = this.#room(bytes);
    const off = block.used;
    if (typeof value === 'string') encoder.encodeInto(value, block.buf.subarray(off, off + bytes));
    else block.buf.set(value, off);
    block.used += bytes;
    this.#used += bytes;
    const view = viewSlots.make(block.buf, off, bytes);
    this.#hold(block, view, bytes);
    return view;
  }

  /** holds tells whether `view` is a value the arena holds. */
  holds(view: ByteView): boolean {
    return (viewSlots.holder(view) as Block | undefined)?.arena === this;
  }

  /**
   * release tells the arena that the cache no longer holds `view`; its bytes are
   * reclaimed at a later compaction. A view the arena does not hold (another
   * arena's, or one already released) is ignored.
   */
  release(view: ByteView): void {
    const block = viewSlots.holder(view) as Block | undefined;
    if (block === undefined || block.arena !== this) return;
    viewSlots.hold(view, undefined);
    block.live -= view.length;
    this.#live -= view.length;
    if (this.#used - this.#live > this.#slack) this.#compact();
  }

  /** clear forgets every block; views already handed out stay valid. */
  clear(): void {
    for (const b of this.#blocks) for (const v of b.views) viewSlots.hold(v, undefined);
    this.#blocks = [];
    this.#head = undefined;
    this.#used = 0;
    this.#live = 0;
  }

  /** usedBytes is the sum of bytes written into the blocks the arena keeps. */
  get usedBytes(): number {
    return this.#used;
  }

  /** liveBytes is the sum of bytes of the values the arena holds. */
  get liveBytes(): number {
    return this.#live;
  }

  /** blockCount is the number of blocks the arena keeps. */
  get blockCount(): number {
    return this.#blocks.length;
  }

  #hold(block: Block, view: ByteView, bytes: number): void {
    viewSlots.hold(view, block);
    block.live += bytes;
    this.#live += bytes;
    block.views.push(view);
  }

  /** #room returns a block with `bytes` free at its end, starting a new one if needed. */
  #room(bytes: number): Block {
    const head = this.#head;
    if (head !== undefined) {
      if (head.used + bytes <= head.buf.length) return head;
      // The unwritten end of a full block is as lost as a released value.
      this.#used += head.buf.length - head.used;
      head.used = head.buf.length;
    }
    const block: Block = {
      arena: this,
      buf: new Uint8Array(this.#blockBytes),
      used: 0,
      live: 0,
      views: [],
    };
    this.#blocks.push(block);
    this.#head = block;
    return block;
  }

  /**
   * #compact empties the blocks with the fewest live bytes until released bytes are
   * within the slack. A block with nothing released is never chosen, and the slack
   * is at least two blocks, so every round frees bytes and the loop ends.
   */
  #compact(): void {
    // Bounded as well: a round may fill the current block and leave its end unwritten.
    for (
      let rounds = this.#blocks.length;
      rounds > 0 && this.#used - this.#live > this.#slack;
      rounds--
    ) {
      let victim: Block | undefined;
      let index = -1;
      this.#blocks.forEach((b, i) => {
        if (b !== this.#head && b.live < b.used && (victim === undefined || b.live < victim.live)) {
          victim = b;
          index = i;
        }
      });
      if (victim === undefined) return;
      this.#blocks.splice(index, 1);
      this.#used -= victim.used;
      this.#live -= victim.live;
      for (const view of victim.views) {
        if (viewSlots.holder(view) !== victim) continue;
        const bytes = view.length;
        const to = this.#room(bytes);
        const from = viewSlots.offset(view);
        to.buf.set(victim.buf.subarray(from, from + bytes), to.used);
        viewSlots.move(view, to.buf, to.used, to);
        to.used += bytes;
        this.#used += bytes;
        to.live += bytes;
        this.#live += bytes;
        to.views.push(view);
      }
    }
  }
}
