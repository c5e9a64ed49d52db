// cache.ts: a group's two LRU caches (main and hot) under one byte budget, with
// per-entry expiry checked on read.
import { LRU } from '../lru/lru.js';
import type { ByteView } from './byteview.js';
import type { CacheStats, CacheType } from './stats.js';

/**
 * Entry is what the caches hold for a key: the value, or `null` for a cached
 * not-found, and its absolute expiry in ms since the epoch (0 = never).
 */
export interface Entry {
  readonly view: ByteView | null;
  readonly expireAt: number;
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
 */
export class TwoTierCache {
  readonly #main: LRU<Entry>;
  readonly #hot: LRU<Entry>;
  readonly #budget: number;
  readonly #hotShare: number;
  readonly #now: () => number;
  readonly #counters: Record<CacheType, Counters> = {
    main: { gets: 0, hits: 0, evictions: 0 },
    hot: { gets: 0, hits: 0, evictions: 0 },
  };

  constructor(options: TwoTierCacheOptions) {
    this.#budget = options.cacheBytes;
    this.#hotShare = options.hotShare ?? 1 / 8;
    this.#now = options.now ?? Date.now;
    const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    this.#main = new LRU<Entry>({
      maxEntries,
      onEvicted: () => {
        this.#counters.main.evictions++;
      },
    });
    this.#hot = new LRU<Entry>({
      maxEntries,
      onEvicted: () => {
        this.#counters.hot.evictions++;
      },
    });
  }

  /**
   * get looks `key` up in main, then hot. An expired entry is removed and
   * counts as a miss.
   */
  get(key: string): Entry | undefined {
    if (this.#budget === 0) return undefined;
    return (
      this.#lookup(this.#main, this.#counters.main, key) ??
      this.#lookup(this.#hot, this.#counters.hot, key)
    );
  }

  #lookup(lru: LRU<Entry>, counters: Counters, key: string): Entry | undefined {
    counters.gets++;
    const entry = lru.get(key);
    if (entry === undefined) return undefined;
    if (entry.expireAt !== 0 && entry.expireAt <= this.#now()) {
      lru.remove(key);
      return undefined;
    }
    counters.hits++;
    return entry;
  }

  /** add stores `entry` in `which` cache, then evicts to stay within the budget. */
  add(which: CacheType, key: string, entry: Entry): void {
    if (this.#budget === 0) return;
    const size = Buffer.byteLength(key) + (entry.view?.length ?? 0);
    if (size > this.#budget) {
      // Too large to keep: make sure no older copy lingers under this key.
      this.remove(key);
      return;
    }
    if (entry.expireAt !== 0 && entry.expireAt <= this.#now()) return;
    // A key lives in one cache at a time.
    (which === 'main' ? this.#hot : this.#main).remove(key);
    (which === 'main' ? this.#main : this.#hot).add(key, entry, size);
    this.#evict();
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
    const entry = (which === 'main' ? this.#main : this.#hot).peek(key);
    return entry !== undefined && (entry.expireAt === 0 || entry.expireAt > this.#now());
  }

  /** remove drops `key` from both caches; it tells whether anything was there. */
  remove(key: string): boolean {
    const a = this.#main.remove(key);
    const b = this.#hot.remove(key);
    return a || b;
  }

  /** clear empties both caches (stats counters are kept). */
  clear(): void {
    this.#main.clear();
    this.#hot.clear();
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
