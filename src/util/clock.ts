// clock.ts: the one time source of peercache: the epoch clock and timers, injectable so
// that tests drive time instead of waiting for it.

/**
 * Clock is a time source: the epoch clock and timers. Everything that reads the time or
 * waits for it (TTLs, deadlines, peer health, timeouts, sweeps, sessions) takes one, so a
 * test can drive time with a manual clock instead of sleeping.
 */
export interface Clock {
  /** now returns the time in ms since the epoch (deadlines are in this unit). */
  now(): number;
  /** setTimeout runs `fn` after `ms`; the handle goes to `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** clearTimeout cancels a timer of `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** MAX_TIMER_MS is the largest delay `setTimeout` honours (a larger one fires at once): a wait longer than this needs no timer. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** systemClock is `Date.now` with unref'd timers: a timer of its own never keeps a process alive. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/**
 * holdOpen makes a timer of `clock` keep the process alive until it fires or is
 * cleared, as a plain `setTimeout` does: for loops that are the process's work
 * (a session's retries). A manual clock's timers hold nothing open; they are left as they are.
 */
export function holdOpen(handle: unknown): unknown {
  (handle as Partial<NodeJS.Timeout> | undefined)?.ref?.();
  return handle;
}

/**
 * timeoutSignal is an AbortSignal that aborts after `ms` on `clock`, with the
 * TimeoutError reason of `AbortSignal.timeout` (which it is, on the system clock).
 */
export function timeoutSignal(clock: Clock, ms: number): AbortSignal {
  if (clock === systemClock) return AbortSignal.timeout(ms);
  const ac = new AbortController();
  clock.setTimeout(
    () => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  );
  return ac.signal;
}
