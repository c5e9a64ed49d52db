// space-saving.ts: a fixed-size heavy-hitters sketch (Metwally et al.'s space-saving),
// and a windowed pair of them that forgets what was hot more than a window ago.

/** HotKey is one key of a heavy-hitters answer: its estimated count and the most it overstates. */
export interface HotKey {
  key: string;
  /** count is an upper bound of the key's true count in the window. */
  count: number;
  /** error is how much `count` may overstate it: the true count is at least `count - error`. */
  error: number;
}

/**
 * SpaceSaving counts keys in `capacity` slots. A key already counted is
 * incremented; a new key takes a free slot or, when all are taken, the slot of
 * the key with the smallest count, inheriting that count as its error. Every
 * key whose true count is above `total / capacity` is guaranteed a slot.
 * The slots are a min-heap on count in typed arrays sized once, so `offer` is
 * one map lookup and O(log capacity) swaps at worst (usually none).
 */
export class SpaceSaving {
  readonly #capacity: number;
  readonly #slotOf = new Map<string, number>();
  readonly #keys: (string | undefined)[];
  readonly #counts: Float64Array;
  readonly #errors: Float64Array;
  #used = 0;
  #total = 0;

  /** Throws RangeError unless `capacity` is an integer >= 1. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be an integer >= 1, got ${String(capacity)}`);
    }
    this.#capacity = capacity;
    this.#keys = new Array<string | undefined>(capacity).fill(undefined);
    this.#counts = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
  }

  /** capacity is the number of keys the sketch counts at once. */
  get capacity(): number {
    return this.#capacity;
  }

  /** total is the number of offers since the last clear. */
  get total(): number {
    return this.#total;
  }

  /** offer counts one occurrence of `key`. */
  offer(key: string): void {
    this.#total++;
    const slot = this.#slotOf.get(key);
    if (slot !== undefined) {
      this.#counts[slot]!++;
      this.#siftDown(slot);
      return;
    }
    if (this.#used < this.#capacity) {
      const s = this.#used++;
      this.#keys[s] = key;
      this.#counts[s] = 1;
      this.#errors[s] = 0;
      this.#slotOf.set(key, s);
      this.#siftUp(s);
      return;
    }
    // Replace the minimum, which a min-heap keeps at slot 0.
    const old = this.#keys[0] as string;
    this.#slotOf.delete(old);
    const min = this.#counts[0]!;
    this.#keys[0] = key;
    this.#errors[0] = min;
    this.#counts[0] = min + 1;
    this.#slotOf.set(key, 0);
    this.#siftDown(0);
  }

  /** top returns up to `n` keys of the highest counts, highest first. */
  top(n: number): HotKey[] {
    const out: HotKey[] = [];
    for (let s = 0; s < this.#used; s++) {
      out.push({ key: this.#keys[s] as string, count: this.#counts[s]!, error: this.#errors[s]! });
    }
    out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.slice(0, Math.max(0, n));
  }

  /** clear forgets every key. */
  clear(): void {
    this.#slotOf.clear();
    this.#keys.fill(undefined);
    this.#used = 0;
    this.#total = 0;
  }

  // The slots form a min-heap on count: slot 0 is a key of the smallest count. An
  // increment only moves a slot away from the root; only a new slot (count 1) moves
  // towards it.

  #siftUp(s: number): void {
    while (s > 0) {
      const parent = (s - 1) >> 1;
      if (this.#counts[parent]! <= this.#counts[s]!) return;
      this.#swap(s, parent);
      s = parent;
    }
  }

  #siftDown(s: number): void {
    const n = this.#used;
    for (;;) {
      const l = 2 * s + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.#counts[r]! < this.#counts[l]! ? r : l;
      if (this.#counts[s]! <= this.#counts[c]!) return;
      this.#swap(s, c);
      s = c;
    }
  }

  #swap(a: number, b: number): void {
    const ka = this.#keys[a] as string;
    const kb = this.#keys[b] as string;
    this.#keys[a] = kb;
    this.#keys[b] = ka;
    this.#slotOf.set(kb, a);
    this.#slotOf.set(ka, b);
    const c = this.#counts[a]!;
    this.#counts[a] = this.#counts[b]!;
    this.#counts[b] = c;
    const e = this.#errors[a]!;
    this.#errors[a] = this.#errors[b]!;
    this.#errors[b] = e;
  }
}

/** WindowedHotKeysOptions configure {@link WindowedHotKeys}. */
export interface WindowedHotKeysOptions {
  /** capacity is the number of keys each of the two sketches counts. Default 256. */
  capacity?: number | undefined;
  /** windowMs is about how far back the answer looks. Default 60,000. */
  windowMs?: number | undefined;
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
    this.#half = Math.floor(windowMs / 2);
    this.#now = options.now ?? Date.now;
    this.#current = new SpaceSaving(capacity);
    this.#previous = new SpaceSaving(capacity);
    this.#since = this.#now();
  }

  /** offer counts one occurrence of `key` now. */
  offer(key: string): void {
    this.#rotate();
    this.#current.offer(key);
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
    return [...merged.values()]
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, Math.max(0, n));
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
  }
}
