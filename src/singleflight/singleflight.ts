// singleflight.ts: runs concurrent loads of one key once, sharing the result,
// while every caller keeps its own cancellation and a load can never hang a key.
import {
  abortError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
} from '../errors.js';
import { ChurnMap } from '../util/churn-map.js';
import { type Clock, MAX_TIMER_MS, systemClock } from '../util/clock.js';
import { LazyAbort } from '../util/lazy-abort.js';
import { SweepTimer } from '../util/sweep-timer.js';

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
  /** clock reads the time and sets the timeout timer. Default {@link systemClock}. */
  clock?: Clock | undefined;
}

/** A caller that came with a signal, and so may leave before the flight ends. */
interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  /** Removes the waiter's abort listener. */
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
  /** When the flight times out, in ms since the epoch; `Infinity` for never. */
  readonly deadline: number;
  /**
   * Whether the flight was superseded ({@link SingleFlight.supersede}): its
   * callers still get its outcome, but the outcome is older than a write and
   * must not be stored anywhere.
   */
  readonly superseded: boolean;
}

/**
 * Flight is one key's load in progress. Callers without a signal never leave, so
 * they share one promise and are only counted; callers with a signal each get
 * their own promise, in `waiters`. Its signal (a {@link LazyAbort}) is made when first read.
 */
class Flight<T> extends LazyAbort implements FlightContext {
  readonly key: string;
  /** Callers without a signal: while there is one, the flight is never abandoned. */
  stay = 0;
  /** Callers with a signal still waiting; made for the first one. */
  waiters: Set<Waiter<T>> | undefined;
  /** The promise the callers without a signal share, made for the first one. */
  #shared: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  /** When the flight times out, ms since the epoch; Infinity for never. */
  deadline = Number.POSITIVE_INFINITY;
  /** Its timeout, for the error message. */
  timeoutMs = 0;
  /** Settled, timed out or abandoned: later outcomes of `fn` are ignored. */
  done = false;
  /** Taken out of the table by a write: its outcome must not be stored. */
  superseded = false;

  constructor(key: string) {
    super();
    this.key = key;
  }

  /** shared returns the promise of the callers without a signal. */
  shared(): Promise<T> {
    if (this.#shared === undefined) {
      this.#shared = new Promise<T>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    }
    return this.#shared;
  }

  /** settle hands `outcome` to every caller still waiting and drops their abort listeners. */
  settle(ok: boolean, outcome: unknown): void {
    if (ok) this.#resolve?.(outcome as T);
    else this.#reject?.(outcome);
    const waiters = this.waiters;
    if (waiters === undefined) return;
    this.waiters = undefined;
    for (const w of waiters) {
      w.detach();
      if (ok) w.resolve(outcome as T);
      else w.reject(outcome);
    }
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
  readonly #clock: Clock;
  readonly #flights = new ChurnMap<string, Flight<T>>();
  /** Superseded flights still running: out of the table, but still owed a timeout. */
  readonly #detached = new Set<Flight<T>>();
  /** Times out flights: one timer for all of them, set for the earliest deadline. */
  readonly #timeouts: SweepTimer;

  constructor(options: SingleFlightOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('singleflight: options must be an object');
    }
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? 0);
    this.#clock = options.clock ?? systemClock;
    this.#timeouts = new SweepTimer((now) => this.#timeOutDue(now), this.#clock);
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
    options?: FlightOptions,
  ): Promise<T> {
    try {
      if (typeof key !== 'string') {
        throw new InvalidArgumentError('singleflight: key must be a string');
      }
      if (typeof fn !== 'function') {
        throw new InvalidArgumentError('singleflight: fn must be a function');
      }
      if (options !== undefined) {
        if (typeof options !== 'object' || options === null) {
          throw new InvalidArgumentError('singleflight: options must be an object');
        }
        if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
          throw new InvalidArgumentError('singleflight: signal must be an AbortSignal');
        }
        if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));

    let flight = this.#flights.get(key);
    let start = false;
    if (flight === undefined) {
      flight = this.#open(key, options?.timeoutMs ?? this.#timeoutMs);
      start = true;
    }
    let result: Promise<T>;
    if (signal === undefined) {
      flight.stay++;
      result = flight.shared();
    } else {
      result = this.#wait(flight, signal);
    }
    // The caller is registered before `fn` runs, so an `fn` that throws at once
    // (or settles synchronously) still reaches it.
    if (start) this.#run(flight, fn);
    return result;
  }

  /** has tells whether a flight of `key` is in progress. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** size is the number of flights in progress, superseded ones included. */
  get size(): number {
    return this.#flights.size + this.#detached.size;
  }

  /**
   * supersede takes the running flight of `key`, if any, out of the table: the
   * next {@link SingleFlight.do} of `key` starts a fresh flight, while the
   * superseded one runs on for the callers it has (their outcome, their
   * timeout, their abort). Its context's `superseded` turns true, so `fn` can
   * tell that its result is older than whatever superseded it. Returns whether
   * there was a flight.
   */
  supersede(key: string): boolean {
    const flight = this.#flights.get(key);
    if (flight === undefined) return false;
    flight.superseded = true;
    this.#flights.delete(key);
    this.#detached.add(flight);
    return true;
  }

  /**
   * supersedeAll supersedes every running flight at once (see {@link
   * SingleFlight.supersede}): a cache emptied as a whole. Returns how many there were.
   */
  supersedeAll(): number {
    const keys = [...this.#flights].map(([key]) => key);
    for (const key of keys) this.supersede(key);
    return keys.length;
  }

  /** #wait registers a caller with a signal: its own promise, which its signal can end early. */
  #wait(flight: Flight<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        flight.waiters?.delete(waiter);
        reject(abortError(signal));
        if (flight.stay === 0 && (flight.waiters?.size ?? 0) === 0) this.#abandon(flight);
      };
      const waiter: Waiter<T> = {
        resolve,
        reject,
        detach: () => signal.removeEventListener('abort', onAbort),
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.waiters ??= new Set();
      flight.waiters.add(waiter);
    });
  }

  #open(key: string, timeoutMs: number): Flight<T> {
    const flight = new Flight<T>(key);
    this.#flights.set(key, flight);
    if (timeoutMs > 0) {
      flight.deadline = this.#clock.now() + timeoutMs;
      flight.timeoutMs = timeoutMs;
      // The timer keeps the process alive on purpose while a flight is pending:
      // whoever awaits it is owed an answer, the value or a DeadlineExceededError.
      this.#timeouts.hold(true);
      this.#timeouts.schedule(flight.deadline);
    }
    return flight;
  }

  /** #timeOutDue times out the flights due by `now`; it returns the next deadline. */
  #timeOutDue(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const flight of this.#flights.values()) {
      if (flight.deadline <= now) this.#timeOut(flight);
      else if (flight.deadline < next) next = flight.deadline;
    }
    for (const flight of this.#detached) {
      if (flight.deadline <= now) this.#timeOut(flight);
      else if (flight.deadline < next) next = flight.deadline;
    }
    return next;
  }

  #timeOut(flight: Flight<T>): void {
    if (!this.#close(flight)) return;
    const err = new DeadlineExceededError(
      `singleflight: load of key ${JSON.stringify(flight.key)} timed out after ${flight.timeoutMs} ms`,
    );
    flight.settle(false, err);
    flight.abort(err);
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

  /** #close marks the flight done (its deadline no longer counts) and frees its key. */
  #close(flight: Flight<T>): boolean {
    if (flight.done) return false;
    flight.done = true;
    // A flight leaves the table here or when superseded; a superseded one is in
    // `#detached` instead, and freeing its key would drop the newer flight.
    if (flight.superseded) this.#detached.delete(flight);
    else this.#flights.delete(flight.key);
    if (this.#flights.size === 0 && this.#detached.size === 0) this.#timeouts.hold(false);
    return true;
  }

  /** #finish ends the flight with `fn`'s outcome, unless it already ended. */
  #finish(flight: Flight<T>, ok: boolean, outcome: unknown): void {
    if (this.#close(flight)) flight.settle(ok, outcome);
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
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) {
    throw new InvalidArgumentError(
      `singleflight: timeoutMs must be a number from 0 to ${MAX_TIMER_MS}, got ${String(ms)}`,
    );
  }
  return ms;
}
