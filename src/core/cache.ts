// cache.ts: a group's two LRU caches (main and hot) under one byte budget, with
// per-entry expiry checked on read; entries live in typed arrays and a shared arena.
import { InvalidArgumentError } from '../errors.js';
import { RECORD_HEADER_BYTES, ValueArena } from './arena.js';
import { ByteView } from './byteview.js';
import { viewBytes } from './byteview-internal.js';
import { EntryTable, INLINE_KEY_BYTES } from './entry-table.js';
import { KeyBytes, type KeyWords } from './key-bytes.js';
import type { CacheStats, CacheType } from './stats.js';

/**
 * Entry is what the caches hold for a key: the value, or `null` for a cached
 * not-found, and its absolute expiry in ms since the epoch (0 = never).
 */
export interface Entry {
  readonly view: ByteView | null;
  readonly expireAt: number;
  /**
   * refreshAt is when a hit starts reloading the value in the background (the group's
   * `refreshAhead`), in ms since the epoch; absent for none.
   */
  readonly refreshAt?: number;
}

/**
 * Hit is what a lookup returns: a value that never expires is kept, and returned,
 * as its view alone (no Entry object per cached value); anything else as an Entry.
 * Read it with {@link hitView} and {@link hitExpireAt}.
 */
export type Hit = ByteView | Entry;

/** hitView is the value of a hit, `null` for a cached not-found. */
export function hitView(hit: Hit): ByteView | null {
  return hit instanceof ByteView ? hit : hit.view;
}

/** hitExpireAt is the expiry of a hit in ms since the epoch, 0 for never. */
export function hitExpireAt(hit: Hit): number {
  return hit instanceof ByteView ? 0 : hit.expireAt;
}

/** TwoTierCacheOptions configure a {@link TwoTierCache}. */
export interface TwoTierCacheOptions {
  /** Byte budget shared by main and hot; 0 disables caching. */
  cacheBytes: number;
  /** Entry budget of each cache. Default: unbounded. */
  maxEntries?: number | undefined;
  /**
   * hotShare is the largest fraction of main's bytes that hot may keep before
   * its entries are evicted first. Default 1/8, golang/groupcache's rule.
   */
  hotShare?: number | undefined;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: (() => number) | undefined;
  /**
   * graceMs is how long an expired entry is kept after its expiry: a lookup misses it,
   * but {@link TwoTierCache.stale} still finds it. Default 0: dropped at expiry.
   */
  graceMs?: number | undefined;
}

/** What {@link TwoTierCache.add} accepts as a value: bytes are copied, a view is kept or copied. */
export type CacheValue = ByteView | Uint8Array | string;

/** valueBytes is the size `value` has once stored: a string's UTF-8 length, else its byte length. */
export function valueBytes(value: CacheValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/**
 * unstoredHit makes the {@link Hit} of a value that is not kept in any cache,
 * as {@link TwoTierCache.add} returns one: its view owns its bytes.
 */
export function unstoredHit(value: CacheValue | null, expireAt: number): Hit {
  const view = value === null ? null : ByteView.from(value);
  return view !== null && expireAt === 0 ? view : { view, expireAt };
}

/** Blocks of the value arena: about 1/64 of the budget, a power of two within these bounds. */
const MIN_BLOCK_BYTES = 4 * 1024;
const MAX_BLOCK_BYTES = 1024 * 1024;
/** The arena compacts when released bytes pass this share of the budget. */
const SLACK_SHARE = 1 / 64;

function blockBytesFor(budget: number): number {
  let block = MIN_BLOCK_BYTES;
  while (block < MAX_BLOCK_BYTES && block * 64 < budget) block *= 2;
  return block;
}

/** The recency lists, main's and hot's: list numbers, and the table's slots 0 and 1. */
const MAIN = 0;
const HOT = 1;

/** Flags of a slot. */
const IN_HOT = 1;
const NOT_FOUND = 2;
/** The entry is not in the arena (its key or value is too large): see Outside. */
const OUTSIDE = 4;
/** The entry's key is in its slot, not in its record (it is short): see INLINE_KEY_BYTES. */
const INLINE = 8;

/** The key of a record whose key is kept in its slot. */
const NO_KEY: KeyWords = { bytes: new Uint8Array(4), words: new Int32Array(1), length: 0 };

/** Outside is an entry whose record the arena does not take: its key and value as objects. */
interface Outside {
  readonly key: string;
  readonly view: ByteView | null;
  readonly size: number;
}

interface Counters {
  gets: number;
  hits: number;
  evictions: number;
}

/**
 * TwoTierCache keeps `main` (keys this node owns or loaded) and `hot` (copies of
 * popular keys owned elsewhere) within one byte budget. After each add, while
 * the two hold more than `cacheBytes`, it evicts the oldest entry of hot if hot
 * holds more than `hotShare` of main's bytes, else the oldest of main — the rule
 * of golang/groupcache, which keeps hot small but never starves main.
 * An entry's size is its key's UTF-8 length plus its value's length; an entry
 * larger than the whole budget is not kept at all (it would flush everything).
 *
 * Layout: no object per entry. Each entry is a slot of an {@link EntryTable}: its
 * hash chain, its links in main's or hot's recency list, its flags, the lengths of
 * its key and value, a key of up to {@link INLINE_KEY_BYTES} itself, and where its
 * record (the value, after a longer key) lies in the {@link ValueArena}; two
 * Float64Arrays hold expiry and refresh times once any entry has one. A lookup
 * hashes the key, walks its chain comparing hashes and then the key's bytes (in the
 * slot, else in the record), and makes a fresh {@link ByteView} of the value from
 * the slot's fields, so a hit on a short key reads nothing of its record. The
 * record's bytes are never rewritten, so the view stays valid after the entry leaves. An entry whose record the arena does
 * not take (key and value over 1/8 of a block together, a key of 16 KiB or more, a
 * key that is not well-formed UTF-16) is kept as objects instead.
 */
export class TwoTierCache {
  readonly #budget: number;
  readonly #hotShare: number;
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #maxEntries: number;
  readonly #seed = (Math.random() * 0x1_0000_0000) | 0;
  readonly #arena: ValueArena;
  readonly #outside = new Map<number, Outside>();
  /** The key of the current operation, as bytes. */
  readonly #key = new KeyBytes();
  #table = new EntryTable(2);
  #expireAt: Float64Array | undefined;
  #refreshAt: Float64Array | undefined;
  /** Bytes and entries of main and hot, by list. */
  readonly #bytes = [0, 0];
  readonly #items = [0, 0];
  /** The slot of the entry the latest hit returned. */
  #last = 0;
  /** The hash of the key #find looked up last. */
  #hash = 0;
  readonly #counters: [Counters, Counters] = [
    { gets: 0, hits: 0, evictions: 0 },
    { gets: 0, hits: 0, evictions: 0 },
  ];

  constructor(options: TwoTierCacheOptions) {
    const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    if (
      typeof maxEntries !== 'number' ||
      maxEntries < 0 ||
      !(Number.isInteger(maxEntries) || maxEntries === Number.POSITIVE_INFINITY)
    ) {
      throw new InvalidArgumentError(
        `maxEntries must be a non-negative integer or Infinity, got ${String(maxEntries)}`,
      );
    }
    this.#maxEntries = maxEntries;
    this.#budget = options.cacheBytes;
    this.#hotShare = options.hotShare ?? 1 / 8;
    this.#now = options.now ?? Date.now;
    this.#graceMs = options.graceMs ?? 0;
    this.#arena = new ValueArena({
      blockBytes: blockBytesFor(this.#budget),
      slackBytes: Math.floor(this.#budget * SLACK_SHARE),
      budgetBytes: this.#budget,
      place: (slot, block, offset) => this.#table.place(slot, block, offset),
    });
  }

  /**
   * get looks `key` up in main, then hot, and returns a view of its value (`null` for
   * a cached not-found), undefined on a miss. An expired entry counts as a miss; it is
   * removed, unless it is still within `graceMs` of its expiry. After a hit,
   * {@link TwoTierCache.lastExpireAt} and {@link TwoTierCache.lastRefreshAt} describe
   * the entry until the cache next changes.
   */
  get(key: string): ByteView | null | undefined {
    if (this.#budget === 0) return undefined;
    let slot = this.#find(key);
    const list = slot === 0 ? -1 : this.#table.flagsOf(slot) & IN_HOT;
    if (slot !== 0 && !this.#fresh(slot)) slot = 0;
    const main = this.#counters[MAIN] as Counters;
    main.gets++;
    if (slot !== 0 && list === MAIN) {
      main.hits++;
      return this.#hit(MAIN, slot);
    }
    const hot = this.#counters[HOT] as Counters;
    hot.gets++;
    if (slot !== 0 && list === HOT) {
      hot.hits++;
      return this.#hit(HOT, slot);
    }
    return undefined;
  }

  /** lastExpireAt is the expiry of the entry of the latest hit, in ms since the epoch (0 = never). */
  get lastExpireAt(): number {
    return this.#expireAt?.[this.#last] ?? 0;
  }

  /** lastRefreshAt is when the entry of the latest hit is due for a refresh (0 = never). */
  get lastRefreshAt(): number {
    return this.#refreshAt?.[this.#last] ?? 0;
  }

  /** getHit is {@link TwoTierCache.get} as a {@link Hit}, for callers that pass the expiry on. */
  getHit(key: string): Hit | undefined {
    const view = this.get(key);
    if (view === undefined) return undefined;
    const expireAt = this.lastExpireAt;
    if (view !== null && expireAt === 0) return view;
    const refreshAt = this.lastRefreshAt;
    return refreshAt > 0 ? { view, expireAt, refreshAt } : { view, expireAt };
  }

  #hit(list: number, slot: number): ByteView | null {
    this.#table.touch(list, slot);
    this.#last = slot;
    return this.#viewOf(slot);
  }

  /** #fresh tells whether `slot` has not expired; an expired one past its grace is removed. */
  #fresh(slot: number): boolean {
    const expireAt = this.#expireAt?.[slot] ?? 0;
    if (expireAt === 0) return true;
    const now = this.#now();
    if (expireAt > now) return true;
    if (expireAt + this.#graceMs <= now) this.#delete(slot);
    return false;
  }

  /**
   * #find returns the slot of `key`, 0 for none; it leaves the key's bytes in `#key`
   * and returns their hash in `#hash`.
   */
  #find(key: string): number {
    const bytes = this.#key;
    const hash = bytes.load(key, this.#seed);
    this.#hash = hash;
    const table = this.#table;
    for (let s = table.first(hash); s !== 0; s = table.chained(s)) {
      if (table.hashOf(s) !== hash) continue;
      const flags = table.flagsOf(s);
      if ((flags & OUTSIDE) === 0) {
        // A key that is not well-formed is never in the arena: its UTF-8 is another key's.
        if (
          bytes.wellFormed &&
          ((flags & INLINE) !== 0
            ? table.keyIs(s, bytes)
            : this.#arena.keyIs(table.blockOf(s), table.offsetOf(s), bytes))
        ) {
          return s;
        }
      } else if ((this.#outside.get(s) as Outside).key === key) {
        return s;
      }
    }
    return 0;
  }

  #viewOf(slot: number): ByteView | null {
    const table = this.#table;
    const flags = table.flagsOf(slot);
    if ((flags & NOT_FOUND) !== 0) return null;
    if ((flags & OUTSIDE) !== 0) return (this.#outside.get(slot) as Outside).view;
    // From the slot alone: a hit on a short key reads nothing of its record.
    const keyInRecord = (flags & INLINE) !== 0 ? 0 : table.keyLengthOf(slot);
    const start = table.offsetOf(slot) + RECORD_HEADER_BYTES + keyInRecord;
    return this.#arena.viewAt(table.blockOf(slot), start, table.valueLengthOf(slot));
  }

  /**
   * stale returns the entry of `key` that has expired less than `graceMs` ago, without
   * touching recency or stats; undefined when there is none (or it is still live).
   */
  stale(key: string): Entry | undefined {
    if (this.#graceMs === 0) return undefined;
    const slot = this.#find(key);
    const expireAt = this.#expireAt?.[slot] ?? 0;
    if (slot === 0 || expireAt === 0) return undefined;
    const now = this.#now();
    if (!(expireAt <= now && now < expireAt + this.#graceMs)) return undefined;
    return { view: this.#viewOf(slot), expireAt };
  }

  /**
   * add stores `value` under `key` in `which` cache (`null` is a cached not-found),
   * then evicts to stay within the budget. It returns the value for callers to use,
   * as a lookup would ({@link Hit}): its view owns its bytes whether or not it was kept, so `Uint8Array` values may
   * be the caller's own buffers (they are copied, into the arena when they fit).
   * `expireAt` is in ms since the epoch, 0 for never; `refreshAt` (the same unit) is when a
   * hit should start a background reload, 0 for never.
   */
  add(
    which: CacheType,
    key: string,
    value: CacheValue | null,
    expireAt: number,
    refreshAt = 0,
  ): Hit {
    const bytes = value === null ? 0 : valueBytes(value);
    // A key lives in one cache at a time, and a newer value replaces any older one.
    const old = this.#find(key);
    const hash = this.#hash;
    const keyBytes = this.#key.length;
    const size = keyBytes + bytes;
    const keep =
      this.#budget > 0 && size <= this.#budget && (expireAt === 0 || expireAt > this.#now());
    // Deleting may compact the arena, which leaves the key's bytes in #key alone.
    if (old !== 0) this.#delete(old);
    if (!keep) return unstoredHit(value, expireAt);
    const list = which === 'main' ? MAIN : HOT;
    const table = this.#table;
    const slot = table.alloc();
    let flags = list === HOT ? IN_HOT : 0;
    // A key that is not well-formed (a lone surrogate) has no UTF-8 of its own.
    if (this.#arena.fits(keyBytes, bytes) && this.#key.wellFormed) {
      const stored = value instanceof ByteView ? viewBytes(value) : value;
      table.setLengths(slot, keyBytes, bytes);
      if (keyBytes <= INLINE_KEY_BYTES) {
        flags |= INLINE;
        table.setKey(slot, this.#key);
        this.#arena.store(slot, NO_KEY, stored, bytes, list === HOT);
      } else {
        this.#arena.store(slot, this.#key, stored, bytes, list === HOT);
      }
    } else {
      flags |= OUTSIDE;
      const outside = value === null ? null : ByteView.from(value);
      this.#outside.set(slot, { key, view: outside, size });
    }
    if (value === null) flags |= NOT_FOUND;
    this.#setTimes(slot, expireAt, refreshAt);
    table.add(slot, hash, flags, list);
    // Read as a hit reads it, before an eviction below could take the entry or move it.
    const view = this.#viewOf(slot);
    (this.#bytes[list] as number) += size;
    (this.#items[list] as number)++;
    while ((this.#items[list] as number) > this.#maxEntries) this.#evictOldest(list);
    this.#evict();
    // No Entry object for a value that never expires: none to make, none to return.
    if (view !== null && expireAt === 0) return view;
    return refreshAt > 0 ? { view, expireAt, refreshAt } : { view, expireAt };
  }

  /** #setTimes records the expiry and refresh time of `slot`; each array appears with its first nonzero time. */
  #setTimes(slot: number, expireAt: number, refreshAt: number): void {
    this.#expireAt = this.#timed(this.#expireAt, slot, expireAt);
    this.#refreshAt = this.#timed(this.#refreshAt, slot, refreshAt);
  }

  #timed(times: Float64Array | undefined, slot: number, t: number): Float64Array | undefined {
    const capacity = this.#table.capacity;
    if (times === undefined) {
      if (t === 0) return undefined;
      times = new Float64Array(capacity);
    } else if (times.length < capacity) {
      const grown = new Float64Array(capacity);
      grown.set(times);
      times = grown;
    }
    times[slot] = t;
    return times;
  }

  /** #delete takes the entry of `slot` out of its list, the index and the arena, and frees the slot. */
  #delete(slot: number): void {
    const table = this.#table;
    const flags = table.flagsOf(slot);
    const list = flags & IN_HOT;
    let size: number;
    if ((flags & OUTSIDE) !== 0) {
      size = (this.#outside.get(slot) as Outside).size;
      this.#outside.delete(slot);
      table.remove(slot);
    } else {
      const block = table.blockOf(slot);
      const offset = table.offsetOf(slot);
      size = table.keyLengthOf(slot) + table.valueLengthOf(slot);
      table.remove(slot);
      // May compact, moving other slots' records (and placing them anew).
      this.#arena.release(block, offset);
    }
    (this.#bytes[list] as number) -= size;
    (this.#items[list] as number)--;
  }

  /** #evictOldest evicts the oldest entry of `list`; false when the list is empty. */
  #evictOldest(list: number): boolean {
    const slot = this.#table.oldest(list);
    if (slot === list) return false;
    (this.#counters[list] as Counters).evictions++;
    this.#delete(slot);
    return true;
  }

  #evict(): void {
    const bytes = this.#bytes;
    while ((bytes[MAIN] as number) + (bytes[HOT] as number) > this.#budget) {
      const victim =
        (bytes[HOT] as number) > (bytes[MAIN] as number) * this.#hotShare || this.#items[MAIN] === 0
          ? HOT
          : MAIN;
      if (!this.#evictOldest(victim)) break;
    }
  }

  /** #live returns the slot of `key` in `which` cache if it has not expired; 0 otherwise. */
  #live(which: CacheType, key: string): number {
    const slot = this.#find(key);
    if (slot === 0 || (this.#table.flagsOf(slot) & IN_HOT) !== (which === 'hot' ? HOT : MAIN)) {
      return 0;
    }
    const expireAt = this.#expireAt?.[slot] ?? 0;
    return expireAt === 0 || expireAt > this.#now() ? slot : 0;
  }

  /** has tells whether `which` holds a live entry for `key`, without touching recency or stats. */
  has(which: CacheType, key: string): boolean {
    return this.#live(which, key) !== 0;
  }

  /**
   * inspect returns `which` cache's live entry for `key` (a `null` view for a
   * cached not-found), without touching recency or stats.
   */
  inspect(which: CacheType, key: string): Entry | undefined {
    const slot = this.#live(which, key);
    if (slot === 0) return undefined;
    return { view: this.#viewOf(slot), expireAt: this.#expireAt?.[slot] ?? 0 };
  }

  /** remove drops `key` from both caches; it tells whether anything was there. */
  remove(key: string): boolean {
    const slot = this.#find(key);
    if (slot === 0) return false;
    this.#delete(slot);
    return true;
  }

  /** clear empties both caches (stats counters are kept); views handed out stay valid. */
  clear(): void {
    this.#arena.clear();
    this.#outside.clear();
    this.#table = new EntryTable(2);
    this.#expireAt = undefined;
    this.#refreshAt = undefined;
    this.#bytes.fill(0);
    this.#items.fill(0);
    this.#last = 0;
  }

  /**
   * arenaBytes are the bytes the arena has written into its blocks (records: a header,
   * the key and the value), the live part of them, and its blocks.
   */
  get arenaBytes(): { used: number; live: number; blocks: number } {
    return {
      used: this.#arena.usedBytes,
      live: this.#arena.liveBytes,
      blocks: this.#arena.blockCount,
    };
  }

  /** stats returns a snapshot of `which` cache's stats. */
  stats(which: CacheType): CacheStats {
    const list = which === 'main' ? MAIN : HOT;
    const c = this.#counters[list] as Counters;
    return {
      bytes: this.#bytes[list] as number,
      items: this.#items[list] as number,
      gets: c.gets,
      hits: c.hits,
      evictions: c.evictions,
    };
  }

  /** budget is the shared byte budget. */
  get budget(): number {
    return this.#budget;
  }
}
