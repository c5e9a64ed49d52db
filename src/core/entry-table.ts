// entry-table.ts: EntryTable, a cache's entries as numbered slots in one Int32Array: the
// hash chains that find them, the recency lists that order them, where their bytes lie,
// and a short key's own bytes.
import type { KeyWords } from './key-bytes.js';

/** The fields of a slot, 12 int32s (48 bytes) side by side, so one lookup touches one place. */
const HASH = 0;
const CHAIN = 1;
const NEXT = 2;
const PREV = 3;
/** The block of the entry's bytes in the low 24 bits, its flags in the 8 above. */
const BLOCK = 4;
const OFFSET = 5;
/** The key's length in the low LENGTH_BITS bits, the value's length in the bits above. */
const LENGTHS = 6;
/** A short key's UTF-8 bytes, zero-padded: INLINE_KEY_BYTES of them. */
const KEY = 7;
const STRIDE = 12;
const BLOCK_MASK = 0xff_ffff;
const FLAG_SHIFT = 24;
const LENGTH_BITS = 14;
const LENGTH_MASK = (1 << LENGTH_BITS) - 1;

/** INLINE_KEY_BYTES is the longest key, in UTF-8 bytes, that a slot holds itself ({@link EntryTable.setKey}). */
export const INLINE_KEY_BYTES = (STRIDE - KEY) * 4;

/** Slots allocated at first; the table grows by half when full. */
const INITIAL_SLOTS = 16;

/**
 * EntryTable keeps a cache's entries as slots: numbers from `lists` up, each with the
 * key's hash, the next slot of its hash chain, its links in one of `lists` recency
 * lists, where its bytes lie (a block and an offset, which the table stores but does
 * not read), the lengths of its key and value, 8 bits of flags, and the bytes of a key
 * of up to {@link INLINE_KEY_BYTES}, all in one Int32Array with no object per entry.
 * Callers compare keys themselves, walking the chain from {@link EntryTable.first}
 * with {@link EntryTable.chained}: a short key with {@link EntryTable.keyIs}, in the
 * slot the walk reads anyway, so that a hit on it touches no other memory.
 *
 * Slots 0 to `lists - 1` are the lists' sentinels: list `l` runs from
 * {@link EntryTable.newest} to {@link EntryTable.oldest}, either being `l` itself
 * when the list is empty; 0 also means "no slot" in a chain. Hash buckets are a
 * power of two, at least the capacity, so chains stay short. A slot costs 48 bytes,
 * plus 4 to 8 of bucket heads, times up to 1.5 for the room the table grows into.
 */
export class EntryTable {
  #slots: Int32Array;
  #heads: Int32Array;
  #mask: number;
  #capacity: number;
  /** The next slot never used. */
  #top: number;
  /** Freed slots, chained through NEXT; 0 when none. */
  #free = 0;

  constructor(lists: number) {
    this.#capacity = Math.max(INITIAL_SLOTS, lists + 1);
    this.#slots = new Int32Array(this.#capacity * STRIDE);
    this.#heads = new Int32Array(bucketsFor(this.#capacity));
    this.#mask = this.#heads.length - 1;
    this.#top = lists;
    for (let l = 0; l < lists; l++) {
      this.#slots[l * STRIDE + NEXT] = l;
      this.#slots[l * STRIDE + PREV] = l;
    }
  }

  /** capacity is the number of slots the table has room for before it grows. */
  get capacity(): number {
    return this.#capacity;
  }

  /** first is the first slot of the chain where `hash` would be, 0 when none. */
  first(hash: number): number {
    return this.#heads[hash & this.#mask] as number;
  }

  /** chained is the slot after `slot` in its chain, 0 when none. */
  chained(slot: number): number {
    return this.#slots[slot * STRIDE + CHAIN] as number;
  }

  /** hashOf is the hash `slot` was added with. */
  hashOf(slot: number): number {
    return this.#slots[slot * STRIDE + HASH] as number;
  }

  /** blockOf is the block `slot` was placed in. */
  blockOf(slot: number): number {
    return (this.#slots[slot * STRIDE + BLOCK] as number) & BLOCK_MASK;
  }

  /** offsetOf is the offset `slot` was placed at. */
  offsetOf(slot: number): number {
    return this.#slots[slot * STRIDE + OFFSET] as number;
  }

  /** flagsOf is the flags `slot` was added with. */
  flagsOf(slot: number): number {
    return (this.#slots[slot * STRIDE + BLOCK] as number) >>> FLAG_SHIFT;
  }

  /** keyLengthOf is the key length set by {@link EntryTable.setLengths}. */
  keyLengthOf(slot: number): number {
    return (this.#slots[slot * STRIDE + LENGTHS] as number) & LENGTH_MASK;
  }

  /** valueLengthOf is the value length set by {@link EntryTable.setLengths}. */
  valueLengthOf(slot: number): number {
    return (this.#slots[slot * STRIDE + LENGTHS] as number) >>> LENGTH_BITS;
  }

  /** setLengths records the lengths of the key (below 2^14) and value (below 2^18) of `slot`. */
  setLengths(slot: number, keyBytes: number, valueBytes: number): void {
    this.#slots[slot * STRIDE + LENGTHS] = keyBytes | (valueBytes << LENGTH_BITS);
  }

  /**
   * setKey keeps the bytes of `key`, at most {@link INLINE_KEY_BYTES} of them and
   * zero-padded to a whole word as {@link KeyWords} are, in `slot`; the key's length is
   * {@link EntryTable.setLengths}'s.
   */
  setKey(slot: number, key: KeyWords): void {
    const at = slot * STRIDE + KEY;
    const words = key.words;
    for (let w = 0, count = (key.length + 3) >> 2; w < count; w++) {
      this.#slots[at + w] = words[w] as number;
    }
  }

  /** keyIs tells whether `slot` keeps (by {@link EntryTable.setKey}) the key whose bytes are `key`. */
  keyIs(slot: number, key: KeyWords): boolean {
    const slots = this.#slots;
    const i = slot * STRIDE;
    const n = key.length;
    if (((slots[i + LENGTHS] as number) & LENGTH_MASK) !== n) return false;
    // Whole words: both sides are zero-padded.
    const words = key.words;
    for (let w = 0, count = (n + 3) >> 2; w < count; w++) {
      if (slots[i + KEY + w] !== words[w]) return false;
    }
    return true;
  }

  /** place records where the bytes of `slot` lie: `block` below 2^24, and `offset`. */
  place(slot: number, block: number, offset: number): void {
    const i = slot * STRIDE;
    const slots = this.#slots;
    slots[i + BLOCK] = ((slots[i + BLOCK] as number) & ~BLOCK_MASK) | block;
    slots[i + OFFSET] = offset;
  }

  /**
   * alloc returns a slot to {@link EntryTable.add}: a freed one, else a new one,
   * growing the table (see {@link EntryTable.capacity}) when it is full.
   */
  alloc(): number {
    const free = this.#free;
    if (free !== 0) {
      this.#free = this.#slots[free * STRIDE + NEXT] as number;
      return free;
    }
    if (this.#top === this.#capacity) this.#grow();
    return this.#top++;
  }

  /**
   * add puts `slot`, from {@link EntryTable.alloc}, under `hash` with `flags` (0 to 255)
   * at the front of list `l`. Its place is what {@link EntryTable.place} set, before
   * or after.
   */
  add(slot: number, hash: number, flags: number, l: number): void {
    const slots = this.#slots;
    const i = slot * STRIDE;
    const b = hash & this.#mask;
    slots[i + HASH] = hash;
    slots[i + CHAIN] = this.#heads[b] as number;
    this.#heads[b] = slot;
    slots[i + BLOCK] = ((slots[i + BLOCK] as number) & BLOCK_MASK) | (flags << FLAG_SHIFT);
    const head = slots[l * STRIDE + NEXT] as number;
    slots[i + NEXT] = head;
    slots[i + PREV] = l;
    slots[head * STRIDE + PREV] = slot;
    slots[l * STRIDE + NEXT] = slot;
  }

  /** remove takes `slot` out of its chain and its list and frees it. */
  remove(slot: number): void {
    const slots = this.#slots;
    const i = slot * STRIDE;
    const b = (slots[i + HASH] as number) & this.#mask;
    let s = this.#heads[b] as number;
    if (s === slot) {
      this.#heads[b] = slots[i + CHAIN] as number;
    } else {
      while (slots[s * STRIDE + CHAIN] !== slot) s = slots[s * STRIDE + CHAIN] as number;
      slots[s * STRIDE + CHAIN] = slots[i + CHAIN] as number;
    }
    const n = slots[i + NEXT] as number;
    const p = slots[i + PREV] as number;
    slots[p * STRIDE + NEXT] = n;
    slots[n * STRIDE + PREV] = p;
    slots[i + NEXT] = this.#free;
    this.#free = slot;
  }

  /** newest is the most recent slot of list `l`; `l` when the list is empty. */
  newest(l: number): number {
    return this.#slots[l * STRIDE + NEXT] as number;
  }

  /** oldest is the least recent slot of list `l`; `l` when the list is empty. */
  oldest(l: number): number {
    return this.#slots[l * STRIDE + PREV] as number;
  }

  /** older is the slot after `slot` towards the oldest of its list; the list's number past the end. */
  older(slot: number): number {
    return this.#slots[slot * STRIDE + NEXT] as number;
  }

  /** touch moves `slot`, in list `l`, to the front of it. */
  touch(l: number, slot: number): void {
    const slots = this.#slots;
    const head = slots[l * STRIDE + NEXT] as number;
    if (head === slot) return;
    const i = slot * STRIDE;
    const n = slots[i + NEXT] as number;
    const p = slots[i + PREV] as number;
    slots[p * STRIDE + NEXT] = n;
    slots[n * STRIDE + PREV] = p;
    slots[i + NEXT] = head;
    slots[i + PREV] = l;
    slots[head * STRIDE + PREV] = slot;
    slots[l * STRIDE + NEXT] = slot;
  }

  #grow(): void {
    const capacity = Math.floor(this.#capacity * 1.5);
    const slots = new Int32Array(capacity * STRIDE);
    slots.set(this.#slots);
    this.#slots = slots;
    this.#capacity = capacity;
    const buckets = bucketsFor(capacity);
    if (buckets === this.#heads.length) return;
    // More buckets: every chain is rebuilt.
    const old = this.#heads;
    const heads = new Int32Array(buckets);
    const mask = buckets - 1;
    for (let b = 0; b < old.length; b++) {
      for (let s = old[b] as number; s !== 0; ) {
        const i = s * STRIDE;
        const next = slots[i + CHAIN] as number;
        const nb = (slots[i + HASH] as number) & mask;
        slots[i + CHAIN] = heads[nb] as number;
        heads[nb] = s;
        s = next;
      }
    }
    this.#heads = heads;
    this.#mask = mask;
  }
}

/** bucketsFor is the power of two at or above `capacity` (at least 16). */
function bucketsFor(capacity: number): number {
  let n = 16;
  while (n < capacity) n *= 2;
  return n;
}
