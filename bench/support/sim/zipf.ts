// zipf.ts: a Zipf sampler, for the simulation's skewed key popularity.

export { seeded as seededRandom } from '../../../test/support/seeded.js';

/** Random is a source of numbers in [0, 1). */
export type Random = () => number;

/**
 * ZipfSampler draws ranks 0..n-1 with probability proportional to
 * 1 / (rank + 1)^s: rank 0 is the most popular. With s = 1 and 10,000 ranks the
 * top 1% take about half of the draws. A draw is a binary search of the
 * cumulative weights, built once.
 */
export class ZipfSampler {
  readonly #cdf: Float64Array;
  readonly #random: Random;

  /** Throws RangeError unless `n` is a positive integer and `s` a non-negative number. */
  constructor(n: number, s: number, random: Random) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be >= 1: ${n}`);
    if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`s must be >= 0: ${s}`);
    const cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += 1 / (i + 1) ** s;
      cdf[i] = sum;
    }
    for (let i = 0; i < n; i++) cdf[i] = (cdf[i] as number) / sum;
    this.#cdf = cdf;
    this.#random = random;
  }

  /** share is the probability that a draw falls in ranks 0..k-1. */
  share(k: number): number {
    if (k <= 0) return 0;
    return this.#cdf[Math.min(k, this.#cdf.length) - 1] as number;
  }

  /** next draws one rank. */
  next(): number {
    const u = this.#random();
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) <= u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
