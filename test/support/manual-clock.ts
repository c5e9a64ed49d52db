// manual-clock.ts: a Clock that stands still until a test advances it, firing the
// timers that come due in order, so tests of timeouts never wait for real time.
import type { Clock } from '../../src/util/clock.js';

/** A timer of a {@link ManualClock}: its handle is the timer itself. */
interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * ManualClock is a {@link Clock} whose time moves only by {@link ManualClock.advance}.
 * Timers due by then run in order of their due time (ties in the order they were
 * set), each with `now()` equal to its due time; a timer set by a timer runs in the
 * same advance if it comes due within it.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<ManualTimer>();

  /**
   * The clock starts at `start` ms since the epoch; default the real time now, so that
   * a deadline it computes still means something to a part on the system clock (an
   * HTTP peer, a socket) while the test runs.
   */
  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: ManualTimer = { at: this.#now + delay, seq: this.#seq++, fn };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as ManualTimer);
  }

  /** pending is how many timers are set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** delays are the waits of the pending timers from now, in the order they were set. */
  get delays(): number[] {
    return [...this.#timers].map((t) => t.at - this.#now);
  }

  /** nextAt is when the earliest timer is due (ms since the epoch), or undefined for none. */
  get nextAt(): number | undefined {
    return this.#next()?.at;
  }

  /**
   * advance moves time forward by `ms`, running each timer as it comes due.
   * Between timers it lets queued promise callbacks run, so that work a timer
   * starts (a rejection, a retry that sets a new timer) happens before the next
   * one fires, as it would in real time.
   */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (let t = this.#next(); t !== undefined && t.at <= until; t = this.#next()) {
      this.#timers.delete(t);
      this.#now = Math.max(this.#now, t.at);
      t.fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }

  /** runAll advances to each pending timer in turn until none is left (at most `limit` timers). */
  async runAll(limit = 1000): Promise<void> {
    for (let i = 0; i < limit; i++) {
      const next = this.#next();
      if (next === undefined) return;
      await this.advance(next.at - this.#now);
    }
    throw new Error(`ManualClock: still ${this.#timers.size} timers after ${limit}`);
  }

  #next(): ManualTimer | undefined {
    let first: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (first === undefined || t.at < first.at || (t.at === first.at && t.seq < first.seq)) {
        first = t;
      }
    }
    return first;
  }
}

/** settle lets the promise callbacks queued so far, and those they queue, run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
