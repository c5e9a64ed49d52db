// singleflight.ts: runs concurrent loads of one key once, sharing the result,
// while every caller keeps its own cancellation and a load can never hang a key.
import {
  abortError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
} from '../errors.js';

/** FlightOptions are the per-call options of {@link SingleFlight.do}. */
export interface FlightOptions {
  /**
   * Aborts this caller's wait only: its promise rejects at once with
   * `abortError(signal)`; other callers keep waiting. When the last caller of a
   * flight leaves, the flight itself is abandoned.
   */
  signal?: AbortSignal | undefined;
  /**
   * Timeout of the flight in milliseconds, used only when this call starts the
   * flight (callers that join inherit the running flight's). 0 = none. Defaults
   * to the {@link SingleFlight} constructor's `timeoutMs`.
   */
  timeoutMs?: number | undefined;
}

/** SingleFlightOptions configures a {@link SingleFlight}. */
export interface SingleFlightOptions {
  /**
   * Default timeout of a flight in milliseconds, from 0 to 2147483647 (the
   * largest `setTimeout` delay). Defaults to 0 = no timeout.
   */
  timeoutMs?: number | undefined;
}

/** The largest delay `setTimeout` honours; larger ones fire at once. */
const maxTimeoutMs = 2 ** 31 - 1;

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  /** Removes the waiter's abort listener, if any. */
  detach(): void;
}

/** FlightContext is what a flight's `fn` gets: the flight's cancellation. */
export interface FlightContext {
  /**
   * The flight's AbortSignal, made when first read (a flight whose `fn` never
   * reads it costs no AbortController): it aborts when the flight times out
   * (reason: a DeadlineExceededError) or every caller has left (a CancelledError).
   */
  readonly signal: AbortSignal;
  /** Whether the flight was aborted, read without making its signal. */
  readonly aborted: boolean;
}

/** Flight is one key's load in progress, its waiters, and its lazily made AbortController. */
class Flight<T> implements FlightContext {
  readonly key: string;
  readonly waiters = new Set<Waiter<T>>();
  timer: NodeJS.Timeout | undefined;
  /** Settled, timed out or abandoned: later outcomes of `fn` are ignored. */
  done = false;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(key: string) {
    this.key = key;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** abort aborts the flight's signal, now or when it is made. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * SingleFlight runs `fn` once for concurrent {@link SingleFlight.do} calls of
 * the same key and gives all of them its result. It caches nothing: once the
 * flight settles the key is free and the next call starts a new one.
 *
 * Unlike Go's singleflight, each caller can leave on its own (its `signal`),
 * the flight is aborted when nobody is waiting any more, and a timeout frees a
 * key whose `fn` never settles.
 */
export class SingleFlight<T> {
  readonly #timeoutMs: number;
  readonly #flights = new Map<string, Flight<T>>();

  constructor(options: SingleFlightOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('singleflight: options must be an object');
    }
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? 0);
  }

  /**
   * do returns the result of the flight of `key`, starting one with `fn` if none
   * is running. `fn` gets the flight's {@link FlightContext}, whose signal aborts
   * when the flight times out (reason: a DeadlineExceededError) or every caller
   * has left (a CancelledError); a flight whose starting caller has no `signal`
   * can only time out, since that caller never leaves. If `fn` throws or rejects, every waiter rejects with that
   * same error. A timeout rejects every waiter with a DeadlineExceededError.
   * A `signal` already aborted rejects at once without starting or joining.
   * A call that starts a flight runs `fn` before returning; bad arguments give
   * a promise rejected with InvalidArgumentError.
   */
  do(
    key: string,
    fn: (flight: FlightContext) => Promise<T> | T,
    options: FlightOptions = {},
  ): Promise<T> {
    try {
      if (typeof key !== 'string') {
        throw new InvalidArgumentError('singleflight: key must be a string');
      }
      if (typeof fn !== 'function') {
        throw new InvalidArgumentError('singleflight: fn must be a function');
      }
      if (typeof options !== 'object' || options === null) {
        throw new InvalidArgumentError('singleflight: options must be an object');
      }
      if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
        throw new InvalidArgumentError('singleflight: signal must be an AbortSignal');
      }
      if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));

    let flight = this.#flights.get(key);
    let start = false;
    if (flight === undefined) {
      flight = this.#open(key, options.timeoutMs ?? this.#timeoutMs);
      start = true;
    }
    const joined = flight;
    const result = new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, detach: () => {} };
      if (signal !== undefined) {
        const onAbort = (): void => {
          joined.waiters.delete(waiter);
          reject(abortError(signal));
          if (joined.waiters.size === 0) this.#abandon(joined);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.detach = () => signal.removeEventListener('abort', onAbort);
      }
      joined.waiters.add(waiter);
    });
    // The waiter is registered before `fn` runs, so an `fn` that throws at once
    // (or settles synchronously) still reaches this caller.
    if (start) this.#run(joined, fn);
    return result;
  }

  /** has tells whether a flight of `key` is in progress. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** size is the number of flights in progress. */
  get size(): number {
    return this.#flights.size;
  }

  #open(key: string, timeoutMs: number): Flight<T> {
    const flight = new Flight<T>(key);
    this.#flights.set(key, flight);
    if (timeoutMs > 0) {
      flight.timer = setTimeout(() => {
        if (!this.#close(flight)) return;
        const err = new DeadlineExceededError(
          `singleflight: load of key ${JSON.stringify(key)} timed out after ${timeoutMs} ms`,
        );
        this.#settle(flight, false, err);
        flight.abort(err);
      }, timeoutMs);
      // The timer keeps the process alive on purpose: whoever awaits the flight
      // is owed an answer, the value or a DeadlineExceededError, not an exit.
    }
    return flight;
  }

  #run(flight: Flight<T>, fn: (flight: FlightContext) => Promise<T> | T): void {
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(fn(flight));
    } catch (err) {
      this.#finish(flight, false, err);
      return;
    }
    // Both handlers are attached even if the flight is abandoned meanwhile, so
    // a late rejection of `fn` is never an unhandled rejection.
    pending.then(
      (value) => this.#finish(flight, true, value),
      (err: unknown) => this.#finish(flight, false, err),
    );
  }

  /** #close marks the flight done, clears its timer and frees its key. */
  #close(flight: Flight<T>): boolean {
    if (flight.done) return false;
    flight.done = true;
    if (flight.timer !== undefined) clearTimeout(flight.timer);
    flight.timer = undefined;
    // A flight leaves the map only here, so while it is not done it is the
    // key's current flight and freeing the key cannot drop a newer one.
    this.#flights.delete(flight.key);
    return true;
  }

  /** #finish ends the flight with `fn`'s outcome, unless it already ended. */
  #finish(flight: Flight<T>, ok: boolean, outcome: unknown): void {
    if (this.#close(flight)) this.#settle(flight, ok, outcome);
  }

  /** #settle hands `outcome` to every waiter and drops their abort listeners. */
  #settle(flight: Flight<T>, ok: boolean, outcome: unknown): void {
    const waiters = [...flight.waiters];
    flight.waiters.clear();
    for (const w of waiters) {
      w.detach();
      if (ok) w.resolve(outcome as T);
      else w.reject(outcome);
    }
  }

  /** #abandon stops a flight nobody waits for any more; `fn`'s result will be ignored. */
  #abandon(flight: Flight<T>): void {
    if (!this.#close(flight)) return;
    flight.abort(
      new CancelledError(`singleflight: every caller of key ${JSON.stringify(flight.key)} left`),
    );
  }
}

function checkTimeout(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > maxTimeoutMs) {
    throw new InvalidArgumentError(
      `singleflight: timeoutMs must be a number from 0 to ${maxTimeoutMs}, got ${String(ms)}`,
    );
  }
  return ms;
}
