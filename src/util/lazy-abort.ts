// lazy-abort.ts: an abort signal made only when someone reads it.

/**
 * LazyAbort is an AbortController made on first read of `signal`: work that may be
 * cancelled but whose cancellation is rarely observed (a cache hit, a loader that
 * ignores its signal) costs no AbortController and no EventTarget. `abort` before the
 * signal exists is remembered and applied when it is made; the first reason wins.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  /** The signal, made now if it was not yet. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether `abort` was called, read without making the signal. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** abort aborts the signal, now or when it is made. Later calls change nothing. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
