// load.ts: a closed-loop load generator for the remote benchmark: N requests in flight
// for a fixed time, recording throughput and the latency of each request.
import { performance } from 'node:perf_hooks';

/** LoadOptions configure {@link runLoad}. */
export interface LoadOptions {
  /** Keys requested in turn, round-robin. */
  keys: readonly string[];
  /** Requests kept in flight. Default: 64. */
  inFlight?: number;
  /** How long to keep sending, in milliseconds. Default: 5000. */
  durationMs?: number;
}

/** LoadResult is what {@link runLoad} measured. */
export interface LoadResult {
  /** Requests that succeeded. */
  ops: number;
  /** Requests that failed (they count in neither throughput nor latency). */
  errors: number;
  /** The first failure, if any. */
  firstError?: unknown;
  /** Successful requests per second over the whole run. */
  opsPerSec: number;
  /** Median latency in microseconds. */
  p50Us: number;
  /** 99th percentile latency in microseconds. */
  p99Us: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

/**
 * runLoad calls `request(key)` from `inFlight` concurrent loops for `durationMs`,
 * each loop sending its next request as soon as the previous one settles (a
 * closed loop), and returns throughput and p50/p99 latency of the successes.
 */
export async function runLoad(
  request: (key: string) => Promise<unknown>,
  options: LoadOptions,
): Promise<LoadResult> {
  const { keys, inFlight = 64, durationMs = 5000 } = options;
  if (keys.length === 0) throw new TypeError('runLoad needs at least one key');
  let latencies = new Float64Array(1 << 16);
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  let next = 0;
  const start = performance.now();
  const end = start + durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const key = keys[next]!;
      next = next + 1 === keys.length ? 0 : next + 1;
      const t0 = performance.now();
      try {
        await request(key);
      } catch (err) {
        errors++;
        firstError ??= err;
        continue;
      }
      if (ops === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[ops++] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return summarize(latencies.subarray(0, ops), errors, firstError, start);
}

/** summarize turns the latencies (ms) of the successes since `start` into a LoadResult. */
function summarize(
  latencies: Float64Array,
  errors: number,
  firstError: unknown,
  start: number,
): LoadResult {
  const elapsedMs = performance.now() - start;
  const sorted = latencies.sort();
  return {
    ops: sorted.length,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    opsPerSec: (sorted.length * 1000) / elapsedMs,
    p50Us: percentile(sorted, 50) * 1000,
    p99Us: percentile(sorted, 99) * 1000,
  };
}

/** RateOptions configure {@link runRate}. */
export interface RateOptions {
  /** Keys requested in turn, round-robin. */
  keys: readonly string[];
  /** Requests started per second, whatever the answers do. */
  rate: number;
  /** How long to keep sending, in milliseconds. Default: 5000. */
  durationMs?: number;
}

/**
 * runRate starts `rate` requests per second for `durationMs` (an open loop: a
 * slow answer does not hold back the next request) and returns p50/p99 latency,
 * each measured from the moment its request was sent. Requests go out in small
 * batches, every millisecond or so (a timer, so the generator does not spin a core
 * the measured processes need).
 */
export async function runRate(
  request: (key: string) => Promise<unknown>,
  options: RateOptions,
): Promise<LoadResult> {
  const { keys, rate, durationMs = 5000 } = options;
  if (keys.length === 0) throw new TypeError('runRate needs at least one key');
  if (!(rate > 0)) throw new RangeError(`runRate needs a positive rate, not ${rate}`);
  const total = Math.floor((rate * durationMs) / 1000);
  const latencies = new Float64Array(total);
  const settled: Promise<void>[] = [];
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  let sent = 0;
  const start = performance.now();
  const send = () => {
    const key = keys[sent % keys.length]!;
    sent++;
    const t0 = performance.now();
    settled.push(
      request(key).then(
        () => {
          latencies[ops++] = performance.now() - t0;
        },
        (err: unknown) => {
          errors++;
          firstError ??= err;
        },
      ),
    );
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      while (sent < due) send();
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(settled);
  return summarize(latencies.subarray(0, ops), errors, firstError, start);
}
