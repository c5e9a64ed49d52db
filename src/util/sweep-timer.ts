// sweep-timer.ts: one timer for many deadlines, for request tables that would
// otherwise start and clear a timer per request.
import { type Clock, MAX_TIMER_MS, systemClock } from './clock.js';

/**
 * SweepTimer stands in for one timer per request. The owner keeps each request's
 * deadline (ms since the epoch) in its own table and calls {@link SweepTimer.schedule}
 * for it; one timer is kept armed for the earliest deadline scheduled. When it
 * fires, `sweep(now)` is called: it must fail every request due by `now` and
 * return the earliest deadline still pending (`Infinity` for none), for which the
 * timer is armed again.
 *
 * Requests that end in time need nothing: a request that would have cleared its
 * timer simply leaves the table, and a sweep that finds nothing due costs one
 * pass over it. When most requests carry the same timeout, the timer fires about
 * once per timeout, not once per request.
 *
 * The timer holds the process open only while the owner says it has pending
 * requests ({@link SweepTimer.hold}). Time is read from, and the timer set on, the
 * `clock` given (default {@link systemClock}).
 */
export class SweepTimer {
  readonly #sweep: (now: number) => number;
  readonly #clock: Clock;
  #timer: unknown;
  /** When the armed timer fires, ms since the epoch; Infinity when none is armed. */
  #at = Number.POSITIVE_INFINITY;
  #held = true;
  #stopped = false;
  readonly #fire = () => this.#onFire();

  constructor(sweep: (now: number) => number, clock: Clock = systemClock) {
    this.#sweep = sweep;
    this.#clock = clock;
  }

  /** schedule makes sure a sweep runs at or soon after `deadline` (ms since the epoch). */
  schedule(deadline: number): void {
    if (this.#stopped || !(deadline < this.#at)) return;
    this.#arm(deadline, this.#clock.now());
  }

  /**
   * hold tells whether requests are pending: the timer keeps the process alive
   * only while they are (they are owed an answer or a timeout).
   */
  hold(pending: boolean): void {
    if (pending === this.#held) return;
    this.#held = pending;
    this.#hold();
  }

  /** stop clears the timer for good; later schedules are ignored. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  #arm(deadline: number, now: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#at = deadline;
    const delay = Math.min(Math.max(1, Math.ceil(deadline - now)), MAX_TIMER_MS);
    this.#timer = this.#clock.setTimeout(this.#fire, delay);
    this.#hold();
  }

  /**
   * #hold refs the armed timer while requests are pending and unrefs it otherwise,
   * when the clock's timers are Node's (a manual clock's hold no process open).
   */
  #hold(): void {
    const timer = this.#timer as Partial<NodeJS.Timeout> | undefined;
    if (this.#held) timer?.ref?.();
    else timer?.unref?.();
  }

  #onFire(): void {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    if (this.#stopped) return;
    const now = this.#clock.now();
    const next = this.#sweep(now);
    // The sweep may have scheduled deadlines of its own (new requests): arm for the earliest.
    if (!this.#stopped && next < this.#at) this.#arm(next, now);
  }
}
