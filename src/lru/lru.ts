// lru.ts: a least-recently-used cache bounded by bytes and optionally by entries,
// kept in typed arrays so that hits do not allocate.
import { InvalidArgumentError } from '../errors.js';

/** LRUOptions configures an {@link LRU}. */
export interface LRUOptions<V> {
  /**
   * Byte budget: after each `add`, entries are evicted oldest-first while the sum
   * of sizes is over it. 0 means nothing is kept, not even entries of size 0.
   * Defaults to Infinity (unbounded; the caller may evict with `removeOldest()`).
   */
  maxBytes?: number;
  /** Entry budget, a non-negative integer. 0 means nothing is kept. Defaults to Infinity. */
  maxEntries?: number;
  /**
   * Called for each entry evicted for capacity (including an entry too large to
   * keep) or by `removeOldest()`, after the entry has left the cache. Not called
   * for `remove()`, for a value replaced by `add()`, or by `clear()`. If it throws,
   * the error reaches the caller of `add`/`removeOldest`; the cache stays consistent
   * but may remain over budget until the next `add`.
   */
  onEvicted?: (key: string, value: V) => void;
}

/** LRUEntry is what {@link LRU.removeOldest} returns. */
export interface LRUEntry<V> {
  key: string;
  value: V;
  size: number;
}

/** Slots allocated at first; the arrays double from there when full. */
const initialCapacity = 16;

/**
 * LRU is a least-recently-used cache of string keys. Each entry carries a size in
 * bytes given by the caller; the cache evicts oldest-first to stay within
 * `maxBytes` and `maxEntries`. With neither set it is unbounded and the caller
 * drives eviction with {@link LRU.removeOldest} (e.g. to share one byte budget
 * between two caches).
 *
 * Layout: a Map from key to slot index; per slot, the key and value in plain
 * arrays, the size in a Float64Array, and the links of a circular doubly linked
 * list in two Uint32Arrays. Slot 0 is the list's sentinel: `next[0]` is the most
 * recently used entry, `prev[0]` the oldest. Freed slots are chained through
 * `next` from `#free` and reused before new ones are taken.
 */
export class LRU<V> {
  #map = new Map<string, number>();
  #keys: (string | undefined)[] = [undefined];
  #values: (V | undefined)[] = [undefined];
  #next = new Uint32Array(initialCapacity);
  #prev = new Uint32Array(initialCapacity);
  #sizes = new Float64Array(initialCapacity);
  /** Head of the free slot chain; 0 when empty. */
  #free = 0;
  #bytes = 0;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  /** True when maxBytes or maxEntries is 0: every add is evicted at once. */
  readonly #keepNothing: boolean;
  readonly #onEvicted: ((key: string, value: V) => void) | undefined;

  constructor(options: LRUOptions<V> = {}) {
    const { maxBytes = Infinity, maxEntries = Infinity, onEvicted } = options;
    if (typeof maxBytes !== 'number' || Number.isNaN(maxBytes) || maxBytes < 0) {
      throw new InvalidArgumentError(
        `LRU: maxBytes must be a non-negative number, got ${String(maxBytes)}`,
      );
    }
    if (
      typeof maxEntries !== 'number' ||
      maxEntries < 0 ||
      !(Number.isInteger(maxEntries) || maxEntries === Infinity)
    ) {
      throw new InvalidArgumentError(
        `LRU: maxEntries must be a non-negative integer or Infinity, got ${String(maxEntries)}`,
      );
    }
    if (onEvicted !== undefined && typeof onEvicted !== 'function') {
      throw new InvalidArgumentError('LRU: onEvicted must be a function');
    }
    this.#maxBytes = maxBytes;
    this.#maxEntries = maxEntries;
    this.#keepNothing = maxBytes === 0 || maxEntries === 0;
    this.#onEvicted = onEvicted;
  }

  /** maxBytes is the byte budget given at construction (Infinity if none). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** maxEntries is the entry budget given at construction (Infinity if none). */
  get maxEntries(): number {
    return this.#maxEntries;
  }

  /** get returns the value of `key` and marks it most recently used. */
  get(key: string): V | undefined {
    const i = this.#map.get(key);
    if (i === undefined) return undefined;
    const next = this.#next;
    if (next[0] !== i) {
      const prev = this.#prev;
      const n = next[i]!;
      const p = prev[i]!;
      next[p] = n;
      prev[n] = p;
      const head = next[0]!;
      next[i] = head;
      prev[i] = 0;
      prev[head] = i;
      next[0] = i;
    }
    return this.#values[i];
  }

  /** peek returns the value of `key` without changing its recency. */
  peek(key: string): V | undefined {
    const i = this.#map.get(key);
    return i === undefined ? undefined : this.#values[i];
  }

  /** has tells whether `key` is in the cache, without changing its recency. */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /**
   * add stores `value` under `key` with `size` bytes (a non-negative integer the
   * caller computes, e.g. key bytes + value bytes) and marks it most recently
   * used. An existing entry is replaced (its bytes adjusted, no `onEvicted`).
   * Then older entries are evicted while the cache is over budget.
   *
   * An entry that cannot be kept on its own — `size > maxBytes`, or a budget
   * is 0 — is not stored: any previous entry for `key` is dropped as a replace
   * would, `onEvicted(key, value)` is called at once, and no other entry is
   * evicted for it.
   */
  add(key: string, value: V, size: number): void {
    if (size >>> 0 !== size && !(Number.isSafeInteger(size) && size >= 0)) {
      throw new InvalidArgumentError(
        `LRU: size must be a non-negative integer, got ${String(size)} for key ${JSON.stringify(key)}`,
      );
    }
    const map = this.#map;
    let i = map.get(key);
    if (size > this.#maxBytes || this.#keepNothing) {
      if (i !== undefined) this.#delete(key, i);
      this.#onEvicted?.(key, value);
      return;
    }
    if (i !== undefined) {
      this.#values[i] = value;
      this.#bytes += size - this.#sizes[i]!;
      this.#sizes[i] = size;
      const next = this.#next;
      if (next[0] !== i) {
        const prev = this.#prev;
        const n = next[i]!;
        const p = prev[i]!;
        next[p] = n;
        prev[n] = p;
        this.#linkFront(i);
      }
    } else {
      i = this.#alloc();
      this.#keys[i] = key;
      this.#values[i] = value;
      this.#sizes[i] = size;
      this.#bytes += size;
      map.set(key, i);
      this.#linkFront(i);
    }
    this.#evict();
  }

  /** remove deletes `key` without calling `onEvicted`; it tells whether the key was there. */
  remove(key: string): boolean {
    const i = this.#map.get(key);
    if (i === undefined) return false;
    this.#delete(key, i);
    return true;
  }

  /**
   * removeOldest deletes the least recently used entry, calls `onEvicted` for it
   * and returns it; undefined when the cache is empty.
   */
  removeOldest(): LRUEntry<V> | undefined {
    const i = this.#prev[0]!;
    if (i === 0) return undefined;
    const key = this.#keys[i]!;
    const value = this.#values[i] as V;
    const size = this.#sizes[i]!;
    this.#delete(key, i);
    this.#onEvicted?.(key, value);
    return { key, value, size };
  }

  /** oldestKey returns the least recently used key, undefined when empty. */
  oldestKey(): string | undefined {
    return this.#keys[this.#prev[0]!];
  }

  /** len returns the number of entries. */
  len(): number {
    return this.#map.size;
  }

  /** size is the number of entries (as {@link LRU.len}). */
  get size(): number {
    return this.#map.size;
  }

  /** bytes is the sum of the sizes of the entries. */
  get bytes(): number {
    return this.#bytes;
  }

  /** clear deletes every entry without calling `onEvicted` and releases the slots. */
  clear(): void {
    this.#map.clear();
    this.#keys = [undefined];
    this.#values = [undefined];
    this.#next = new Uint32Array(initialCapacity);
    this.#prev = new Uint32Array(initialCapacity);
    this.#sizes = new Float64Array(initialCapacity);
    this.#free = 0;
    this.#bytes = 0;
  }

  /**
   * keys yields the keys from most to least recently used, for tests and
   * debugging. The cache must not be changed while iterating.
   */
  *keys(): IterableIterator<string> {
    const next = this.#next;
    for (let i = next[0]!; i !== 0; i = next[i]!) yield this.#keys[i]!;
  }

  /** #linkFront links the unlinked slot `i` as the most recently used. */
  #linkFront(i: number): void {
    const next = this.#next;
    const head = next[0]!;
    next[i] = head;
    this.#prev[i] = 0;
    this.#prev[head] = i;
    next[0] = i;
  }

  /** #evict evicts oldest-first while over either budget. */
  #evict(): void {
    while (this.#bytes > this.#maxBytes || this.#map.size > this.#maxEntries) {
      const i = this.#prev[0]!;
      const key = this.#keys[i]!;
      const value = this.#values[i] as V;
      this.#delete(key, i);
      this.#onEvicted?.(key, value);
    }
  }

  /** #delete unlinks slot `i` (holding `key`), frees it and updates the accounting. */
  #delete(key: string, i: number): void {
    const next = this.#next;
    const prev = this.#prev;
    const n = next[i]!;
    const p = prev[i]!;
    next[p] = n;
    prev[n] = p;
    next[i] = this.#free;
    this.#free = i;
    this.#bytes -= this.#sizes[i]!;
    this.#sizes[i] = 0;
    this.#keys[i] = undefined;
    this.#values[i] = undefined;
    this.#map.delete(key);
  }

  /** #alloc returns a free slot, taking a new one (and growing the arrays) if none is free. */
  #alloc(): number {
    const free = this.#free;
    if (free !== 0) {
      this.#free = this.#next[free]!;
      return free;
    }
    // No free slot: every slot below keys.length is live (or the sentinel).
    const i = this.#keys.length;
    if (i === this.#next.length) {
      // Double, but stop at maxEntries + 2 slots: the sentinel, and one entry
      // over budget just before its eviction. The i + 1 floor is a safety net.
      const cap = Math.max(i + 1, Math.min(i * 2, this.#maxEntries + 2));
      const next = new Uint32Array(cap);
      next.set(this.#next);
      this.#next = next;
      const prev = new Uint32Array(cap);
      prev.set(this.#prev);
      this.#prev = prev;
      const sizes = new Float64Array(cap);
      sizes.set(this.#sizes);
      this.#sizes = sizes;
    }
    this.#keys.push(undefined);
    this.#values.push(undefined);
    return i;
  }
}
