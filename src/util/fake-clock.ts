// fake-clock.ts: FakeClock, a Clock for tests: time moves only when the test says so, and
// the timers due on the way run in order.
import { ChurnMap } from './churn-map.js';
import type { Clock } from './clock.js';

/** FakeClock is a {@link Clock} whose time moves only when the test says so; timers fire in order. */
export class FakeClock implements Clock {
  #now: number;
  #timers = new ChurnMap<number, { at: number; fn: () => void }>();
  #next = 0;
  /** The clock starts at `start` (ms since the epoch; default 1,000,000). */
  constructor(start = 1_000_000) {
    this.#now = start;
  }
  /** now is the fake time, in ms since the epoch. */
  now(): number {
    return this.#now;
  }
  /** setTimeout runs `fn` once the fake time has moved `ms` on. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  /** clearTimeout cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** pending counts the timers not yet run. */
  get pending(): number {
    return this.#timers.size;
  }
  /** advance moves time forward by `ms`, running each timer due on the way (and their promise jobs). */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= until && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }
}

/** settle lets every pending promise job (and a few turns of immediates) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
