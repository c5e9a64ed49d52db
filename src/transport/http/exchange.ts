// exchange.ts: one HTTP request as an undici dispatch handler: its answer's body read from the
// socket's chunks within a limit, settled once by its answer, failure, timeout or abort.

import type { Dispatcher } from 'undici';
import { parseGeneration } from '../../core/peers.js';
import { TooLargeError } from '../../errors.js';
import { MAX_TIMER_MS } from '../../util/clock.js';
import { GENERATION_HEADER } from './wire.js';

// Error bodies: how much to read before giving up, and how much to keep for the message.
const errorBodyReadLimit = 64 * 1024;
const errorTextLimit = 512;

/** Answer is how an {@link Exchange} ends when the peer answered. */
export interface Answer {
  status: number;
  /**
   * body is, for a 200 of an exchange that keeps bodies, the whole body: a chunk
   * undici read (a view into the socket's read buffer, to be copied from, not
   * kept) or the chunks joined; empty otherwise.
   */
  body: Uint8Array;
  /** text is the start of a non-200 answer's body, for its error message. */
  text: string;
  /**
   * generation is a 200's `peercache-generation` header (see `parseGeneration`):
   * undefined when it has none or one that is not a positive safe whole number.
   */
  generation?: number | undefined;
}

/** ExchangeOptions configure one {@link Exchange}. */
export interface ExchangeOptions {
  /** peer names the peer in errors. */
  peer: string;
  /** bodyLimit is the most bytes a 200's body may have; `0` means the body is not kept. */
  bodyLimit: number;
  /** timeoutMs fails the exchange with `onTimeout()`'s error; `Infinity` for none. */
  timeoutMs: number;
  onTimeout: () => Error;
  /** signal, when it aborts, fails the exchange with `onAbort()`'s error. */
  signal: AbortSignal | undefined;
  onAbort: () => Error;
}

/**
 * Exchange is the handler of one request given to undici's `dispatch`: no
 * response stream, no promise per chunk, no AbortController. `promise` settles
 * with the peer's answer or rejects with the first failure. A timeout or abort
 * rejects at once, even while the request still waits for a connection; the
 * request is then cancelled as soon as undici hands it a connection (undici
 * closes that connection, and resends the requests pipelined on it on another).
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly promise: Promise<Answer>;
  readonly #options: ExchangeOptions;
  #resolve!: (answer: Answer) => void;
  #reject!: (err: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** The error that ended the exchange early; undici's request is aborted with it. */
  #failure: Error | undefined;
  #settled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #status = 0;
  /** The body's first chunk, and the rest when there are more. */
  #first: Buffer | undefined;
  #more: Buffer[] | undefined;
  #bytes = 0;
  /** The answer's generation header (a group's generation, once it was cleared). */
  #generation: string | undefined;
  readonly #onSignal: (() => void) | undefined;

  constructor(options: ExchangeOptions) {
    this.#options = options;
    this.promise = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (options.timeoutMs <= MAX_TIMER_MS) {
      // Whole milliseconds: Node keeps a list of timers per distinct delay, and callers'
      // deadlines would otherwise give nearly every request a list of its own.
      this.#timer = setTimeout(() => this.fail(options.onTimeout()), Math.ceil(options.timeoutMs));
    }
    if (options.signal !== undefined) {
      this.#onSignal = () => this.fail(options.onAbort());
      options.signal.addEventListener('abort', this.#onSignal, { once: true });
    }
  }

  /**
   * fail ends the exchange with `err` (the first end wins) and aborts the
   * request at undici: at once when it is on a connection, else when undici
   * starts it.
   */
  fail(err: Error): void {
    if (this.#settled) return;
    this.#failure = err;
    this.#settle();
    this.#reject(err);
    this.#controller?.abort(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#failure !== undefined) controller.abort(this.#failure);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#controller = controller;
    this.#status = statusCode;
    this.#first = undefined;
    this.#more = undefined;
    this.#bytes = 0;
    const generation = headers[GENERATION_HEADER];
    this.#generation = typeof generation === 'string' ? generation : undefined;
    if (statusCode !== 200 || this.#options.bodyLimit === 0) return;
    const declared = Number(headers['content-length'] ?? Number.NaN);
    if (declared > this.#options.bodyLimit) {
      this.fail(
        new TooLargeError(
          `peer ${this.#options.peer}: response of ${declared} bytes is over the limit`,
        ),
      );
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    const keep = this.#status === 200 ? this.#options.bodyLimit : errorTextLimit;
    this.#bytes += chunk.byteLength;
    if (this.#status === 200) {
      if (keep === 0) return;
      if (this.#bytes > keep) {
        this.fail(
          new TooLargeError(
            `peer ${this.#options.peer}: response of over ${keep} bytes is over the limit`,
          ),
        );
        return;
      }
    } else if (this.#bytes > errorBodyReadLimit) {
      // Enough of an error body: answer with its start and drop the connection.
      this.#answer();
      controller.abort(new Error('error body too long'));
      return;
    } else if (this.#bytes - chunk.byteLength >= keep) {
      return;
    }
    if (this.#first === undefined) this.#first = chunk;
    else if (this.#more === undefined) this.#more = [chunk];
    else this.#more.push(chunk);
  }

  onResponseEnd(): void {
    this.#answer();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  /** #answer resolves with what has been read. */
  #answer(): void {
    if (this.#settled) return;
    this.#settle();
    const body = this.#body();
    if (this.#status === 200) {
      this.#resolve({
        status: 200,
        body: this.#options.bodyLimit === 0 ? empty : body,
        text: '',
        generation: parseGeneration(this.#generation),
      });
      return;
    }
    let text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8').trim();
    if (text.length > errorTextLimit) text = `${text.slice(0, errorTextLimit)}…`;
    this.#resolve({ status: this.#status, body: empty, text });
  }

  /** #body is the chunks kept: the one chunk itself, or all of them joined. */
  #body(): Uint8Array {
    if (this.#first === undefined) return empty;
    if (this.#more === undefined) return this.#first;
    return Buffer.concat([this.#first, ...this.#more]);
  }

  #settle(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    if (this.#onSignal !== undefined) {
      this.#options.signal?.removeEventListener('abort', this.#onSignal);
    }
  }
}

const empty = new Uint8Array(0);
