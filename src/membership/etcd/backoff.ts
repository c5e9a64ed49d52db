// backoff.ts: the retry pacing of the etcd session loop: a doubling, jittered
// delay between bounds, and a pause that ends early when the loop is stopped.
import { type Clock, holdOpen, systemClock } from '../../util/clock.js';

/**
 * Backoff yields retry delays that double from `minMs` up to `maxMs`, each drawn
 * in the upper half of its step (`[d/2, d]`) so nodes that lost etcd together do
 * not retry in lockstep. `reset()` after a success starts over from `minMs`.
 */
export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #step = 0;

  constructor(minMs: number, maxMs: number, random: () => number = Math.random) {
    this.#minMs = minMs;
    this.#maxMs = Math.max(minMs, maxMs);
    this.#random = random;
  }

  /** next returns the delay before the next retry and lengthens the one after. */
  next(): number {
    const d = Math.min(this.#maxMs, this.#minMs * 2 ** this.#step);
    if (d < this.#maxMs) this.#step++;
    return d / 2 + (this.#random() * d) / 2;
  }

  /** reset starts the delays over from the minimum. */
  reset(): void {
    this.#step = 0;
  }
}

/**
 * pause resolves after `ms` on `clock`, or at once when `signal` aborts (it never
 * rejects: the loop checks its own state after waking). The wait holds the process open.
 */
export function pause(ms: number, signal: AbortSignal, clock: Clock = systemClock): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = holdOpen(clock.setTimeout(done, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}
