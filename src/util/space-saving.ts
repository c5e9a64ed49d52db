// space-saving.ts: a fixed-size heavy-hitters sketch (Metwally et al.'s space-saving),
// and a sampled, windowed pair of them that forgets what was hot more than a window ago.

/** HotKey is one key of a heavy-hitters answer: its estimated count and the most it overstates. */
export interface HotKey {
  key: string;
  /** count is an upper bound of the key's true count in the window. */
  count: number;
  /** error is how much `count` may overstate it: the true count is at least `count - error`. */
  error: number;
}

/** Counter is one slot of a {@link SpaceSaving}: a key, its count, and its place in the heap. */
interface Counter {
  key: string;
  count: number;
  error: number;
  pos: number;
}

/**
 * SpaceSaving counts keys in `capacity` slots (Metwally et al.'s space-saving).
 * A key already counted is incremented; a new key takes a free slot or, when
 * all are taken, the slot of the key with the smallest count, inheriting that
 * count as its error. Every key whose true count is above `total / capacity`
 * is guaranteed a slot. The slots are a min-heap on count whose nodes know
 * their place, so `offer` is one map lookup, a map delete and set when a key
 * takes over a slot, and O(log capacity) moves at worst (usually none).
 */
export class SpaceSaving {
  readonly #capacity: number;
  readonly #index = new Map<string, Counter>();
  readonly #heap: Counter[] = [];
  #total = 0;

  /** Throws RangeError unless `capacity` is an integer >= 1. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be an integer >= 1, got ${String(capacity)}`);
    }
    this.#capacity = capacity;
  }

  /** capacity is the number of keys the sketch counts at once. */
  get capacity(): number {
    return this.#capacity;
  }

  /** total is the weight offered since the last clear. */
  get total(): number {
    return this.#total;
  }

  /** offer counts `weight` (default 1) occurrences of `key`. */
  offer(key: string, weight = 1): void {
    this.#total += weight;
    const known = this.#index.get(key);
    if (known !== undefined) {
      known.count += weight;
      this.#siftDown(known);
      return;
    }
    const heap = this.#heap;
    if (heap.length < this.#capacity) {
      const c: Counter = { key, count: weight, error: 0, pos: heap.length };
      heap.push(c);
      this.#index.set(key, c);
      this.#siftUp(c);
      return;
    }
    // The key takes over the smallest slot, at the root.
    const min = heap[0] as Counter;
    this.#index.delete(min.key);
    min.key = key;
    min.error = min.count;
    min.count += weight;
    this.#index.set(key, min);
    this.#siftDown(min);
  }

  /**
   * atLeast is the least `key` has been counted since the last clear: its count less
   * its error, or 0 when the sketch does not count it.
   */
  atLeast(key: string): number {
    const c = this.#index.get(key);
    return c === undefined ? 0 : c.count - c.error;
  }

  /** top returns up to `n` keys of the highest counts, highest first. */
  top(n: number): HotKey[] {
    return this.#heap
      .map((c) => ({ key: c.key, count: c.count, error: c.error }))
      .sort(byCount)
      .slice(0, Math.max(0, n));
  }

  /** clear forgets every key. */
  clear(): void {
    this.#index.clear();
    this.#heap.length = 0;
    this.#total = 0;
  }

  // A min-heap on count: the root is a key of the smallest count. An increment only
  // moves a counter away from the root; only a new counter (count 1) moves towards it.

  #siftUp(c: Counter): void {
    const heap = this.#heap;
    while (c.pos > 0) {
      const parent = heap[(c.pos - 1) >> 1] as Counter;
      if (parent.count <= c.count) return;
      this.#swap(c, parent);
    }
  }

  #siftDown(c: Counter): void {
    const heap = this.#heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * c.pos + 1;
      if (l >= n) return;
      let child = heap[l] as Counter;
      const right = heap[l + 1];
      if (right !== undefined && right.count < child.count) child = right;
      if (c.count <= child.count) return;
      this.#swap(c, child);
    }
  }

  #swap(a: Counter, b: Counter): void {
    const pa = a.pos;
    a.pos = b.pos;
    b.pos = pa;
    this.#heap[a.pos] = a;
    this.#heap[b.pos] = b;
  }
}

/** byCount orders hot keys by count, highest first, then by key. */
function byCount(a: HotKey, b: HotKey): number {
  return b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** WindowedHotKeysOptions configure {@link WindowedHotKeys}. */
export interface WindowedHotKeysOptions {
  /** capacity is the number of keys each of the two sketches counts. Default 256. */
  capacity?: number | undefined;
  /** windowMs is about how far back the answer looks. Default 60,000. */
  windowMs?: number | undefined;
  /**
   * sampleEvery: past the first `exactOffers` of each half window, about one
   * offer in this many is counted, with this weight (the gaps between them are
   * drawn from a seeded pseudo-random sequence, so no periodic pattern of keys
   * is always missed): most offers on a busy node then cost one decrement. 1
   * counts every offer. Default 64.
   */
  sampleEvery?: number | undefined;
  /** exactOffers is how many offers of each half window are all counted before sampling starts. Default 1,024. */
  exactOffers?: number | undefined;
  /** now is the clock, in ms. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/**
 * WindowedHotKeys counts keys over about the last `windowMs`: two
 * {@link SpaceSaving} sketches, the current one and the one before, each
 * covering half a window. Time moves with `now` (read on each offer and
 * answer), so the answer covers between half a window and a whole one.
 */
export class WindowedHotKeys {
  readonly #half: number;
  readonly #now: () => number;
  readonly #sampleEvery: number;
  readonly #exactOffers: number;
  /** Offers of the current half window still counted one by one. */
  #exactLeft: number;
  /** xorshift32 state, for the gaps between counted offers. */
  #seed = 0x9e3779b9;
  /** Offers until the next one counted (1: the next one). */
  #skip = 1;
  #current: SpaceSaving;
  #previous: SpaceSaving;
  /** When the current sketch began, on a grid of half windows. */
  #since: number;

  /** Throws RangeError on a capacity or windowMs that is not an integer >= 1. */
  constructor(options: WindowedHotKeysOptions = {}) {
    const capacity = options.capacity ?? 256;
    const windowMs = options.windowMs ?? 60_000;
    if (!Number.isSafeInteger(windowMs) || windowMs < 2) {
      throw new RangeError(`windowMs must be an integer >= 2, got ${String(windowMs)}`);
    }
    const sampleEvery = options.sampleEvery ?? 64;
    const exactOffers = options.exactOffers ?? 1024;
    if (!Number.isSafeInteger(exactOffers) || exactOffers < 0) {
      throw new RangeError(`exactOffers must be an integer >= 0, got ${String(exactOffers)}`);
    }
    this.#exactOffers = exactOffers;
    this.#exactLeft = exactOffers;
    if (!Number.isSafeInteger(sampleEvery) || sampleEvery < 1 || sampleEvery > 2 ** 31) {
      throw new RangeError(
        `sampleEvery must be an integer from 1 to 2^31, got ${String(sampleEvery)}`,
      );
    }
    this.#sampleEvery = sampleEvery;
    this.#half = Math.floor(windowMs / 2);
    this.#now = options.now ?? Date.now;
    this.#current = new SpaceSaving(capacity);
    this.#previous = new SpaceSaving(capacity);
    this.#since = this.#now();
  }

  /**
   * offer counts one occurrence of `key` now: exactly for the first
   * `exactOffers` of a half window, then one in `sampleEvery` on average, with
   * that weight.
   */
  offer(key: string): void {
    // Most offers of a busy node stop here: one decrement and a branch.
    if (--this.#skip > 0) return;
    this.#skip = this.take(key);
  }

  /**
   * take counts `key` now (as the offer that was due) and returns how many offers
   * pass until the next one counted, for a caller that keeps that count itself and
   * so skips the call on the others (a group's hit path): call `take` when it runs out.
   */
  take(key: string): number {
    const exact = this.#exactLeft > 0 || this.#sampleEvery === 1;
    if (exact) this.#exactLeft--;
    this.#rotate();
    this.#current.offer(key, exact ? 1 : this.#sampleEvery);
    return exact ? 1 : this.#gap();
  }

  /**
   * #gap is how many offers pass until the next one counted: uniform from 1 to
   * 2 × sampleEvery − 1 (a mean of sampleEvery), from a seeded xorshift32, so
   * no periodic pattern of keys is always skipped.
   */
  #gap(): number {
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x;
    return 1 + ((x >>> 0) % (2 * this.#sampleEvery - 1));
  }

  /**
   * heavy tells whether `key` is surely one of the window's heavy hitters: counted, less
   * what the counts may overstate, at least twice and at least once per `capacity` offers
   * (the share above which space-saving guarantees a key its slot). Two map lookups; it reads the sketches
   * as the last count left them, without rotating.
   */
  heavy(key: string): boolean {
    const total = this.#current.total + this.#previous.total;
    if (total === 0) return false;
    const least = this.#current.atLeast(key) + this.#previous.atLeast(key);
    return least >= 2 && least * this.#current.capacity >= total;
  }

  /**
   * top returns up to `n` keys of the highest counts over the window, highest
   * first: the two sketches' counts (and errors) summed.
   */
  top(n: number): HotKey[] {
    this.#rotate();
    const merged = new Map<string, HotKey>();
    // A key missing from one sketch may have had up to its minimum count there.
    const floorOf = (s: SpaceSaving, all: HotKey[]) =>
      all.length < s.capacity ? 0 : Math.min(...all.map((k) => k.count));
    const cur = this.#current.top(this.#current.capacity);
    const prev = this.#previous.top(this.#previous.capacity);
    const curFloor = floorOf(this.#current, cur);
    const prevFloor = floorOf(this.#previous, prev);
    for (const k of cur)
      merged.set(k.key, { key: k.key, count: k.count + prevFloor, error: k.error + prevFloor });
    for (const k of prev) {
      const m = merged.get(k.key);
      if (m !== undefined) {
        m.count += k.count - prevFloor;
        m.error += k.error - prevFloor;
      } else {
        merged.set(k.key, { key: k.key, count: k.count + curFloor, error: k.error + curFloor });
      }
    }
    return [...merged.values()].sort(byCount).slice(0, Math.max(0, n));
  }

  #rotate(): void {
    const now = this.#now();
    const elapsed = now - this.#since;
    if (elapsed < this.#half) return;
    if (elapsed >= 2 * this.#half) {
      // Idle for a whole window: nothing counted is recent enough.
      this.#current.clear();
      this.#previous.clear();
    } else {
      const old = this.#previous;
      old.clear();
      this.#previous = this.#current;
      this.#current = old;
    }
    this.#since = now - (elapsed % this.#half);
    this.#exactLeft = this.#exactOffers;
  }
}
