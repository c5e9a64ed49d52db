// latency.ts: a latency histogram cheap enough to record every peer request, exported
// through a prom-client Registry like any other metric.
import type { Registry } from 'prom-client';

/** LatencySeries is one label set of a {@link LatencyHistogram}; `observe` records a duration in seconds. */
export interface LatencySeries {
  observe(seconds: number): void;
}

/** One label set's counts: per bucket (not cumulative), then the sum and count. */
interface Series extends LatencySeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** LatencyHistogramOptions configure a {@link LatencyHistogram}. */
export interface LatencyHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds of the buckets in seconds, ascending; `+Inf` is added. */
  buckets: readonly number[];
  registers: readonly Registry[];
}

/** A sample of the values prom-client's exposition reads from a metric's `get()`. */
interface MetricValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * LatencyHistogram is a Prometheus histogram whose series are looked up once and
 * then observed with no allocation, no label validation and no hashing; prom-client's
 * `Histogram` does all three on every observation, which costs more than a peer
 * request over a fast transport. It registers with prom-client registries (it has
 * the `name`, `help`, `type` and `get()` they read) and renders the same
 * `_bucket`/`_sum`/`_count` lines. A series appears once it has been observed.
 */
export class LatencyHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(options: LatencyHistogramOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    for (const r of options.registers) r.registerMetric(this as never);
  }

  /** series returns the series of `labels` (one value per label name), made on first use. */
  series(labels: Readonly<Record<L, string>>): LatencySeries {
    const key = this.#keyOf(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      const bounds = this.#bounds;
      const counts = new Float64Array(bounds.length + 1);
      const made: Series = {
        labels: { ...labels },
        counts,
        sum: 0,
        count: 0,
        observe(seconds: number): void {
          let i = 0;
          while (i < bounds.length && seconds > (bounds[i] as number)) i++;
          counts[i] = (counts[i] as number) + 1;
          made.sum += seconds;
          made.count++;
        },
      };
      series = made;
      this.#series.set(key, series);
    }
    return series;
  }

  /** get returns the samples for prom-client's exposition: cumulative buckets, sum, count. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: MetricValue[];
    aggregator: string;
  }> {
    const values: MetricValue[] = [];
    for (const s of this.#series.values()) {
      // Listed once observed, as prom-client lists a label set.
      if (s.count === 0) continue;
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le, ...s.labels },
          value: cumulative,
        });
      });
      cumulative += s.counts[this.#bounds.length] as number;
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { le: '+Inf', ...s.labels },
        value: cumulative,
      });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  /**
   * remove forgets the series of `labels`: it is no longer exported, and a
   * holder that still observes into it changes nothing. No-op for an unknown one.
   */
  remove(labels: Readonly<Record<L, string>>): void {
    this.#series.delete(this.#keyOf(labels));
  }

  #keyOf(labels: Readonly<Record<L, string>>): string {
    return this.#labelNames.map((n) => labels[n]).join('\u0000');
  }

  /**
   * quantiles estimates the `qs` quantiles (0 to 1), in seconds, of every
   * observation of the series whose labels `match` takes, together: linear
   * within the bucket that holds each (a quantile past the last bound is that
   * bound). `count` is how many observations there were; the quantiles are
   * null when there were none.
   */
  quantiles(
    match: (labels: Readonly<Record<string, string>>) => boolean,
    qs: readonly number[],
  ): { count: number; values: (number | null)[] } {
    const bounds = this.#bounds;
    const counts = new Float64Array(bounds.length + 1);
    let count = 0;
    for (const s of this.#series.values()) {
      if (!match(s.labels)) continue;
      for (let i = 0; i < counts.length; i++)
        counts[i] = (counts[i] as number) + (s.counts[i] as number);
      count += s.count;
    }
    const values = qs.map((q) => {
      if (count === 0) return null;
      const target = q * count;
      let below = 0;
      for (let i = 0; i < counts.length; i++) {
        const here = counts[i] as number;
        if (here > 0 && below + here >= target) {
          if (i === bounds.length) return bounds[bounds.length - 1] ?? null;
          const lower = i === 0 ? 0 : (bounds[i - 1] as number);
          const upper = bounds[i] as number;
          return lower + ((upper - lower) * Math.max(0, target - below)) / here;
        }
        below += here;
      }
      return bounds[bounds.length - 1] ?? null;
    });
    return { count, values };
  }

  /** reset forgets every series. */
  reset(): void {
    this.#series.clear();
  }
}
