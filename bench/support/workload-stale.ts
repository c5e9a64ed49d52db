// workload-stale.ts: the workload benchmark's stale-read check. A read is stale when it
// started after a write of its key was acknowledged and returned an older version than
// that write's: the cache served a value the application had already replaced. Times
// are CLOCK_MONOTONIC microseconds (process.hrtime), one clock for every process of
// the machine, so writes acked in one process compare with reads begun in another.

/**
 * WriteRecord is one acknowledged write: key index, the version written, when the write
 * began (before its database update) and when it was acknowledged (after its cache update).
 */
export type WriteRecord = [key: number, version: number, startUs: number, ackUs: number];

/** monotonicUs is the machine-wide monotonic clock in microseconds. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * StaleChecker holds every acknowledged write of a run and says of a read whether it
 * was stale: for its key, the highest version acked strictly before the read began is
 * the oldest version the read may return.
 */
export class StaleChecker {
  /** Per key: ack times in order, the highest version acked up to each, and each write by version. */
  readonly #byKey = new Map<
    number,
    { ackUs: number[]; maxVersion: number[]; byVersion: Map<number, WriteRecord> }
  >();

  /** constructor indexes `writes` (in any order). */
  constructor(writes: readonly WriteRecord[]) {
    const sorted = [...writes].sort((a, b) => a[0] - b[0] || a[3] - b[3]);
    for (const write of sorted) {
      const [key, version, , ackUs] = write;
      let entry = this.#byKey.get(key);
      if (entry === undefined) {
        entry = { ackUs: [], maxVersion: [], byVersion: new Map() };
        this.#byKey.set(key, entry);
      }
      const before = entry.maxVersion.at(-1) ?? 0;
      entry.ackUs.push(ackUs);
      entry.maxVersion.push(Math.max(before, version));
      entry.byVersion.set(version, write);
    }
  }

  /**
   * StaleChecker.minVersion is the highest version of `key` acked strictly before
   * `startUs`, or 0 when none was.
   */
  minVersion(key: number, startUs: number): number {
    const entry = this.#byKey.get(key);
    if (entry === undefined) return 0;
    let lo = 0;
    let hi = entry.ackUs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entry.ackUs[mid]! < startUs) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : entry.maxVersion[lo - 1]!;
  }

  /**
   * StaleChecker.verdict judges a read of `key` begun at `startUs` that returned
   * `version` (`written` when a write's set put the value in the cache): `fresh`;
   * `stale`; or `reordered`, a stale read of a written value whose write overlapped a
   * newer write of the key (the newer one began before it was acknowledged): two
   * writers may then have updated the database in one order and the cache in the
   * other, and the cache keeps the last value it was given.
   */
  verdict(
    key: number,
    startUs: number,
    version: number,
    written: boolean,
  ): 'fresh' | 'stale' | 'reordered' {
    if (version >= this.minVersion(key, startUs)) return 'fresh';
    if (!written) return 'stale';
    const entry = this.#byKey.get(key);
    const mine = entry?.byVersion.get(version);
    if (entry === undefined || mine === undefined) return 'stale';
    for (const [v, w] of entry.byVersion) if (v > version && w[2] < mine[3]) return 'reordered';
    return 'stale';
  }
}

/** ReadLog records the reads of one process compactly (key, start, version), to check at the end. */
export class ReadLog {
  #keys = new Uint32Array(1 << 16);
  #starts = new Float64Array(1 << 16);
  #versions = new Uint32Array(1 << 16);
  #written = new Uint8Array(1 << 16);
  #size = 0;

  /** ReadLog.size is the number of reads recorded. */
  get size(): number {
    return this.#size;
  }

  /** ReadLog.add records one read: its key, when it began, and the value's version and source. */
  add(key: number, startUs: number, version: number, written: boolean): void {
    if (this.#size === this.#keys.length) {
      const grow = <T extends Uint8Array | Uint32Array | Float64Array>(
        a: T,
        make: (n: number) => T,
      ): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.#keys = grow(this.#keys, (n) => new Uint32Array(n));
      this.#starts = grow(this.#starts, (n) => new Float64Array(n));
      this.#versions = grow(this.#versions, (n) => new Uint32Array(n));
      this.#written = grow(this.#written, (n) => new Uint8Array(n));
    }
    this.#keys[this.#size] = key;
    this.#starts[this.#size] = startUs;
    this.#versions[this.#size] = version;
    this.#written[this.#size] = written ? 1 : 0;
    this.#size++;
  }

  /**
   * ReadLog.countStale counts the recorded reads `checker` finds stale, and among
   * them those it finds `reordered` (see {@link StaleChecker.verdict}).
   */
  countStale(checker: StaleChecker): { stale: number; reordered: number } {
    let stale = 0;
    let reordered = 0;
    for (let r = 0; r < this.#size; r++) {
      const verdict = checker.verdict(
        this.#keys[r]!,
        this.#starts[r]!,
        this.#versions[r]!,
        this.#written[r] === 1,
      );
      if (verdict === 'fresh') continue;
      stale++;
      if (verdict === 'reordered') reordered++;
    }
    return { stale, reordered };
  }
}
