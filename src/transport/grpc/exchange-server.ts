// exchange-server.ts: the server side of GroupCache/Exchange: one bidirectional stream per
// client carrying many requests by id, answered in batches as their results come.
import { type ServerDuplexStream, status as Status } from '@grpc/grpc-js';
import { answerPeer } from '../../core/group.js';
import type { Logger } from '../../core/logger.js';
import type { CallOptions, GroupLookup, PeerValue } from '../../core/peers.js';
import { CancelledError, DeadlineExceededError, isCacheError } from '../../errors.js';
import type { SizeLimits } from '../../limits.js';
import type {
  GetManyRequest,
  GetResponse,
  StreamError,
  StreamRequest,
  StreamRequests,
  StreamResponse,
  StreamResponses,
} from '../../proto/gen/groupcache_pb.js';
import { ChurnMap } from '../../util/churn-map.js';
import type { Clock } from '../../util/clock.js';
import { LazyAbort } from '../../util/lazy-abort.js';
import { ReadHolds } from '../../util/read-holds.js';
import { SweepTimer } from '../../util/sweep-timer.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import { checkBatch, oldestGeneration, serveGetMany } from '../serve-get-many.js';
import { MalformedMessage, type Received } from './service.js';
import {
  checkKey,
  clean,
  findGroup,
  isRefusal,
  type Refusal,
  refusalOf,
  type Target,
} from './target.js';

/** A batch of answers is written as soon as it holds this many, without waiting for the turn to end. */
const maxBatchAnswers = 16;
/** A batch of answers is written as soon as its values reach this many bytes. */
const maxBatchBytes = 64 * 1024;
/** What an answer costs in a batch besides its value: tags, lengths, id, expiry, qps. */
const answerOverhead = 48;

/** ExchangeServerConfig is what every Exchange stream of one server shares. */
export interface ExchangeServerConfig {
  groups: GroupLookup;
  /** The server's ceilings of keys and values; a group's own limits hold within them. */
  ceiling: SizeLimits;
  /** Aborts every in-flight load (the node gave up waiting at shutdown). */
  signal: AbortSignal;
  logger: Logger;
  /**
   * The most requests one stream may have in flight; past it a request is
   * answered UNAVAILABLE, and the stream is not read until one ends.
   */
  maxStreamRequests: number;
  /** A stream with nothing in flight for this long is ended (OK): its client opens another. */
  idleTimeoutMs: number;
  clock: Clock;
}

type ExchangeCall = ServerDuplexStream<Received<StreamRequests>, StreamResponses>;

/**
 * ExchangeServer answers the Exchange streams of one gRPC server: its
 * `handler` is the method's implementation, `drain` ends them all gracefully
 * when the server closes.
 */
export class ExchangeServer {
  readonly #config: ExchangeServerConfig;
  readonly #streams = new Set<ExchangeStream>();
  #draining = false;

  constructor(config: ExchangeServerConfig) {
    this.#config = config;
    // The node gave up waiting: every load in flight is aborted (its answer still goes out).
    config.signal.addEventListener(
      'abort',
      () => {
        for (const stream of this.#streams) stream.abortAll(config.signal.reason);
      },
      { once: true },
    );
  }

  /** handler serves one Exchange call until it ends. */
  readonly handler = (call: ExchangeCall): void => {
    const stream = new ExchangeStream(call, this.#config, () => this.#streams.delete(stream));
    this.#streams.add(stream);
    if (this.#draining) stream.drain();
  };

  /**
   * drain makes every stream, and any opened later, refuse new requests
   * (UNAVAILABLE) and end once the requests in flight are answered, so that
   * a closing server is not held open by its clients' idle streams.
   */
  drain(): void {
    this.#draining = true;
    for (const stream of this.#streams) stream.drain();
  }
}

/**
 * Flight is one request being answered, passed to the group as its call
 * options. Its abort signal is made only when the group reads it: a cache hit
 * never does.
 */
class Flight extends LazyAbort implements CallOptions {
  readonly deadline: number | undefined;
  readonly timeoutMs: number;
  traceparent: string | undefined;
  readonly generation: number | undefined;

  constructor(timeoutMs: number, now: number, traceparent: string, generation: number | undefined) {
    super();
    this.timeoutMs = timeoutMs;
    this.deadline = timeoutMs > 0 ? now + timeoutMs : undefined;
    this.traceparent = traceparent === '' ? undefined : traceparent;
    this.generation = generation;
  }
}

/** Reading is held while answers wait for the stream to drain. */
const HOLD_WRITES = 1;
/** Reading is held while the stream has its most requests in flight. */
const HOLD_FULL = 2;

/**
 * ExchangeStream serves one Exchange call: requests in, each started at once,
 * answers out in batches as they come. One timer (a {@link SweepTimer}) serves
 * the loads' deadlines and the stream's idle timeout.
 */
class ExchangeStream {
  readonly #call: ExchangeCall;
  readonly #config: ExchangeServerConfig;
  readonly #onEnd: () => void;
  readonly #inFlight = new ChurnMap<number, Flight>();
  readonly #timeouts: SweepTimer;
  #answers: StreamResponse[] = [];
  #answerBytes = 0;
  #scheduled = false;
  readonly #holds: ReadHolds;
  #draining = false;
  #ended = false;
  /** When the last request came or the last one in flight ended, ms since the epoch. */
  #activeAt: number;
  readonly #flush = () => {
    this.#scheduled = false;
    this.#write();
  };

  constructor(call: ExchangeCall, config: ExchangeServerConfig, onEnd: () => void) {
    this.#call = call;
    this.#config = config;
    this.#onEnd = onEnd;
    this.#holds = new ReadHolds(call, () => this.#ended);
    this.#timeouts = new SweepTimer((now) => this.#timeOut(now), config.clock);
    this.#timeouts.hold(false);
    this.#activeAt = config.clock.now();
    this.#timeouts.schedule(this.#activeAt + config.idleTimeoutMs);
    call.on('data', (batch: Received<StreamRequests>) => this.#batch(batch));
    // The client half-closed: it sends nothing more; answer what is in flight, then end.
    call.on('end', () => this.drain());
    call.on('drain', () => this.#holds.unhold(HOLD_WRITES));
    // The client cancelled or went away (or the server was forced down).
    call.on('cancelled', () => this.#stop(new CancelledError('peer stream: the client went away')));
    call.on('error', () => {});
    call.on('close', () => this.#stop(new CancelledError('peer stream closed')));
  }

  /** abortAll aborts every load in flight with `reason`; their answers still go out. */
  abortAll(reason: unknown): void {
    for (const f of this.#inFlight.values()) f.abort(reason);
  }

  /** drain refuses new requests and ends the stream once those in flight are answered. */
  drain(): void {
    this.#draining = true;
    this.#endIfIdle();
  }

  #batch(batch: Received<StreamRequests>): void {
    if (this.#ended) return;
    if (batch instanceof MalformedMessage) {
      const cause = batch.cause instanceof Error ? `: ${clean(batch.cause.message)}` : '';
      this.#end({ code: Status.INVALID_ARGUMENT, details: `malformed StreamRequests${cause}` });
      return;
    }
    this.#activeAt = this.#config.clock.now();
    for (const request of batch.requests) this.#request(request);
    if (this.#inFlight.size >= this.#config.maxStreamRequests) this.#holds.hold(HOLD_FULL);
    this.#endIfIdle();
  }

  #request(request: StreamRequest): void {
    const { id, op } = request;
    if (op.case === 'cancel') {
      // Answered once, as every request is: CANCELLED, unless its answer went already.
      const flight = this.#inFlight.get(id);
      if (flight === undefined) return;
      this.#untrack(id);
      flight.abort(new CancelledError('peer request: the client cancelled'));
      this.#refuse(id, undefined, { code: Status.CANCELLED, details: 'cancelled' });
      return;
    }
    if (op.case === undefined) {
      this.#refuse(id, undefined, {
        code: Status.INVALID_ARGUMENT,
        details: 'bad request: no operation',
      });
      return;
    }
    if (this.#draining) {
      this.#refuse(id, undefined, { code: Status.UNAVAILABLE, details: 'peer server is closing' });
      return;
    }
    if (this.#inFlight.has(id)) {
      this.#refuse(id, undefined, {
        code: Status.INVALID_ARGUMENT,
        details: `bad request: id ${id} is in flight`,
      });
      return;
    }
    const generation = requestGeneration(request);
    if (generation === null) {
      this.#refuse(id, undefined, {
        code: Status.INVALID_ARGUMENT,
        details: `bad request: generation ${request.generation} is over ${Number.MAX_SAFE_INTEGER}`,
      });
      return;
    }
    // As for a unary call: the key against the server's ceiling, the group, then the group's limit.
    const tooLong =
      op.case === 'getMany' ? undefined : checkKey(op.value.key, this.#config.ceiling.maxKeyBytes);
    if (tooLong !== undefined) {
      this.#refuse(id, undefined, tooLong);
      return;
    }
    const found = findGroup(this.#config.groups, this.#config.ceiling, op.value.group);
    if (isRefusal(found)) {
      this.#refuse(id, undefined, found);
      return;
    }
    const { group, limits } = found;
    if (op.case === 'getMany') {
      this.#getMany(request, generation, op.value, found);
      return;
    }
    const bad = checkKey(op.value.key, limits.maxKeyBytes);
    if (bad !== undefined) {
      this.#refuse(id, undefined, bad);
      return;
    }
    if (op.case === 'get') {
      if (this.#full(id)) return;
      const flight = new Flight(
        request.timeoutMs,
        this.#config.clock.now(),
        request.traceparent,
        generation,
      );
      this.#get(id, flight, found, op.value.key);
      return;
    }
    // A write is applied as it is read, and its time counts from then: it is never late
    // (unlike a unary call's, whose deadline runs before its message comes; see lateWrite).
    // The deadline is only passed on to the group.
    const deadline =
      request.timeoutMs > 0 ? this.#config.clock.now() + request.timeoutMs : undefined;
    try {
      if (op.case === 'set') {
        const value = op.value.value;
        if (value.byteLength > limits.maxValueBytes) {
          this.#refuse(id, undefined, {
            code: Status.RESOURCE_EXHAUSTED,
            details: `value is over the limit of ${limits.maxValueBytes} bytes`,
          });
          return;
        }
        // A plain view of the bytes; the group copies what it keeps.
        const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        const expireAt = expireAtFromNanos(op.value.expire);
        group.setFromPeer(op.value.key, view, expireAt, { deadline, generation });
      } else {
        group.removeFromPeer(op.value.key, { deadline, generation });
      }
    } catch (err) {
      this.#fail(id, undefined, op.case === 'set' ? 'Set' : 'Remove', err);
      return;
    }
    // Done: the answer carries the group's generation, as a unary call's metadata does.
    this.#answer(answerOf(id, { case: undefined }, undefined, group.generation), 0);
  }

  /** full answers `id` UNAVAILABLE when the stream has its most requests in flight. */
  #full(id: number): boolean {
    if (this.#inFlight.size < this.#config.maxStreamRequests) return false;
    this.#refuse(id, undefined, {
      code: Status.UNAVAILABLE,
      details: `too many requests in flight on this stream (${this.#config.maxStreamRequests})`,
    });
    return true;
  }

  /**
   * getMany answers a GetMany with {@link serveGetMany} (every key asked in one
   * turn, so the owner's loadMany sees them together), then each key by its
   * index: its value or its own error. A key refused on sight (empty, too long)
   * is answered at once; a batch over the limits is refused whole.
   */
  #getMany(
    request: StreamRequest,
    generation: number | undefined,
    message: GetManyRequest,
    target: Target,
  ): void {
    const { id } = request;
    const { keys } = message;
    const refused = keys.length === 0 ? undefined : checkBatch(keys);
    if (keys.length === 0 || refused !== undefined) {
      this.#refuse(id, undefined, {
        code: refused === undefined ? Status.INVALID_ARGUMENT : Status.RESOURCE_EXHAUSTED,
        details: refused === undefined ? 'bad request: no keys' : clean(refused.message),
      });
      return;
    }
    if (this.#full(id)) return;
    const flight = new Flight(
      request.timeoutMs,
      this.#config.clock.now(),
      request.traceparent,
      generation,
    );
    const outer = this.#config.signal;
    if (outer.aborted) flight.abort(outer.reason);
    const bad = keys.map((key) => checkKey(key, target.limits.maxKeyBytes));
    const good = keys.filter((_, i) => bad[i] === undefined);
    this.#track(id, flight);
    const limits = { maxValueBytes: this.#config.ceiling.maxValueBytes };
    serveGetMany(target.group, good, flight, limits).then(
      (found) => {
        if (this.#inFlight.get(id) !== flight || this.#ended) return;
        // Each key's answer carries the batch's one generation, as a unary answer does: the oldest.
        const generation = oldestGeneration(found.values());
        keys.forEach((key, index) => {
          const refusal = bad[index];
          const outcome = refusal === undefined ? found.get(key) : undefined;
          if (refusal !== undefined) this.#refuse(id, index, refusal);
          else if (outcome === undefined || isCacheError(outcome)) {
            this.#fail(id, index, 'GetMany', outcome);
          } else this.#found(id, index, outcome, generation);
        });
        this.#untrack(id);
        this.#endIfIdle();
      },
      (err: unknown) => {
        if (this.#inFlight.get(id) !== flight || this.#ended) return;
        this.#fail(id, undefined, 'GetMany', err);
        this.#untrack(id);
        this.#endIfIdle();
      },
    );
  }

  /** get answers a Get of `key`. */
  #get(id: number, flight: Flight, target: Target, key: string): void {
    const outer = this.#config.signal;
    if (outer.aborted) flight.abort(outer.reason);
    let answer: PeerValue | Promise<PeerValue>;
    try {
      answer = answerPeer(target.group, key, flight);
    } catch (err) {
      answer = Promise.reject(err);
    }
    if (!isThenable(answer)) {
      this.#found(id, undefined, answer);
      return;
    }
    this.#track(id, flight);
    answer.then(
      (found) => {
        if (!this.#settled(id, flight)) return;
        this.#found(id, undefined, found);
        this.#endIfIdle();
      },
      (err: unknown) => {
        if (!this.#settled(id, flight)) return;
        this.#fail(id, undefined, 'Get', err);
        this.#endIfIdle();
      },
    );
  }

  /**
   * settled ends the flight of request `id` once its answer came: false when the
   * request was cancelled or the stream ended meanwhile (nothing to answer).
   */
  #settled(id: number, flight: Flight): boolean {
    if (this.#inFlight.get(id) !== flight || this.#ended) return false;
    this.#untrack(id);
    return true;
  }

  #track(id: number, flight: Flight): void {
    if (this.#inFlight.size === 0) this.#timeouts.hold(true);
    this.#inFlight.set(id, flight);
    if (flight.deadline !== undefined) this.#timeouts.schedule(flight.deadline);
  }

  #untrack(id: number): void {
    this.#inFlight.delete(id);
    if (this.#inFlight.size < this.#config.maxStreamRequests) this.#holds.unhold(HOLD_FULL);
    if (this.#inFlight.size === 0) {
      this.#timeouts.hold(false);
      this.#activeAt = this.#config.clock.now();
      this.#timeouts.schedule(this.#activeAt + this.#config.idleTimeoutMs);
    }
  }

  /**
   * found answers with the value the group found, under `generation` (the value's own, or
   * its batch's), or RESOURCE_EXHAUSTED over the ceiling.
   */
  #found(
    id: number,
    index: number | undefined,
    found: PeerValue,
    generation = found.generation,
  ): void {
    const limit = this.#config.ceiling.maxValueBytes;
    const n = found.value.byteLength;
    if (n > limit) {
      this.#refuse(id, index, {
        code: Status.RESOURCE_EXHAUSTED,
        details: `value of ${n} bytes is over the limit of ${limit}`,
      });
      return;
    }
    const value: GetResponse = {
      $typeName: 'groupcachepb.GetResponse',
      value: found.value,
      minuteQps: Math.max(found.minuteQps, 0),
      expire: nanosFromExpireAt(found.expireAt),
    };
    this.#answer(answerOf(id, { case: 'value', value }, index, generation), n);
  }

  #fail(id: number, index: number | undefined, method: string, err: unknown): void {
    this.#refuse(id, index, refusalOf(err, this.#config.logger, method));
  }

  #refuse(id: number, index: number | undefined, refusal: Refusal): void {
    const error: StreamError = {
      $typeName: 'groupcachepb.StreamError',
      code: refusal.code,
      message: refusal.details,
    };
    const answer = answerOf(id, { case: 'error', value: error }, index, undefined);
    this.#answer(answer, refusal.details.length);
  }

  /**
   * answer queues an answer for the next batch, written at the end of this
   * turn of the event loop, or at once when the batch is full.
   */
  #answer(answer: StreamResponse, bytes: number): void {
    if (this.#ended) return;
    // A large answer goes in a message of its own: within the client's receive limit,
    // which has room for one value of the largest size and 64 KiB besides.
    const weight = bytes + answerOverhead;
    if (this.#answers.length > 0 && this.#answerBytes + weight > maxBatchBytes) this.#write();
    this.#answers.push(answer);
    this.#answerBytes += weight;
    if (this.#answers.length >= maxBatchAnswers || this.#answerBytes >= maxBatchBytes) {
      this.#write();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  #write(): void {
    if (this.#answers.length === 0 || this.#ended) return;
    const batch: StreamResponses = {
      $typeName: 'groupcachepb.StreamResponses',
      responses: this.#answers,
    };
    this.#answers = [];
    this.#answerBytes = 0;
    // Past the stream's buffer, stop reading requests until it drains: a client
    // that never reads its answers gets no more work done.
    if (!this.#call.write(batch)) this.#holds.hold(HOLD_WRITES);
  }

  #endIfIdle(): void {
    if (this.#draining && this.#inFlight.size === 0) this.#end(undefined);
  }

  /** timeOut aborts the loads due by `now` (their answers still go out) and ends an idle stream. */
  #timeOut(now: number): number {
    if (this.#ended) return Number.POSITIVE_INFINITY;
    if (this.#inFlight.size === 0) {
      const idleAt = this.#activeAt + this.#config.idleTimeoutMs;
      if (idleAt <= now) {
        this.#end(undefined);
        return Number.POSITIVE_INFINITY;
      }
      return idleAt;
    }
    let next = Number.POSITIVE_INFINITY;
    for (const f of this.#inFlight.values()) {
      if (f.aborted || f.deadline === undefined) continue;
      if (f.deadline <= now) {
        f.abort(new DeadlineExceededError(`peer request: deadline of ${f.timeoutMs} ms passed`));
      } else if (f.deadline < next) {
        next = f.deadline;
      }
    }
    return next;
  }

  /** end writes what is queued and ends the stream: OK, or with `status`. */
  #end(status: { code: Status; details: string } | undefined): void {
    if (this.#ended) return;
    this.#write();
    this.#ended = true;
    this.#timeouts.stop();
    this.#onEnd();
    if (status === undefined) this.#call.end();
    else this.#call.emit('error', status);
  }

  /** stop ends the stream's work when the call is gone: every load in flight is aborted. */
  #stop(reason: unknown): void {
    const flights = [...this.#inFlight.values()];
    this.#inFlight.clear();
    if (!this.#ended) {
      this.#ended = true;
      this.#timeouts.stop();
      this.#onEnd();
    }
    for (const f of flights) f.abort(reason);
  }
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * answerOf builds an answer as the Exchange codec writes it: `index` is a field
 * of its own only for a key of a GetMany (see hasIndex); `generation` (the
 * value's, or the group's for a write) only once it is not 0.
 */
function answerOf(
  id: number,
  result: StreamResponse['result'],
  index: number | undefined,
  generation: number | undefined,
): StreamResponse {
  const answer = { $typeName: 'groupcachepb.StreamResponse', id, result } as StreamResponse;
  if (index !== undefined) answer.index = index;
  if (generation) answer.generation = BigInt(generation);
  return answer;
}

/**
 * requestGeneration is the generation a request carries: undefined for none (0),
 * null for one past the safe whole numbers a group's generation can be.
 */
function requestGeneration(request: StreamRequest): number | undefined | null {
  const g = request.generation;
  if (g === 0n) return undefined;
  return g <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g) : null;
}
