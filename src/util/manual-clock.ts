// manual-clock.ts: a Clock for tests whose time moves only when the test says so.
import type { Clock } from './clock.js';

interface Timer {
  at: number;
  fn: () => void;
}

/**
 * ManualClock is a {@link Clock} for tests: `now()` stands still until
 * `advance(ms)` moves it, firing each timer that falls due, earliest first,
 * and letting the promise jobs each one starts run before the next.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  /** now returns the clock's time, ms since the epoch. */
  now(): number {
    return this.#now;
  }

  /** setTimeout queues `fn` to run once the clock has advanced `ms`. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  /** clearTimeout drops a queued timer. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** delays are the waits of the queued timers from now, in the order they were set. */
  get delays(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now);
  }

  /** advance moves time forward by `ms`, firing the timers due on the way in order. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      let next: [number, Timer] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
      await flushJobs();
    }
    this.#now = until;
    await flushJobs();
  }
}

/** flushJobs lets the promise jobs queued so far (and those they queue) run. */
export async function flushJobs(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
