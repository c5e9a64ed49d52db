// byte-budget.ts: ByteBudget, one server's allowance of request bytes being received or held,
// so that many large requests at once are refused, or wait their turn, instead of being
// buffered without bound.
import { InvalidArgumentError } from '../errors.js';

/** BudgetWaiter is a reservation waiting for its turn: `grant` is called once its bytes are reserved. */
export interface BudgetWaiter {
  readonly bytes: number;
  grant(): void;
}

/**
 * ByteBudget counts the bytes a server has reserved for request bodies (or
 * messages) it is receiving or still holds. Two ways to ask: `tryReserve`
 * never lets the total pass `limit` (a request that does not fit is refused at
 * once, and the caller answers it "unavailable" without reading it), and
 * `reserveOrWait` queues a request that does not fit until enough is released
 * (the caller stops reading its connection meanwhile). Single-threaded: no locking.
 */
export class ByteBudget {
  /** limit is the most bytes reserved at once (but see `reserveOrWait`). */
  readonly limit: number;
  #reserved = 0;
  #peak = 0;
  #refused = 0;
  readonly #waiters: BudgetWaiter[] = [];

  /** Throws InvalidArgumentError unless `limit` is a non-negative safe integer. */
  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new InvalidArgumentError(
        `a byte budget must be a non-negative integer, got ${String(limit)}`,
      );
    }
    this.limit = limit;
  }

  /** reserved is how many bytes are reserved now. */
  get reserved(): number {
    return this.#reserved;
  }

  /** peak is the most bytes ever reserved at once. */
  get peak(): number {
    return this.#peak;
  }

  /** waiting is how many reservations wait for their turn. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** refused counts the reservations refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * tryReserve reserves `bytes` and returns true when they fit under the
   * limit; otherwise it reserves nothing, counts a refusal and returns false.
   */
  tryReserve(bytes: number): boolean {
    if (bytes < 0 || this.#waiters.length > 0 || this.#reserved + bytes > this.limit) {
      this.#refused++;
      return false;
    }
    this.#take(bytes);
    return true;
  }

  /**
   * reserveOrWait reserves `waiter.bytes` at once and returns true, or queues
   * the waiter and returns false: waiters are granted in order as bytes are
   * released, and none jumps the queue. A reservation larger than the whole
   * limit is let in when nothing else is reserved, so it is not refused forever.
   */
  reserveOrWait(waiter: BudgetWaiter): boolean {
    if (this.#waiters.length === 0 && this.#fits(waiter.bytes)) {
      this.#take(waiter.bytes);
      return true;
    }
    this.#waiters.push(waiter);
    return false;
  }

  /** cancel takes a waiter that no longer wants its bytes out of the queue. */
  cancel(waiter: BudgetWaiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i < 0) return;
    this.#waiters.splice(i, 1);
    // The waiter may have been the head that kept the others waiting.
    this.#grantWaiters();
  }

  /** release gives back `bytes` reserved earlier. Releasing more than is reserved is a bug: it throws RangeError. */
  release(bytes: number): void {
    if (bytes < 0 || bytes > this.#reserved) {
      throw new RangeError(`release of ${bytes} bytes with ${this.#reserved} reserved`);
    }
    this.#reserved -= bytes;
    this.#grantWaiters();
  }

  #grantWaiters(): void {
    while (this.#waiters.length > 0) {
      const next = this.#waiters[0] as BudgetWaiter;
      if (!this.#fits(next.bytes)) break;
      this.#waiters.shift();
      this.#take(next.bytes);
      next.grant();
    }
  }

  #fits(bytes: number): boolean {
    return this.#reserved + bytes <= this.limit || this.#reserved === 0;
  }

  #take(bytes: number): void {
    this.#reserved += bytes;
    if (this.#reserved > this.#peak) this.#peak = this.#reserved;
  }
}
