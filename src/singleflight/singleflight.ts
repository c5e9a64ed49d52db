// singleflight.ts: runs concurrent loads of one key once, sharing the result,
// while every caller keeps its own cancellation and a load can never hang a key.
import {
  abortError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
} from '../errors.js';
import { LazyAbort } from '../util/lazy-abort.js';

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
  /** A timeout other than the SingleFlight's default has a timer of its own. */
  timer: NodeJS.Timeout | undefined;
  /** When the flight times out (performance.now() ms), on its SingleFlight's deadline list. */
  deadline = 0;
  prev: Flight<T> | undefined;
  next: Flight<T> | undefined;
  /** Settled, timed out or abandoned: later outcomes of `fn` are ignored. */
  done = false;

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
 * DeadlineList times out flights that share one timeout with one timer: they
 * expire in the order they started, so they are kept in a linked list in that
 * order and the timer is set for the first. A flight that ends leaves the list
 * at once. While the list is empty the timer does not hold the process open.
 */
class DeadlineList<T> {
  readonly #timeoutMs: number;
  readonly #expire: (flight: Flight<T>) => void;
  #head: Flight<T> | undefined;
  #tail: Flight<T> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #fire = () => this.#onTimer();

  constructor(timeoutMs: number, expire: (flight: Flight<T>) => void) {
    this.#timeoutMs = timeoutMs;
    this.#expire = expire;
  }

  add(flight: Flight<T>): void {
    flight.deadline = performance.now() + this.#timeoutMs;
    const tail = this.#tail;
    flight.prev = tail;
    if (tail === undefined) this.#head = flight;
    else tail.next = flight;
    this.#tail = flight;
    if (this.#timer === undefined) this.#timer = setTimeout(this.#fire, this.#timeoutMs);
    else if (tail === undefined) this.#timer.ref();
  }

  remove(flight: Flight<T>): void {
    const { prev, next } = flight;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    flight.prev = undefined;
    flight.next = undefined;
    if (this.#head === undefined) this.#timer?.unref();
  }

  #onTimer(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (let f = this.#head; f !== undefined && f.deadline <= now; f = this.#head) {
      this.#expire(f);
    }
    const head = this.#head;
    if (head !== undefined) this.#timer = setTimeout(this.#fire, Math.max(1, head.deadline - now));
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
  /** Flights with the default timeout; undefined when it is 0. */
  readonly #deadlines: DeadlineList<T> | undefined;

  constructor(options: SingleFlightOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('singleflight: options must be an object');
    }
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? 0);
    if (this.#timeoutMs > 0) {
      this.#deadlines = new DeadlineList<T>(this.#timeoutMs, (f) =>
        this.#timeOut(f, this.#timeoutMs),
      );
    }
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

  /** size is the number of flights in progress. */
  get size(): number {
    return this.#flights.size;
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
      if (timeoutMs === this.#timeoutMs && this.#deadlines !== undefined) {
        this.#deadlines.add(flight);
      } else {
        flight.timer = setTimeout(() => this.#timeOut(flight, timeoutMs), timeoutMs);
      }
      // The timer keeps the process alive on purpose: whoever awaits the flight
      // is owed an answer, the value or a DeadlineExceededError, not an exit.
    }
    return flight;
  }

  #timeOut(flight: Flight<T>, timeoutMs: number): void {
    if (!this.#close(flight)) return;
    const err = new DeadlineExceededError(
      `singleflight: load of key ${JSON.stringify(flight.key)} timed out after ${timeoutMs} ms`,
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

  /** #close marks the flight done, stops its timeout and frees its key. */
  #close(flight: Flight<T>): boolean {
    if (flight.done) return false;
    flight.done = true;
    if (flight.timer !== undefined) {
      clearTimeout(flight.timer);
      flight.timer = undefined;
    } else if (flight.deadline !== 0) {
      this.#deadlines?.remove(flight);
    }
    // A flight leaves the map only here, so while it is not done it is the
    // key's current flight and freeing the key cannot drop a newer one.
    this.#flights.delete(flight.key);
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
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > maxTimeoutMs) {
    throw new InvalidArgumentError(
      `singleflight: timeoutMs must be a number from 0 to ${maxTimeoutMs}, got ${String(ms)}`,
    );
  }
  return ms;
}
