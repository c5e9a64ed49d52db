// restart-backoff.ts: how long the primary of `peercache node --workers` waits before it
// starts again a worker that died: doubling while the worker keeps dying young.

/** RestartBackoffOptions configure a {@link RestartBackoff}. */
export interface RestartBackoffOptions {
  /** minMs is the wait after the first death, or after a worker that lived long. Default 100. */
  minMs?: number;
  /** maxMs caps the wait. Default 10,000. */
  maxMs?: number;
  /** stableMs is how long a worker must live for its next death to start the waits over. Default 10,000. */
  stableMs?: number;
}

/**
 * RestartBackoff paces the restarts of one worker. A worker that dies within
 * `stableMs` of its start (a crash loop: a port taken, a loader that throws at
 * import) waits twice as long as the last time, up to `maxMs`; one that lived
 * longer waits `minMs`. It reads no clock: the caller gives the times, which
 * keeps it a pure function of them.
 */
export class RestartBackoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #stableMs: number;
  #last = 0;
  #startedAt = 0;

  constructor(options: RestartBackoffOptions = {}) {
    this.#minMs = options.minMs ?? 100;
    this.#maxMs = Math.max(this.#minMs, options.maxMs ?? 10_000);
    this.#stableMs = options.stableMs ?? 10_000;
  }

  /** started records that the worker was started at `now` (ms). */
  started(now: number): void {
    this.#startedAt = now;
  }

  /** died returns how long to wait before starting again a worker that died at `now`. */
  died(now: number): number {
    const young = now - this.#startedAt < this.#stableMs;
    this.#last = young && this.#last > 0 ? Math.min(this.#maxMs, this.#last * 2) : this.#minMs;
    return this.#last;
  }
}
