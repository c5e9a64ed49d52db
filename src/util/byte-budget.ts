// byte-budget.ts: ByteBudget, one server's allowance of request bytes being received or held,
// so that many large requests at once are refused instead of buffered without bound.

/**
 * ByteBudget counts the bytes a server has reserved for request bodies (or
 * messages) it is receiving or still holds. `tryReserve` never lets the total
 * pass `limit`: a request that does not fit is refused at once, and the caller
 * answers it "unavailable" without reading it. Single-threaded: no locking.
 */
export class ByteBudget {
  /** limit is the most bytes reserved at once. */
  readonly limit: number;
  #reserved = 0;
  #peak = 0;
  #refused = 0;

  /** Throws TypeError unless `limit` is a non-negative safe integer. */
  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new TypeError(`a byte budget must be a non-negative integer, got ${String(limit)}`);
    }
    this.limit = limit;
  }

  /** reserved is how many bytes are reserved now. */
  get reserved(): number {
    return this.#reserved;
  }

  /** peak is the most bytes ever reserved at once (never above `limit`). */
  get peak(): number {
    return this.#peak;
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
    if (bytes < 0 || this.#reserved + bytes > this.limit) {
      this.#refused++;
      return false;
    }
    this.#reserved += bytes;
    if (this.#reserved > this.#peak) this.#peak = this.#reserved;
    return true;
  }

  /** release gives back `bytes` reserved earlier. Releasing more than is reserved is a bug: it throws RangeError. */
  release(bytes: number): void {
    if (bytes < 0 || bytes > this.#reserved) {
      throw new RangeError(`release of ${bytes} bytes with ${this.#reserved} reserved`);
    }
    this.#reserved -= bytes;
  }
}
