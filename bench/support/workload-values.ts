// workload-values.ts: the workload benchmark's keys and values: a key names its index,
// a value carries its key and the database version it was read or written at (so a
// reader can tell how old it is), and a Zipf sampler picks which key each request asks.

/** WORKLOAD_VALUE_BYTES is the size of every value of the workload: 1 KiB. */
export const WORKLOAD_VALUE_BYTES = 1024;

/** workloadKey is the key of index `i`: `key:<i>`. */
export function workloadKey(i: number): string {
  return `key:${i}`;
}

/** keyIndex is the index a workload key names, or -1 for anything else. */
export function keyIndex(key: string): number {
  if (!key.startsWith('key:')) return -1;
  const i = Number(key.slice(4));
  return Number.isInteger(i) && i >= 0 ? i : -1;
}

/** Source says where a value came from: a load from the database, or a write's set. */
export type Source = 'load' | 'write';

/**
 * encodeValue is the value of key `i` at database version `version`, as `source`
 * made it: `key:<i>|<version>|l|` (or `|w|`) padded with dots to
 * {@link WORKLOAD_VALUE_BYTES}, as a string (ASCII: as many bytes as characters).
 */
export function encodeValue(i: number, version: number, source: Source = 'load'): string {
  const s = source === 'load' ? 'l' : 'w';
  return `${workloadKey(i)}|${version}|${s}|`.padEnd(WORKLOAD_VALUE_BYTES, '.');
}

/** ValueVersion is what a value says of itself: its database version and whether a write set it. */
export interface ValueVersion {
  version: number;
  written: boolean;
}

/** HEAD_CHARS is how much of a value {@link valueVersion} needs to read: its key and version. */
export const HEAD_CHARS = 48;

/**
 * valueVersion reads the version out of a value of key `i`, given its length and its
 * first {@link HEAD_CHARS} characters (each cache hands values back in its own type);
 * it throws when the value is another key's, the wrong size, or not a workload value,
 * so a wrong answer is never counted as a read.
 */
export function valueVersion(i: number, length: number, head: string): ValueVersion {
  if (length !== WORKLOAD_VALUE_BYTES) {
    throw new Error(`value of ${workloadKey(i)} has ${length} bytes, not ${WORKLOAD_VALUE_BYTES}`);
  }
  const prefix = `${workloadKey(i)}|`;
  const end = head.indexOf('|', prefix.length);
  const version = Number(head.slice(prefix.length, end));
  const source = head.slice(end + 1, end + 3);
  if (
    !head.startsWith(prefix) ||
    end < 0 ||
    !Number.isInteger(version) ||
    (source !== 'l|' && source !== 'w|')
  ) {
    throw new Error(`not a value of ${workloadKey(i)}: ${head}`);
  }
  return { version, written: source === 'w|' };
}

/**
 * ZipfSampler draws key indexes 0..n-1 with probability proportional to
 * 1 / (rank + 1)^s: index 0 is the most popular. The cumulative weights are
 * computed once; each draw is a binary search.
 */
export class ZipfSampler {
  readonly #cdf: Float64Array;
  readonly #random: () => number;

  /** constructor takes the number of keys, the exponent and a source of uniform [0, 1) numbers. */
  constructor(n: number, s: number, random: () => number = Math.random) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ZipfSampler needs n ≥ 1, not ${n}`);
    if (!(s > 0)) throw new RangeError(`ZipfSampler needs s > 0, not ${s}`);
    this.#cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      sum += 1 / (r + 1) ** s;
      this.#cdf[r] = sum;
    }
    for (let r = 0; r < n; r++) this.#cdf[r]! /= sum;
    this.#random = random;
  }

  /** ZipfSampler.next draws one key index. */
  next(): number {
    const u = this.#random();
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** ZipfSampler.share is the probability of index `i`. */
  share(i: number): number {
    return this.#cdf[i]! - (i === 0 ? 0 : this.#cdf[i - 1]!);
  }
}
