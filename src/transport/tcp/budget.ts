// budget.ts: a server-wide budget of request bytes being received; connections that do not fit
// wait their turn, in order, instead of buffering.

/** BudgetWaiter is a connection waiting for bytes; `grant` is called once they are reserved for it. */
export interface BudgetWaiter {
  readonly bytes: number;
  grant(): void;
}

/**
 * ByteBudget hands out reservations of at most `limit` bytes in all. A
 * reservation that does not fit waits, first come first served, until enough
 * is released; a reservation larger than the whole budget is let through when
 * nothing else is reserved, so that any legal frame can still arrive (the total
 * then exceeds the limit by less than that one frame).
 */
export class ByteBudget {
  /** limit is the most bytes reserved at once (but for one reservation larger than it). */
  readonly limit: number;
  #used = 0;
  readonly #waiters: BudgetWaiter[] = [];

  /** `limit` must be positive. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** used is the number of bytes reserved now. */
  get used(): number {
    return this.#used;
  }

  /** waiting is the number of reservations waiting for bytes. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * reserve reserves `bytes` at once and returns true, or returns false and
   * queues `waiter`, whose `grant` runs once the bytes are reserved for it.
   * Nobody jumps the queue: while others wait, a new reservation waits too.
   */
  reserve(waiter: BudgetWaiter): boolean {
    if (this.#waiters.length === 0 && this.#fits(waiter.bytes)) {
      this.#used += waiter.bytes;
      return true;
    }
    this.#waiters.push(waiter);
    return false;
  }

  /** release returns `bytes` to the budget and grants the waiters that now fit, in order. */
  release(bytes: number): void {
    this.#used -= bytes;
    while (this.#waiters.length > 0) {
      const next = this.#waiters[0] as BudgetWaiter;
      if (!this.#fits(next.bytes)) break;
      this.#waiters.shift();
      this.#used += next.bytes;
      next.grant();
    }
  }

  /** cancel takes `waiter` out of the queue (a connection closed while waiting). */
  cancel(waiter: BudgetWaiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i < 0) return;
    this.#waiters.splice(i, 1);
    // The queue's head may have been the one blocking the others.
    this.release(0);
  }

  #fits(bytes: number): boolean {
    return this.#used + bytes <= this.limit || this.#used === 0;
  }
}
