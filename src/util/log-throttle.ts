// log-throttle.ts: LogThrottle, which lets an event that can repeat thousands of
// times a second (a dead peer, a refused connection) reach the log once per
// interval per subject, with a count of what was held back.

/** LogThrottleOptions configure a {@link LogThrottle}. */
export interface LogThrottleOptions {
  /** The shortest time between two log lines of one subject, in ms. Default 10,000. */
  intervalMs?: number | undefined;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** The most subjects remembered at once; the oldest are forgotten first. Default 1,000. */
  maxSubjects?: number | undefined;
}

interface Seen {
  /** When this subject was last logged. */
  at: number;
  /** Events held back since then. */
  held: number;
}

/**
 * LogThrottle decides whether an event should be logged. `take(subject)` returns
 * `undefined` when the event should be held back, or the number of events of
 * that subject held back since its last log line (0 for the first), which the
 * caller puts in the line it logs: one line per subject per interval, and no
 * event goes uncounted.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #maxSubjects: number;
  readonly #seen = new Map<string, Seen>();

  constructor(options: LogThrottleOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#maxSubjects = options.maxSubjects ?? 1_000;
  }

  /** take records one event of `subject`: the count of held-back events when it should be logged, else undefined. */
  take(subject: string): number | undefined {
    const now = this.#now();
    const seen = this.#seen.get(subject);
    if (seen !== undefined && now - seen.at < this.#intervalMs) {
      seen.held++;
      return undefined;
    }
    const held = seen?.held ?? 0;
    this.#seen.delete(subject);
    if (this.#seen.size >= this.#maxSubjects) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    this.#seen.set(subject, { at: now, held: 0 });
    return held;
  }

  /** forget drops what is remembered of `subject` (e.g. a peer that left). */
  forget(subject: string): void {
    this.#seen.delete(subject);
  }
}
