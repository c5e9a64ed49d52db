// client.ts: the memory transport's peer client: each call crosses a MemoryNetwork to the server
// at its peer URL's host and port, with the checks, copies, deadlines and errors of a wire.

import { decodeNodeStats, type NodeStats, type NodeStatsRequest } from '../../core/node-stats.js';
import type { CallOptions, PeerClient, PeerGetManyResult, PeerValue } from '../../core/peers.js';
import {
  abortError,
  CacheError,
  CancelledError,
  DeadlineExceededError,
  errorFromCode,
  InvalidArgumentError,
  NotFoundError,
  TooLargeError,
  toCacheError,
  UnavailableError,
} from '../../errors.js';
import { acceptedValueBytes, checkPeerValue } from '../../limits.js';
import { hostPortOf } from '../../util/address.js';
import { type Clock, holdOpen, MAX_TIMER_MS } from '../../util/clock.js';
import { askInBatches } from '../batches.js';
import { wholeMillis } from '../expiry.js';
import type { MemoryAnswer, MemoryNetwork, MemoryRequest } from './network.js';

/** MemoryClientConfig is what every client of one memory transport shares. */
export interface MemoryClientConfig {
  network: MemoryNetwork;
  /** Largest key sent, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value sent or accepted. */
  maxValueBytes: number;
  /** Bounds each call on top of the caller's deadline; `Infinity` for none. */
  requestTimeoutMs: number;
  /** Reads the time and runs the calls' deadline timers. */
  clock: Clock;
}

/** A call in flight: how to end it from this side. */
interface Pending {
  fail(err: CacheError): void;
}

/**
 * MemoryPeerClient is one peer's {@link PeerClient} over a {@link MemoryNetwork}.
 * The server is looked up at each call, by the host and port of the peer's base
 * URL, so a peer that restarts at the same address is reached again. Values are
 * copied both ways, so neither side sees the other mutate them; the earlier of
 * the caller's deadline and `requestTimeoutMs` travels to the server and ends
 * the call when it passes.
 */
export class MemoryPeerClient implements PeerClient {
  readonly url: string;
  readonly #config: MemoryClientConfig;
  readonly #host: string;
  readonly #port: number;
  readonly #pending = new Set<Pending>();
  #closed = false;

  /** Throws InvalidArgumentError for a base URL that is not `http(s)://host[:port]`. */
  constructor(baseUrl: string, config: MemoryClientConfig) {
    this.url = baseUrl;
    this.#config = config;
    const { host, port } = hostPortOf(baseUrl);
    this.#host = host;
    this.#port = port;
  }

  async get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    const got = (await this.#call({ op: 'get', group, key }, options)) as PeerValue;
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    checkPeerValue(this.url, got.value.byteLength, limit);
    // The server's answer is a copy made for this call alone, as if read off a wire.
    got.owned = true;
    return got;
  }

  /**
   * getMany asks the server for `keys` in one exchange per batch (see {@link askInBatches}):
   * each key's error is decoded as a get's would be, and a value over the caller's limit
   * is that key's TooLargeError.
   */
  getMany(
    group: string,
    keys: readonly string[],
    options?: CallOptions,
  ): Promise<PeerGetManyResult> {
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    return askInBatches(
      keys,
      (key) => this.#refuse(key),
      async (batch) => {
        const answer = (await this.#call(
          { op: 'getMany', group, keys: batch },
          options,
        )) as PeerGetManyResult;
        const out: PeerGetManyResult = new Map();
        for (const [key, outcome] of answer) {
          if (outcome instanceof CacheError) out.set(key, this.#decode(outcome));
          else if (outcome.value.byteLength > limit) {
            out.set(
              key,
              new TooLargeError(
                `peer ${this.url}: value of ${outcome.value.byteLength} bytes is over the limit of ${limit}`,
              ),
            );
          } else {
            // Bytes of its own, as read off a wire.
            out.set(key, { ...outcome, value: outcome.value.slice(), owned: true });
          }
        }
        return out;
      },
    );
  }

  async set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void> {
    const limit = this.#config.maxValueBytes;
    checkPeerValue(this.url, value.byteLength, limit);
    const at = wholeMillis(expireAt);
    // The bytes are sent now: the caller may reuse its buffer as soon as this returns.
    await this.#call({ op: 'set', group, key, value: value.slice(), expireAt: at }, options);
  }

  async remove(group: string, key: string, options?: CallOptions): Promise<void> {
    await this.#call({ op: 'remove', group, key }, options);
  }

  /** clear sends the peer the clear notice of `group` at `generation` (see {@link PeerClient.clear}). */
  async clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    await this.#call({ op: 'clear', group, key: '', generation }, options);
  }

  /**
   * nodeStats asks the server at the peer's address for its report; it
   * travels as JSON bytes, as on a wire. A server that does not know the call
   * is a NotFoundError.
   */
  async nodeStats(request: NodeStatsRequest, options?: CallOptions): Promise<NodeStats> {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal);
    if (this.#closed) throw new UnavailableError(`peer ${this.url}: the client is closed`);
    const server = this.#config.network.dial(this.#host, this.#port);
    if (server === undefined) {
      throw new UnavailableError(`peer ${this.url}: unreachable (nothing listens there)`);
    }
    if (server.stats === undefined) {
      throw new NotFoundError(`peer ${this.url} has no stats call`, { remote: true });
    }
    // Answered on a later turn, as an answer from a socket would be.
    await Promise.resolve();
    return decodeNodeStats(server.stats({ ...request }));
  }

  /**
   * close fails the calls in flight with UnavailableError (their server sees
   * them cancelled, as at a dropped connection); later calls fail too. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new UnavailableError(`peer ${this.url}: closed`);
    for (const pending of [...this.#pending]) pending.fail(err);
  }

  /**
   * call checks the request as a socket client would before sending it, then
   * hands it to the server listening at the peer's address. The server's half
   * of the call has a signal that aborts when this side ends the call first:
   * the caller's signal, the deadline, or `close()`.
   */
  #call(request: MemoryRequest, options: CallOptions | undefined): Promise<MemoryAnswer> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#closed) {
      return Promise.reject(new UnavailableError(`peer ${this.url}: the client is closed`));
    }
    if (!request.group.isWellFormed()) {
      return Promise.reject(
        new InvalidArgumentError('group is not valid Unicode (lone surrogate)'),
      );
    }
    if (request.op !== 'getMany' && request.op !== 'clear') {
      const bad = this.#refuse(request.key);
      if (bad !== undefined) return Promise.reject(bad);
    }
    const clock = this.#config.clock;
    const now = clock.now();
    const deadline = Math.min(options?.deadline ?? Infinity, now + this.#config.requestTimeoutMs);
    if (deadline <= now) {
      return Promise.reject(new DeadlineExceededError(`peer ${this.url}: the deadline has passed`));
    }
    const server = this.#config.network.dial(this.#host, this.#port);
    if (server === undefined) {
      return Promise.reject(
        new UnavailableError(`peer ${this.url}: unreachable (nothing listens there)`),
      );
    }

    return new Promise<MemoryAnswer>((resolve, reject) => {
      const wire = new AbortController();
      let timer: unknown;
      const pending: Pending = {
        fail: (err) => {
          if (!settle()) return;
          reject(err);
          // The server's half learns of it as a cancelled call.
          wire.abort(new CancelledError('peer request: the client cancelled or went away'));
        },
      };
      /**
       * settle ends the call on this side, once. Four things may end it, in any
       * order and even in one turn: the server's answer, the caller's abort, the
       * deadline's timer and close(). The first to settle wins; the others find
       * the call gone and do nothing. So an answer that comes after the caller
       * left is dropped, and only an end that comes from this side aborts the
       * server's half (an answered call has nothing left there to abort).
       */
      const settle = () => {
        if (!this.#pending.delete(pending)) return false;
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = () => pending.fail(abortError(signal as AbortSignal));
      this.#pending.add(pending);
      signal?.addEventListener('abort', onAbort, { once: true });
      const left = deadline - now;
      if (left <= MAX_TIMER_MS) {
        // Held open: the caller is owed an answer or a timeout, as over a socket.
        timer = holdOpen(
          clock.setTimeout(() => {
            if (!settle()) return;
            reject(new DeadlineExceededError(`peer ${this.url}: no answer within ${left} ms`));
            wire.abort(new DeadlineExceededError(`peer request: deadline of ${left} ms passed`));
          }, left),
        );
      }
      const call = {
        signal: wire.signal,
        deadline: Number.isFinite(deadline) ? deadline : undefined,
        traceparent: options?.traceparent,
        // The group's generation both ways, as a wire carries it: only once it is not 0.
        generation: options?.generation || undefined,
        onGeneration: options?.onGeneration,
      };
      // Delivered once the caller's own code has run (in a microtask), as over a wire:
      // never inside the caller's stack.
      queueMicrotask(() => {
        if (wire.signal.aborted) return;
        let answered: Promise<MemoryAnswer>;
        try {
          answered = server.exchange(request, call);
        } catch (err) {
          answered = Promise.reject(err);
        }
        answered.then(
          (value) => {
            if (settle()) resolve(value);
          },
          (err: unknown) => {
            if (settle()) reject(this.#decode(err));
          },
        );
      });
    });
  }

  /** refuse is what this side finds wrong with `key` before sending it, if anything. */
  #refuse(key: string): CacheError | undefined {
    if (key === '') return new InvalidArgumentError('bad request: empty key');
    if (Buffer.byteLength(key) > this.#config.maxKeyBytes) {
      return new TooLargeError(`key is over the limit of ${this.#config.maxKeyBytes} bytes`);
    }
    if (!key.isWellFormed()) {
      return new InvalidArgumentError('key is not valid Unicode (lone surrogate)');
    }
    return undefined;
  }

  /**
   * decode turns the server's error into the client's, keeping only what a wire
   * carries: the code and the message. They are the peer's answer (`remote`),
   * except UNAVAILABLE, and a CANCELLED this side did not ask for (the server
   * dropped the call), which are UNAVAILABLE and not remote: the peer could
   * not serve the request, and the caller falls back.
   */
  #decode(err: unknown): CacheError {
    const sent = toCacheError(err);
    if (sent.code === 'NOT_FOUND') {
      return errorFromCode('NOT_FOUND', sent.message || 'not found', { remote: true });
    }
    const code = sent.code === 'CANCELLED' ? 'UNAVAILABLE' : sent.code;
    return errorFromCode(code, `peer ${this.url}: ${sent.message}`, {
      remote: code !== 'UNAVAILABLE',
    });
  }
}
