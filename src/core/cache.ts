// cache.ts: a group's two LRU caches (main and hot) under one byte budget, with
// per-entry expiry checked on read.
import { LRU } from '../lru/lru.js';
import { ValueArena } from './arena.js';
import { ByteView } from './byteview.js';
import { viewBytes } from './byteview-internal.js';
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
 * Values up to 1/8 of a block are copied into a {@link ValueArena} shared by both.
 */
export class TwoTierCache {
  readonly #main: LRU<Hit>;
  readonly #hot: LRU<Hit>;
  readonly #arena: ValueArena;
  readonly #budget: number;
  readonly #hotShare: number;
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #counters: Record<CacheType, Counters> = {
    main: { gets: 0, hits: 0, evictions: 0 },
    hot: { gets: 0, hits: 0, evictions: 0 },
  };

  constructor(options: TwoTierCacheOptions) {
    this.#budget = options.cacheBytes;
    this.#hotShare = options.hotShare ?? 1 / 8;
    this.#now = options.now ?? Date.now;
    this.#graceMs = options.graceMs ?? 0;
    const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    this.#arena = new ValueArena({
      blockBytes: blockBytesFor(this.#budget),
      slackBytes: Math.floor(this.#budget * SLACK_SHARE),
    });
    this.#main = new LRU<Hit>({
      maxEntries,
      onEvicted: (_key, entry) => {
        this.#counters.main.evictions++;
        this.#release(entry);
      },
    });
    this.#hot = new LRU<Hit>({
      maxEntries,
      onEvicted: (_key, entry) => {
        this.#counters.hot.evictions++;
        this.#release(entry);
      },
    });
  }

  /**
   * get looks `key` up in main, then hot. An expired entry counts as a miss; it is
   * removed, unless it is still within `graceMs` of its expiry.
   */
  get(key: string): Hit | undefined {
    if (this.#budget === 0) return undefined;
    return (
      this.#lookup(this.#main, this.#counters.main, key) ??
      this.#lookup(this.#hot, this.#counters.hot, key)
    );
  }

  #lookup(lru: LRU<Hit>, counters: Counters, key: string): Hit | undefined {
    counters.gets++;
    const entry = lru.get(key);
    if (entry === undefined) return undefined;
    if (!(entry instanceof ByteView) && entry.expireAt !== 0) {
      const now = this.#now();
      if (entry.expireAt <= now) {
        if (entry.expireAt + this.#graceMs <= now) {
          lru.remove(key);
          this.#release(entry);
        }
        return undefined;
      }
    }
    counters.hits++;
    return entry;
  }

  /**
   * stale returns the entry of `key` that has expired less than `graceMs` ago, without
   * touching recency or stats; undefined when there is none (or it is still live).
   */
  stale(key: string): Entry | undefined {
    if (this.#graceMs === 0) return undefined;
    const hit = this.#main.peek(key) ?? this.#hot.peek(key);
    if (hit === undefined || hit instanceof ByteView || hit.expireAt === 0) return undefined;
    const now = this.#now();
    return hit.expireAt <= now && now < hit.expireAt + this.#graceMs ? hit : undefined;
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
    const size = Buffer.byteLength(key) + bytes;
    const keep =
      this.#budget > 0 && size <= this.#budget && (expireAt === 0 || expireAt > this.#now());
    // A key lives in one cache at a time, and a newer value replaces any older one.
    this.remove(key);
    if (!keep) return unstoredHit(value, expireAt);
    let view: ByteView | null;
    if (value === null) view = null;
    else if (this.#arena.fits(bytes)) {
      view = this.#arena.store(value instanceof ByteView ? viewBytes(value) : value, bytes);
    } else view = ByteView.from(value);
    // No Entry object for a value that never expires: none to keep, none to return.
    const hit: Hit =
      view !== null && expireAt === 0
        ? view
        : refreshAt > 0
          ? { view, expireAt, refreshAt }
          : { view, expireAt };
    (which === 'main' ? this.#main : this.#hot).add(key, hit, size);
    this.#evict();
    return hit;
  }

  #release(hit: Hit): void {
    const view = hitView(hit);
    if (view !== null) this.#arena.release(view);
  }

  #evict(): void {
    while (this.#main.bytes + this.#hot.bytes > this.#budget) {
      const victim =
        this.#hot.bytes > this.#main.bytes * this.#hotShare || this.#main.size === 0
          ? this.#hot
          : this.#main;
      if (victim.removeOldest() === undefined) break;
    }
  }

  /** has tells whether `which` holds a live entry for `key`, without touching recency or stats. */
  has(which: CacheType, key: string): boolean {
    const hit = (which === 'main' ? this.#main : this.#hot).peek(key);
    if (hit === undefined) return false;
    const expireAt = hitExpireAt(hit);
    return expireAt === 0 || expireAt > this.#now();
  }

  /** remove drops `key` from both caches; it tells whether anything was there. */
  remove(key: string): boolean {
    const a = this.#drop(this.#main, key);
    const b = this.#drop(this.#hot, key);
    return a || b;
  }

  #drop(lru: LRU<Hit>, key: string): boolean {
    const entry = lru.peek(key);
    if (entry === undefined) return false;
    lru.remove(key);
    this.#release(entry);
    return true;
  }

  /** clear empties both caches (stats counters are kept). */
  clear(): void {
    this.#main.clear();
    this.#hot.clear();
    this.#arena.clear();
  }

  /** arenaBytes are the bytes the value arena has written into its blocks, and the live part of them. */
  get arenaBytes(): { used: number; live: number; blocks: number } {
    return {
      used: this.#arena.usedBytes,
      live: this.#arena.liveBytes,
      blocks: this.#arena.blockCount,
    };
  }

  /** stats returns a snapshot of `which` cache's stats. */
  stats(which: CacheType): CacheStats {
    const lru = which === 'main' ? this.#main : this.#hot;
    const c = this.#counters[which];
    return {
      bytes: lru.bytes,
      items: lru.size,
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
