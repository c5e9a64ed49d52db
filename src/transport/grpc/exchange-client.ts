// exchange-client.ts: the client side of GroupCache/Exchange: one long-lived bidirectional
// stream to a peer carrying many requests by id, written in batches, answered in any order; a
// broken stream fails its requests UNAVAILABLE and the next request opens another.
import { isFieldSet } from '@bufbuild/protobuf';
import type { ClientDuplexStream, StatusObject } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { type CallOptions, parseGeneration } from '../../core/peers.js';
import {
  abortError,
  type CacheError,
  DeadlineExceededError,
  UnavailableError,
} from '../../errors.js';
import {
  type StreamRequest,
  type StreamRequests,
  type StreamResponse,
  StreamResponseSchema,
  type StreamResponses,
} from '../../proto/gen/groupcache_pb.js';
import { ChurnMap } from '../../util/churn-map.js';
import type { Clock } from '../../util/clock.js';
import { SweepTimer } from '../../util/sweep-timer.js';
import { errorFromStatus } from './status.js';

/** The statuses that end a stream as a refusal of its requests, as they would a unary call. */
const STREAM_REFUSALS: ReadonlySet<number> = new Set([
  Status.UNAUTHENTICATED,
  Status.PERMISSION_DENIED,
  Status.RESOURCE_EXHAUSTED,
]);

/** A batch of requests is written as soon as it holds this many, without waiting for the turn to end. */
const maxBatchRequests = 16;
/** A batch of requests is written as soon as its values reach this many bytes. */
const maxBatchBytes = 64 * 1024;
/** The largest id; ids wrap around after it. */
const maxId = 2 ** 32 - 1;
/** The largest time left a request can carry (uint32 ms); a later deadline is sent as none. */
const maxTimeoutMs = 2 ** 32 - 1;

/** ExchangeCall is the grpc-js call of one Exchange stream. */
export type ExchangeCall = ClientDuplexStream<StreamRequests, StreamResponses>;

/** PeerStreamConfig is what a {@link PeerStream} needs. */
export interface PeerStreamConfig {
  /** The peer's base URL, for error messages. */
  url: string;
  /** open starts a new Exchange call to the peer. */
  open: () => ExchangeCall;
  /** details turns a failed stream's status into the text of its error. */
  details: (status: StatusObject) => string;
  /** The most requests in flight on the stream; the rest wait for one to end. */
  maxStreamRequests: number;
  /** The most requests waiting for room on the stream; past it a request fails UNAVAILABLE at once. */
  maxQueuedRequests: number;
  /**
   * The most bytes of requests not yet written (waiting for room, or held while the stream
   * does not drain); past it a request fails UNAVAILABLE at once, unless none waits.
   */
  maxQueuedBytes: number;
  /** A stream with nothing in flight for this long is closed by this side. */
  idleMs: number;
  clock: Clock;
}

/**
 * NoExchangeError is how a request fails when the peer has no Exchange method
 * (UNIMPLEMENTED: an older peercache, another gRPC server): it was never
 * served, and its caller sends it again as a unary call.
 */
export class NoExchangeError extends UnavailableError {}

/** PeerStreamStats is what {@link PeerStream.stats} tells. */
export interface PeerStreamStats {
  /** Whether a stream is open. */
  open: boolean;
  /** Requests sent on it (or to be) and not yet answered. */
  inFlight: number;
  /** Of those, requests (and cancels) not yet handed to grpc-js. */
  unwritten: number;
  /** Whether grpc-js took all it will (its `write` returned false) until 'drain'. */
  blocked: boolean;
  /** Requests given up whose answer has not come. */
  abandoned: number;
  /** Requests waiting for room on the stream. */
  waiting: number;
}

/** Pending is one request sent (or waiting to be) and not yet answered in full. */
interface Pending {
  readonly request: StreamRequest;
  /** The request's size as the byte bound counts it ({@link weight}). */
  readonly bytes: number;
  /** Answers still owed: 1, or a GetMany's number of keys. */
  remaining: number;
  readonly answers: StreamResponse[];
  readonly resolve: (answers: StreamResponse[]) => void;
  readonly reject: (err: CacheError) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** When the request times out, ms since the epoch; Infinity for never. */
  readonly deadline: number;
  /** The link it was sent on; undefined while it waits for room. */
  link: Link | undefined;
  done: boolean;
}

/** Link is one Exchange call and the requests in flight on it. */
interface Link {
  readonly call: ExchangeCall;
  readonly pending: ChurnMap<number, Pending>;
  /**
   * Ids of requests given up after they were written, whose answer has not come: the
   * peer still works on them (a cancelled one is answered CANCELLED), so each holds a
   * place on the stream until it does.
   */
  readonly abandoned: Set<number>;
  /** Requests not yet written: they leave in the next batch. */
  outgoing: StreamRequest[];
  /** The size of each of `outgoing` ({@link weight}), measured once. */
  outgoingWeights: number[];
  outgoingBytes: number;
  scheduled: boolean;
  /** The stream's buffer is full: write again on 'drain'. */
  blocked: boolean;
  dead: boolean;
  /** When the last request in flight ended (or the link opened), ms since the epoch. */
  idleSince: number;
}

/**
 * PeerStream sends a peer's requests on one Exchange stream, opened on first
 * use and again on the first request after it ends. At most
 * `maxStreamRequests` are in flight on it; more wait, in order, up to
 * `maxQueuedRequests`, and up to `maxQueuedBytes` of requests wait to be written
 * (for room, or while the stream does not drain). A request's deadline (the time left is sent with it)
 * and its caller's signal end it here at once and send the peer a cancel, so
 * the peer stops working on it too. A stream that fails or ends fails its
 * requests UNAVAILABLE; when the peer answers UNIMPLEMENTED they fail with
 * {@link NoExchangeError}, to be sent again as unary calls.
 */
export class PeerStream {
  readonly #config: PeerStreamConfig;
  readonly #timeouts: SweepTimer;
  readonly #waiting: Pending[] = [];
  /** Bytes of the requests in `#waiting`. */
  #waitingBytes = 0;
  #link: Link | undefined;
  #nextId = 1;
  #closed = false;

  constructor(config: PeerStreamConfig) {
    this.#config = config;
    this.#timeouts = new SweepTimer((now) => this.#timeOut(now), config.clock);
    this.#timeouts.hold(false);
  }

  /**
   * send sends `request` (its id is set here) and resolves with its answers:
   * one, or one per key of a GetMany (`answers` of them), in the order they came.
   * `deadline` is the absolute time the request ends at (Infinity for none).
   */
  send(
    request: StreamRequest,
    answers: number,
    deadline: number,
    options: CallOptions | undefined,
  ): Promise<StreamResponse[]> {
    if (this.#closed) {
      return Promise.reject(
        new UnavailableError(`peer ${this.#config.url}: the transport is closed`),
      );
    }
    const bytes = weight(request);
    // What waits to be written: requests without room yet, and those held while the stream
    // does not drain. One request is let in when none waits, whatever its size.
    const queued = this.#waitingBytes + (this.#link?.dead === false ? this.#link.outgoingBytes : 0);
    if (queued > 0 && queued + bytes > this.#config.maxQueuedBytes) {
      return Promise.reject(
        new UnavailableError(
          `peer ${this.#config.url}: ${queued} bytes of requests wait to be written already`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        request,
        bytes,
        remaining: answers,
        answers: [],
        resolve,
        reject,
        signal: options?.signal,
        onAbort: undefined,
        deadline,
        link: undefined,
        done: false,
      };
      const signal = options?.signal;
      if (signal !== undefined) {
        pending.onAbort = () => this.#giveUp(pending, abortError(signal));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      if (deadline !== Number.POSITIVE_INFINITY) this.#timeouts.schedule(deadline);
      const link = this.#linkWithRoom();
      if (link !== undefined) {
        this.#sendOn(link, pending);
      } else if (this.#waiting.length >= this.#config.maxQueuedRequests) {
        this.#settle(pending);
        reject(
          new UnavailableError(
            `peer ${this.#config.url}: ${this.#waiting.length} requests wait for the stream already`,
          ),
        );
      } else {
        this.#waiting.push(pending);
        this.#waitingBytes += bytes;
        this.#timeouts.hold(true);
      }
    });
  }

  /**
   * stats tells what is in flight and waiting, for tests and metrics: `unwritten`
   * of those in flight are still held here, `blocked` while the stream has taken
   * all it will until it drains.
   */
  stats(): PeerStreamStats {
    const link = this.#link;
    return {
      open: link !== undefined && !link.dead,
      inFlight: link?.pending.size ?? 0,
      unwritten: link?.outgoing.length ?? 0,
      blocked: link?.blocked ?? false,
      abandoned: link?.abandoned.size ?? 0,
      waiting: this.#waiting.length,
    };
  }

  /** close fails what is in flight or waiting UNAVAILABLE and ends the stream. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timeouts.stop();
    const reason = new UnavailableError(`peer ${this.#config.url}: the transport is closed`);
    const link = this.#link;
    if (link !== undefined) this.#fail(link, reason);
    this.#waitingBytes = 0;
    for (const p of this.#waiting.splice(0)) this.#reject(p, reason);
  }

  /** linkWithRoom is the open link, opened now if need be, when it has room for a request. */
  #linkWithRoom(): Link | undefined {
    let link = this.#link;
    if (link === undefined || link.dead) link = this.#open();
    if (this.#waiting.length > 0 || !this.#hasRoom(link)) {
      return undefined;
    }
    return link;
  }

  #open(): Link {
    const call = this.#config.open();
    const link: Link = {
      call,
      pending: new ChurnMap(),
      abandoned: new Set(),
      outgoing: [],
      outgoingWeights: [],
      outgoingBytes: 0,
      scheduled: false,
      blocked: false,
      dead: false,
      idleSince: this.#config.clock.now(),
    };
    this.#link = link;
    call.on('data', (batch: StreamResponses) => {
      for (const answer of batch.responses) this.#answer(link, answer);
      this.#promote();
    });
    call.on('drain', () => {
      link.blocked = false;
      this.#write(link);
    });
    // 'status' follows 'error' and ends every call: the stream is over.
    call.on('error', () => {});
    call.on('status', (status: StatusObject) => this.#ended(link, status));
    this.#timeouts.schedule(link.idleSince + this.#config.idleMs);
    return link;
  }

  #sendOn(link: Link, pending: Pending): void {
    let id = this.#nextId;
    while (link.pending.has(id) || link.abandoned.has(id)) id = id >= maxId ? 1 : id + 1;
    this.#nextId = id >= maxId ? 1 : id + 1;
    pending.request.id = id;
    pending.link = link;
    if (link.pending.size === 0) this.#timeouts.hold(true);
    link.pending.set(id, pending);
    this.#queue(link, pending.request, pending.bytes);
  }

  /** queue adds a request to the link's next batch, written at the end of this turn or when full. */
  #queue(link: Link, request: StreamRequest, bytes: number): void {
    link.outgoing.push(request);
    link.outgoingWeights.push(bytes);
    link.outgoingBytes += bytes;
    if (link.outgoing.length >= maxBatchRequests || link.outgoingBytes >= maxBatchBytes) {
      this.#write(link);
    } else if (!link.scheduled) {
      link.scheduled = true;
      setImmediate(() => {
        link.scheduled = false;
        this.#write(link);
      });
    }
  }

  /**
   * write sends the requests queued, in messages of at most {@link maxBatchRequests}
   * requests and {@link maxBatchBytes} (a larger request goes alone, within the
   * peer's receive limit as a unary call's message is), until the stream's buffer
   * is full: the rest wait for 'drain'.
   */
  #write(link: Link): void {
    // A request whose deadline passed while it waited here (the sweep's timer can run late)
    // is given up unsent, as the sweep would have given it up: none leaves with no time left.
    const now = this.#config.clock.now();
    const expired: Pending[] = [];
    for (const request of link.outgoing) {
      const pending = link.pending.get(request.id);
      if (pending?.request === request && pending.deadline <= now) expired.push(pending);
    }
    for (const pending of expired) this.#due(pending, now, 0);
    while (!link.dead && !link.blocked && link.outgoing.length > 0) {
      const queued = link.outgoing;
      const weights = link.outgoingWeights;
      let end = 0;
      let bytes = 0;
      while (end < queued.length && end < maxBatchRequests) {
        const next = weights[end] as number;
        if (end > 0 && bytes + next > maxBatchBytes) break;
        bytes += next;
        end++;
      }
      const all = end === queued.length;
      const requests = all ? queued : queued.slice(0, end);
      link.outgoing = all ? [] : queued.slice(end);
      link.outgoingWeights = all ? [] : weights.slice(end);
      link.outgoingBytes -= bytes;
      // Each request tells the peer the time its caller has left as it leaves, not as it was
      // sent: one that waited here for room or for 'drain' has less than it had then.
      const now = this.#config.clock.now();
      for (const request of requests) {
        const pending = link.pending.get(request.id);
        if (pending?.request !== request || pending.deadline === Number.POSITIVE_INFINITY) continue;
        const left = pending.deadline - now;
        if (left < maxTimeoutMs) request.timeoutMs = Math.max(1, Math.ceil(left));
      }
      const batch: StreamRequests = { $typeName: 'groupcachepb.StreamRequests', requests };
      // grpc-js buffers a stream's first messages itself (its retry buffer, the Duplex's 16),
      // then answers false once the peer stops taking them (HTTP/2 flow control: a peer that
      // does not read). The rest stay here, bounded by maxStreamRequests with those sent; a
      // request given up before it leaves is taken back unsent; 'drain' writes them.
      if (!link.call.write(batch)) link.blocked = true;
    }
  }

  #answer(link: Link, answer: StreamResponse): void {
    const pending = link.pending.get(answer.id);
    // An answer to a request given up (deadline, abort) is dropped; its place is free again.
    if (pending === undefined) {
      link.abandoned.delete(answer.id);
      return;
    }
    pending.answers.push(answer);
    // An answer without an index is the whole request's (a GetMany refused as a whole).
    pending.remaining = isWhole(answer) ? 0 : pending.remaining - 1;
    if (pending.remaining > 0) return;
    this.#untrack(link, answer.id);
    this.#settle(pending);
    pending.resolve(pending.answers);
  }

  /** hasRoom tells whether the link may take one more request. */
  #hasRoom(link: Link): boolean {
    return link.pending.size + link.abandoned.size < this.#config.maxStreamRequests;
  }

  /** promote sends waiting requests while the link has room. */
  #promote(): void {
    const waiting = this.#waiting;
    while (waiting.length > 0) {
      let link = this.#link;
      if (link === undefined || link.dead) link = this.#open();
      if (!this.#hasRoom(link)) return;
      const next = waiting.shift()!;
      this.#waitingBytes -= next.bytes;
      if (!next.done) this.#sendOn(link, next);
    }
  }

  #untrack(link: Link, id: number): void {
    link.pending.delete(id);
    if (link.pending.size === 0) {
      link.idleSince = this.#config.clock.now();
      this.#timeouts.schedule(link.idleSince + this.#config.idleMs);
      if (this.#waiting.length === 0) this.#timeouts.hold(false);
    }
  }

  /** giveUp ends a request here (deadline, abort) and tells the peer to stop working on it. */
  #giveUp(pending: Pending, reason: CacheError): void {
    if (pending.done) return;
    const link = pending.link;
    if (link === undefined) {
      // Still waiting for room: it leaves the queue, whose length is what maxQueuedRequests bounds.
      const at = this.#waiting.indexOf(pending);
      if (at >= 0) {
        this.#waiting.splice(at, 1);
        this.#waitingBytes -= pending.bytes;
      }
    }
    if (link !== undefined && link.pending.get(pending.request.id) === pending) {
      this.#untrack(link, pending.request.id);
      const unsent = link.outgoing.indexOf(pending.request);
      if (unsent >= 0) {
        // Never written: taken back, and the peer never hears of it.
        link.outgoing.splice(unsent, 1);
        link.outgoingWeights.splice(unsent, 1);
        link.outgoingBytes -= pending.bytes;
      } else if (!link.dead) {
        link.abandoned.add(pending.request.id);
        const cancel = streamRequest({ case: 'cancel', value: true }, undefined);
        cancel.id = pending.request.id;
        this.#queue(link, cancel, weight(cancel));
        if (link.abandoned.size >= this.#config.maxStreamRequests) {
          // Every place is held by a request the peer never answered (a hung peer, a
          // connection gone silent): the stream goes, and the next request opens another.
          this.#fail(
            link,
            new UnavailableError(
              `peer ${this.#config.url}: the peer answers nothing on its stream`,
            ),
          );
        }
      }
    }
    this.#reject(pending, reason);
    this.#promote();
  }

  /** settle marks a request done and forgets its caller's signal. */
  #settle(pending: Pending): void {
    pending.done = true;
    if (pending.onAbort !== undefined)
      pending.signal?.removeEventListener('abort', pending.onAbort);
  }

  #reject(pending: Pending, reason: CacheError): void {
    if (pending.done) return;
    this.#settle(pending);
    pending.reject(reason);
  }

  /** ended handles the end of a link's call: every request still on it fails. */
  #ended(link: Link, status: StatusObject): void {
    if (link.dead) return;
    // A stream refused as a whole (a wrong peer secret, a message over the peer's limit) fails
    // its requests as a unary call would have failed. Any other end is the stream's, not any
    // request's answer: one that ended or broke fails the requests on it UNAVAILABLE, so their
    // callers fall back as for a lost connection rather than take it as the key's answer.
    const reason =
      status.code === Status.UNIMPLEMENTED
        ? new NoExchangeError(`peer ${this.#config.url}: no Exchange method`)
        : !STREAM_REFUSALS.has(status.code)
          ? new UnavailableError(
              `peer ${this.#config.url}: the stream ended${status.code === Status.OK ? '' : ` (${Status[status.code]}: ${this.#config.details(status)})`}`,
            )
          : errorFromStatus(
              this.#config.url,
              'Exchange',
              status.code,
              this.#config.details(status),
            );
    this.#fail(link, reason);
    // Requests waiting for room go on a new stream, or fail alike when there is none to be had.
    if (reason instanceof NoExchangeError) {
      this.#waitingBytes = 0;
      for (const p of this.#waiting.splice(0)) this.#reject(p, reason);
      // Nothing is owed an answer now: the timer keeps no process open (the stream is kept,
      // to be tried again later).
      this.#timeouts.hold(false);
    } else {
      this.#promote();
    }
  }

  #fail(link: Link, reason: CacheError): void {
    link.dead = true;
    if (this.#link === link) this.#link = undefined;
    const pending = [...link.pending.values()];
    link.pending.clear();
    link.outgoing = [];
    link.outgoingWeights = [];
    link.outgoingBytes = 0;
    for (const p of pending) this.#reject(p, reason);
    if (this.#waiting.length === 0) this.#timeouts.hold(false);
    link.call.cancel();
  }

  /** timeOut fails the requests due by `now`, closes an idle stream, and returns the next deadline. */
  #timeOut(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    const link = this.#link;
    if (link !== undefined && !link.dead) {
      for (const p of link.pending.values()) next = this.#due(p, now, next);
      if (link.pending.size === 0) {
        const idleAt = link.idleSince + this.#config.idleMs;
        if (idleAt <= now && this.#waiting.length === 0) {
          // Closed by this side before the server's own idle timeout, so that the server
          // ending it cannot cross a request just sent on it.
          link.dead = true;
          this.#link = undefined;
          link.call.end();
        } else if (idleAt < next) {
          next = idleAt;
        }
      }
    }
    // A copy: a request given up leaves the queue.
    for (const p of [...this.#waiting]) next = this.#due(p, now, next);
    return next;
  }

  #due(pending: Pending, now: number, next: number): number {
    if (pending.done) return next;
    if (pending.deadline <= now) {
      this.#giveUp(
        pending,
        new DeadlineExceededError(`peer ${this.#config.url}: the deadline passed before an answer`),
      );
      return next;
    }
    return Math.min(next, pending.deadline);
  }
}

/** weight is about what a request takes in a message: its strings, a Set's value, and 32 for the rest. */
function weight(request: StreamRequest): number {
  const { op } = request;
  switch (op.case) {
    case 'get':
    case 'remove':
      return op.value.group.length + op.value.key.length + 32;
    case 'set':
      return op.value.group.length + op.value.key.length + op.value.value.byteLength + 32;
    case 'getMany': {
      let n = op.value.group.length + 32;
      for (const key of op.value.keys) n += key.length + 4;
      return n;
    }
    default:
      return 32;
  }
}

/**
 * isWhole tells whether an answer is its whole request's: a Get's, a Set's, or
 * an error refusing a GetMany as a whole, which carries no key index.
 */
export function isWhole(answer: StreamResponse): boolean {
  return answer.result.case !== 'value' && !isFieldSet(answer, StreamResponseSchema.field.index);
}

/**
 * streamRequest builds a request of the stream (its id and time left are set
 * when it is sent), with the caller's trace context and generation of the group
 * (see `CallOptions`) when it has them.
 */
export function streamRequest(
  op: StreamRequest['op'],
  options: Pick<CallOptions, 'traceparent' | 'generation'> | undefined,
): StreamRequest {
  const generation = parseGeneration(options?.generation);
  return {
    $typeName: 'groupcachepb.StreamRequest',
    id: 0,
    op,
    timeoutMs: 0,
    traceparent: options?.traceparent ?? '',
    generation: generation ? BigInt(generation) : 0n,
  };
}

/**
 * answerGeneration is the generation a stream answer carries (see
 * `PeerValue.generation`): undefined for none, or for one that is not a safe
 * whole number, which is not taken (as a malformed generation metadata is not).
 */
export function answerGeneration(answer: StreamResponse): number | undefined {
  const g = answer.generation;
  return g > 0n && g <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g) : undefined;
}
