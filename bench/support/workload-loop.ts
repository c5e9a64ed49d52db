// workload-loop.ts: how busy an app process's event loop was while it served a round: the
// delay Node measured on it, and the time V8's collections took.
import {
  constants,
  monitorEventLoopDelay,
  type PerformanceEntry,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';

/** The period of the delay timer; its histogram holds the whole intervals between its runs. */
const RESOLUTION_MS = 10;

/** LoopStats is what a {@link LoopWatch} saw over one round. */
export interface LoopStats {
  /** How long it measured, in ms. */
  ms: number;
  /**
   * p99 of the event loop's delay, in ms: how late Node's `monitorEventLoopDelay` timer
   * (every 10 ms) ran, its 10 ms taken off.
   */
  delayP99Ms: number;
  /** Major (mark-compact) collections, and their time in ms. */
  majorCount: number;
  majorMs: number;
  /** Time of every collection (minor, major, incremental steps, weak callbacks), in ms. */
  gcMs: number;
}

/** LoopWatch measures the event loop's delay and the collections from `start()` to `stop()`. */
export class LoopWatch {
  readonly #delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  #majorCount = 0;
  #majorMs = 0;
  #gcMs = 0;
  #startedAt = 0;
  readonly #gc = new PerformanceObserver((list) => this.#count(list.getEntries()));

  /** LoopWatch.start begins measuring. */
  start(): void {
    this.#startedAt = performance.now();
    this.#delay.enable();
    this.#gc.observe({ entryTypes: ['gc'] });
  }

  /** LoopWatch.stop ends measuring and returns what was seen. */
  stop(): LoopStats {
    this.#delay.disable();
    // Collections that ended before now but whose entries are not yet delivered.
    this.#count(this.#gc.takeRecords());
    this.#gc.disconnect();
    return {
      ms: performance.now() - this.#startedAt,
      delayP99Ms: Math.max(0, this.#delay.percentile(99) / 1e6 - RESOLUTION_MS),
      majorCount: this.#majorCount,
      majorMs: this.#majorMs,
      gcMs: this.#gcMs,
    };
  }

  #count(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      this.#gcMs += entry.duration;
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        this.#majorCount++;
        this.#majorMs += entry.duration;
      }
    }
  }
}
