// workload-histogram.ts: a latency histogram with buckets 1% wide, small enough to send
// from each app process to the harness and merge there for cluster-wide percentiles.

/** Bucket growth: each bucket's upper bound is 1% above the previous one's. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets cover 1 µs to about 100 s; longer latencies fall in the last one. */
const BUCKETS = Math.ceil(Math.log(1e8) / LOG_GROWTH) + 1;

/** HistogramCounts is a histogram as sent between processes: [bucket, count] pairs. */
export type HistogramCounts = [number, number][];

/** LatencyHistogram counts latencies in microseconds into buckets 1% wide. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;

  /** LatencyHistogram.record counts one latency of `us` microseconds. */
  record(us: number): void {
    const b = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH));
    this.#counts[b]!++;
    this.#total++;
  }

  /** LatencyHistogram.total is the number of latencies counted. */
  get total(): number {
    return this.#total;
  }

  /** LatencyHistogram.counts returns the non-empty buckets, to send elsewhere. */
  counts(): HistogramCounts {
    const out: HistogramCounts = [];
    for (let b = 0; b < BUCKETS; b++) if (this.#counts[b]! > 0) out.push([b, this.#counts[b]!]);
    return out;
  }

  /** LatencyHistogram.merge adds the buckets of another histogram's {@link counts}. */
  merge(counts: HistogramCounts): void {
    for (const [b, c] of counts) {
      this.#counts[b]! += c;
      this.#total += c;
    }
  }

  /**
   * LatencyHistogram.percentile is the upper bound, in µs, of the bucket holding the
   * `p`th percentile (within 1% of the true value), or NaN when empty.
   */
  percentile(p: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return GROWTH ** b;
    }
    return GROWTH ** (BUCKETS - 1);
  }
}
