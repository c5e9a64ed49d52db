// client.ts: the tcp transport's peer client: one long-lived connection per peer, many requests
// in flight on it by id, answers in any order, a bounded queue of requests not yet written; a
// broken or stalled connection fails its requests UNAVAILABLE and the next call dials afresh.
import type { Socket } from 'node:net';
import type { Logger } from '../../core/logger.js';
import type { NodeStats, NodeStatsRequest } from '../../core/node-stats.js';
import {
  type CallOptions,
  type PeerClient,
  type PeerGetManyResult,
  type PeerValue,
  parseGeneration,
  singleGets,
} from '../../core/peers.js';
import {
  abortError,
  type CacheError,
  DeadlineExceededError,
  type ErrorCode,
  errorFromCode,
  InvalidArgumentError,
  TooLargeError,
  UnavailableError,
} from '../../errors.js';
import { acceptedValueBytes, checkPeerValue } from '../../limits.js';
import { CLOSED_AFTER_HANDSHAKE } from '../../security/refusals.js';
import { ChurnMap } from '../../util/churn-map.js';
import { type Clock, MAX_TIMER_MS } from '../../util/clock.js';
import { LogThrottle } from '../../util/log-throttle.js';
import { SweepTimer } from '../../util/sweep-timer.js';
import { askInBatches } from '../batches.js';
import { wholeMillis } from '../expiry.js';
import { ownedCopy } from '../owned-copy.js';
import { type Dial, type DialConfig, dialPeer, type PeerAddress, peerAddress } from './dial.js';
import {
  BATCH_VERSION,
  codeOf,
  encodeCancel,
  encodeGeneration,
  encodeGetMany,
  encodePing,
  encodeRequest,
  encodeTrace,
  FrameReader,
  FrameType,
  GENERATION_BYTES,
  GET_OK_FIXED_BYTES,
  HEADER_BYTES,
  MAX_GROUP_BYTES,
  MAX_TIMEOUT_MS,
  type ManyEntry,
  maxResponseFrame,
  OK,
  PROTOCOL_VERSION,
  readGetManyAnswer,
  SKIPPED,
} from './frame.js';
import { type Queued, SendQueue } from './send-queue.js';
import { callStats } from './stats-call.js';

/** TcpClientConfig is what every peer client of one transport shares. */
export interface TcpClientConfig extends DialConfig {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** Bounds each call on top of the caller's deadline; `Infinity` for none. */
  requestTimeoutMs: number;
  /** The first wait before redialling a peer that refused a connection; doubles up to `maxBackoffMs`. */
  minBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
  /** Requests waiting to be written to one peer; past it calls fail UNAVAILABLE at once. */
  maxQueuedRequests: number;
  /** Bytes of requests waiting to be written to one peer; past it calls fail UNAVAILABLE at once. */
  maxQueuedBytes: number;
  /** The servers' idle timeout: the client closes an idle connection a little before it. */
  idleTimeoutMs: number;
  /** How long a connection with requests in flight may read nothing before it is probed. */
  quietTimeoutMs: number;
  /** Reads the time and runs the timeouts (requests, dials, probes, idle). */
  clock: Clock;
}

/** TcpClientStats is a snapshot of one peer client's connection. */
export interface TcpClientStats {
  /** Whether a connection is made (not merely being dialled). */
  connected: boolean;
  /** Requests waiting to be written, and their bytes. */
  queuedRequests: number;
  queuedBytes: number;
  /** Bytes the socket holds, written by us and not yet taken by the kernel. */
  socketBufferedBytes: number;
  /** Requests sent or queued and not yet answered. */
  pending: number;
  /** Connections dialled so far. */
  dials: number;
}

/** The longest wait for a probe's answer before a stalled connection is dropped. */
const maxProbeMs = 1_000;

/**
 * NotBatchReady is how a GET_MANY is turned back before it is sent, on a connection whose
 * version-2 HELLO is not (yet) accepted; its batch is then asked as single gets.
 */
class NotBatchReady extends Error {}

/** Pending is one request waiting for its answer. */
interface Pending {
  readonly type: number;
  readonly resolve: (value: Answer) => void;
  readonly reject: (err: CacheError) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
  /** When the request times out, ms since the epoch; Infinity for never. */
  readonly deadline: number;
  /** The timeout sent with the request, for the error message. */
  readonly timeoutMs: number;
  /** Its frame in the send queue, to take back if it is given up before being written. */
  readonly entry: Queued | undefined;
  /** The connection's `reads` when it was queued: more since means the connection moved. */
  readonly reads: number;
  /** The largest value a GET takes in its answer: the caller's limit, within the ceiling. */
  readonly maxValueBytes: number;
  /** Hears the generation the answer to a write or a clear carries (see CallOptions). */
  readonly onGeneration?: ((generation: number) => void) | undefined;
  /** A GET_MANY's keys, in the order of its answer's entries. */
  readonly keys?: readonly string[] | undefined;
  /**
   * again sends the request anew (on a fresh connection) with the same caller: for a
   * request a server refused unread because it refused the HELLO's version.
   */
  readonly again?: (() => void) | undefined;
}

/**
 * ManyAnswer is a GET_MANY's answer: its entries, and the generation the server sent
 * before it, when it sent one.
 */
interface ManyAnswer {
  entries: ManyEntry[];
  generation: number | undefined;
}

/** Answer is what a request resolves with: a GET's value, a GET_MANY's answer, or nothing. */
type Answer = PeerValue | ManyAnswer | undefined;

/** Link is one open (or opening) connection and the requests in flight on it. */
interface Link {
  readonly socket: Socket;
  readonly queue: SendQueue;
  readonly reader: FrameReader;
  readonly pending: ChurnMap<number, Pending>;
  connected: boolean;
  /** The dial that opened it: stopped when the connection is dropped. */
  readonly dial: Dial;
  dead: boolean;
  /** Reads so far (any bytes from the peer): the connection's sign of progress. */
  reads: number;
  /** When bytes were last read, ms since the epoch (0 before any). */
  readAt: number;
  /** When requests began to be in flight on it (the first after none), ms since the epoch. */
  busySince: number;
  /** The id of the PING sent to check a quiet connection, or one on which a request timed out unanswered. */
  probeId: number | undefined;
  /** The GENERATION frame just read, for the answer of its id that follows it. */
  generation?: { id: number; value: number } | undefined;
  /** When the last request in flight ended, ms since the epoch. */
  idleSince: number;
  /** The protocol version its HELLO announced. */
  readonly version: number;
  /** Whether the server answered the HELLO with an OK (version 2 on): it takes GET_MANY. */
  acked: boolean;
  /** getMany calls waiting for that OK: told true when it comes, false when the link fails first. */
  ackWaiters: Array<(acked: boolean) => void>;
}

/**
 * TcpPeerClient is one peer's {@link PeerClient}: a single connection to the
 * host and port of the peer's base URL (TLS for `https://`), dialled on first
 * use and redialled on the first call after it breaks (after a backoff when
 * the peer refused the connection). Requests are pipelined on it.
 *
 * Requests wait in a bounded {@link SendQueue} until the socket takes them; a
 * request given up (deadline, abort) before it was written is taken out and
 * never sent. When a request times out and nothing at all has been read on the
 * connection since it was queued, the connection may be stuck (a hung peer, a
 * partition that left the kernel retransmitting with a long backoff): a dial
 * that has not connected is dropped at once, an open connection is sent a PING,
 * and if nothing is read before the PING's own short deadline, the connection
 * is reset and its requests fail UNAVAILABLE. The next call dials afresh. The
 * same probe is sent, without waiting for a timeout, when requests have been in
 * flight and nothing has been read for the quiet timeout: a connection that
 * lived through a partition carries the kernel's retransmission timer, doubled
 * at each unanswered try, and would otherwise hold what is written to it after
 * the network is back until that timer next fires, seconds later. A peer that
 * is only slow to load answers the PING at once, and keeps its connection.
 *
 * A dial the peer has not accepted within the connect timeout is dropped and
 * its requests fail UNAVAILABLE at once: its SYN went unanswered (a peer cut
 * off, a host gone), and the kernel would retry it only after a backoff that
 * doubles each time, so the next call dials afresh instead, at once.
 */
export class TcpPeerClient implements PeerClient {
  readonly url: string;
  readonly #config: TcpClientConfig;
  /** A refused HELLO is logged once per interval: the next call dials again at once. */
  readonly #refusals = new LogThrottle();
  readonly #address: PeerAddress;
  #link: Link | undefined;
  #nextId = 1;
  #closed = false;
  #backoffMs = 0;
  #retryAt = 0;
  #lastFailure: unknown;
  #dials = 0;
  /**
   * The version the next dial's HELLO announces: PROTOCOL_VERSION, or 1 for the one dial
   * right after the server refused it (see {@link TcpPeerClient.#speakOlder}).
   */
  #nextVersion = PROTOCOL_VERSION;
  /** Whether the peer was last found to speak protocol 1, so that a change is logged once. */
  #olderPeer = false;
  /** How long a probe of a stalled connection waits: the request timeout, at most 1 s. */
  readonly #probeMs: number;
  /** How long a connection may idle before this side closes it. */
  readonly #idleMs: number;
  /** Times out requests of the current connection; one timer for all of them. */
  readonly #timeouts: SweepTimer;

  /** Throws InvalidArgumentError for a base URL that is not `http(s)://host:port`. */
  constructor(baseUrl: string, config: TcpClientConfig) {
    this.url = baseUrl;
    this.#config = config;
    this.#timeouts = new SweepTimer((now) => this.#timeOut(now), config.clock);
    this.#probeMs = Math.min(config.requestTimeoutMs, maxProbeMs);
    // Before the server's idle timeout, so that with equal settings it is this side that closes
    // an idle connection: the server closing it could cross a request just sent on it.
    this.#idleMs = Math.max(config.idleTimeoutMs - 5_000, config.idleTimeoutMs / 2);
    this.#address = peerAddress(baseUrl);
  }

  get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    return this.#call(FrameType.Get, group, key, undefined, 0, options) as Promise<PeerValue>;
  }

  /**
   * getMany asks for `keys` in GET_MANY frames (see {@link askInBatches}), once the server
   * has accepted this side's HELLO as version 2 or later; a server of version 1, or one
   * whose answer to the HELLO does not come within the call's time, is sent one GET per
   * key. A key whose value did not fit in its batch's answer is asked again with a GET.
   */
  async getMany(
    group: string,
    keys: readonly string[],
    options?: CallOptions,
  ): Promise<PeerGetManyResult> {
    const refused = this.#refuseCall(group, options);
    if (refused !== undefined) throw refused;
    if (!(await this.#batchReady(options))) return singleGets(this, group, keys, options);
    const groupBytes = Buffer.byteLength(group);
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    return askInBatches(
      keys,
      (key) => this.#refuseKey(key),
      async (batch) => {
        const keyBytes = batch.map((key) => Buffer.byteLength(key));
        const sent = this.#send(
          FrameType.GetMany,
          options,
          (id, timeoutMs) =>
            encodeGetMany(
              id,
              timeoutMs,
              this.#config.maxValueBytes,
              group,
              groupBytes,
              batch,
              keyBytes,
            ),
          batch,
          undefined,
        );
        let got: ManyAnswer;
        try {
          got = (await sent) as ManyAnswer;
        } catch (err) {
          // The connection was replaced while the batch waited, by one whose HELLO is not
          // answered yet: the batch goes as single gets, which any version of peer reads.
          if (err instanceof NotBatchReady) return singleGets(this, group, batch, options);
          throw err;
        }
        const { entries, generation } = got;
        const answer: PeerGetManyResult = new Map();
        const skipped: string[] = [];
        batch.forEach((key, i) => {
          const entry = entries[i] as ManyEntry;
          if (entry.status === SKIPPED) skipped.push(key);
          else answer.set(key, this.#outcomeOf(entry, limit, generation));
        });
        if (skipped.length > 0) {
          for (const [key, outcome] of await singleGets(this, group, skipped, options)) {
            answer.set(key, outcome);
          }
        }
        return answer;
      },
    );
  }

  /**
   * batchReady tells whether GET_MANY may be sent: once the current connection's HELLO
   * was accepted with an OK, waiting for it (within the call's deadline and the request
   * timeout) on a connection of version 2 just dialled.
   */
  #batchReady(options: CallOptions | undefined): boolean | Promise<boolean> {
    if (this.#closed || options?.signal?.aborted) return false;
    const clock = this.#config.clock;
    const now = clock.now();
    const link = this.#linkNow(now);
    if (link === undefined || link.version < BATCH_VERSION) return false;
    if (link.acked) return true;
    const wait = Math.min((options?.deadline ?? Infinity) - now, this.#config.requestTimeoutMs);
    const signal = options?.signal;
    return new Promise<boolean>((resolve) => {
      let timer: unknown;
      const done = (acked: boolean) => {
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        link.ackWaiters = link.ackWaiters.filter((w) => w !== done);
        resolve(acked);
      };
      const onAbort = () => done(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (wait <= MAX_TIMER_MS) timer = clock.setTimeout(() => done(false), Math.max(0, wait));
      link.ackWaiters.push(done);
    });
  }

  /**
   * outcomeOf is what a GET_MANY entry says of its key: a value of its own (found under
   * `generation`, the answer's), or the error.
   */
  #outcomeOf(
    entry: ManyEntry,
    limit: number,
    generation: number | undefined,
  ): PeerValue | CacheError {
    if ('value' in entry) {
      if (entry.value.byteLength > limit) {
        return new TooLargeError(
          `peer ${this.url}: value of ${entry.value.byteLength} bytes is over the limit of ${limit}`,
        );
      }
      const { expireAt, minuteQps } = entry;
      const got: PeerValue = {
        // A copy of its own already (see readGetManyAnswer).
        value: entry.value,
        expireAt: Number.isFinite(expireAt) && expireAt > 0 ? Math.floor(expireAt) : 0,
        minuteQps: Number.isFinite(minuteQps) && minuteQps > 0 ? minuteQps : 0,
        owned: true,
      };
      if (generation !== undefined) got.generation = generation;
      return got;
    }
    return this.#errorOf(codeOf(entry.status) ?? 'INTERNAL', entry.message);
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
    await this.#call(FrameType.Set, group, key, value, at, options);
  }

  async remove(group: string, key: string, options?: CallOptions): Promise<void> {
    await this.#call(FrameType.Remove, group, key, undefined, 0, options);
  }

  /**
   * clear sends the clear notice of `group` at `generation`: a GENERATION frame, then
   * a CLEAR frame (see docs/wire-format.md).
   */
  async clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    await this.#call(FrameType.Clear, group, '', undefined, 0, { ...options, generation });
  }

  /**
   * nodeStats asks the peer for its report, on a connection of its own (see
   * {@link callStats}): a peer that does not know the STATS frame closes that
   * connection, not the one its gets are on.
   */
  nodeStats(request: NodeStatsRequest, options?: CallOptions): Promise<NodeStats> {
    if (this.#closed) {
      return Promise.reject(new UnavailableError(`peer ${this.url}: the client is closed`));
    }
    return callStats(this.#address, this.#config, request, options);
  }

  /** stats tells the state of the connection and its queue. */
  stats(): TcpClientStats {
    const link = this.#link;
    return {
      connected: link?.connected ?? false,
      queuedRequests: link?.queue.waiting ?? 0,
      queuedBytes: link?.queue.bytes ?? 0,
      socketBufferedBytes: link?.socket.writableLength ?? 0,
      pending: link?.pending.size ?? 0,
      dials: this.#dials,
    };
  }

  /** close drops the connection (its requests fail UNAVAILABLE); later calls fail too. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#link) this.#fail(this.#link, new UnavailableError(`peer ${this.url}: closed`));
    this.#timeouts.stop();
  }

  #call(
    type: number,
    group: string,
    key: string,
    value: Uint8Array | undefined,
    expireAt: number,
    options: CallOptions | undefined,
  ): Promise<Answer> {
    const refused =
      this.#refuseCall(group, options) ??
      (type === FrameType.Clear ? undefined : this.#refuseKey(key));
    if (refused !== undefined) return Promise.reject(refused);
    const groupBytes = Buffer.byteLength(group);
    const keyBytes = Buffer.byteLength(key);
    return this.#send(
      type,
      options,
      (id, timeoutMs) =>
        encodeRequest(type, id, timeoutMs, group, groupBytes, key, keyBytes, value, expireAt),
      undefined,
      () => this.#call(type, group, key, value, expireAt, options),
    );
  }

  /** refuseCall is why a call for `group` cannot be sent at all, if it cannot. */
  #refuseCall(group: string, options: CallOptions | undefined): CacheError | undefined {
    const signal = options?.signal;
    if (signal?.aborted) return abortError(signal);
    if (this.#closed) return new UnavailableError(`peer ${this.url}: the transport is closed`);
    if (Buffer.byteLength(group) > MAX_GROUP_BYTES) {
      return new InvalidArgumentError(`group name is over the limit of ${MAX_GROUP_BYTES} bytes`);
    }
    if (!group.isWellFormed()) {
      return new InvalidArgumentError('key or group is not valid Unicode (lone surrogate)');
    }
    return undefined;
  }

  /** refuseKey is what this side finds wrong with `key` before sending it, if anything. */
  #refuseKey(key: string): CacheError | undefined {
    if (key === '') return new InvalidArgumentError('bad request: empty key');
    if (Buffer.byteLength(key) > this.#config.maxKeyBytes) {
      return new TooLargeError(`key is over the limit of ${this.#config.maxKeyBytes} bytes`);
    }
    if (!key.isWellFormed()) {
      return new InvalidArgumentError('key or group is not valid Unicode (lone surrogate)');
    }
    return undefined;
  }

  /**
   * send queues the request `encode` builds for an id and the time left, on the current
   * connection (dialled if there is none), and waits for its answer, its deadline or its
   * caller's abort. `again`, when given, resends it with the same caller (see
   * {@link Pending.again}).
   */
  #send(
    type: number,
    options: CallOptions | undefined,
    encode: (id: number, timeoutMs: number) => Buffer,
    keys: readonly string[] | undefined,
    again: (() => Promise<Answer>) | undefined,
  ): Promise<Answer> {
    const signal = options?.signal;
    const now = this.#config.clock.now();
    const deadline = Math.min(options?.deadline ?? Infinity, now + this.#config.requestTimeoutMs);
    if (deadline <= now) {
      return Promise.reject(new DeadlineExceededError(`peer ${this.url}: the deadline has passed`));
    }
    // A call that raced the close (a batch past its await) dials nothing: it fails here.
    if (this.#closed) {
      return Promise.reject(new UnavailableError(`peer ${this.url}: the transport is closed`));
    }
    const link = this.#linkNow(now);
    if (link === undefined) {
      const cause = this.#lastFailure;
      return Promise.reject(
        new UnavailableError(`peer ${this.url}: unreachable (${describe(cause)})`, { cause }),
      );
    }
    // A GET_MANY goes only on a connection whose version-2 HELLO the peer has accepted.
    if (type === FrameType.GetMany && !(link.acked && link.version >= BATCH_VERSION)) {
      return Promise.reject(new NotBatchReady());
    }
    const left = deadline - now;
    const timeoutMs = Number.isFinite(left) ? Math.min(Math.ceil(left), MAX_TIMEOUT_MS) : 0;
    const id = this.#takeId(link);
    const request = encode(id, timeoutMs);
    // With tracing on, the request's trace context goes right before it, in the same entry:
    // the two are sent together or not at all.
    const trace =
      options?.traceparent === undefined ? undefined : encodeTrace(id, options.traceparent);
    // So does the group's generation, once the group has been cleared.
    const generation = options?.generation;
    const entry = link.queue.offer(
      trace === undefined && !generation
        ? request
        : Buffer.concat(
            [trace, generation ? encodeGeneration(id, generation) : undefined, request].filter(
              (b) => b !== undefined,
            ),
          ),
    );
    if (entry === undefined) {
      const c = this.#config;
      return Promise.reject(
        new UnavailableError(
          `peer ${this.url}: ${link.queue.waiting} requests (${link.queue.bytes} bytes) already wait to be sent; the limits are ${c.maxQueuedRequests} requests and ${c.maxQueuedBytes} bytes`,
        ),
      );
    }
    const reads = link.reads;
    return new Promise<Answer>((resolve, reject) => {
      const onAbort =
        signal === undefined
          ? undefined
          : () => this.#giveUp(link, id, abortError(signal as AbortSignal));
      const pending: Pending = {
        type,
        resolve,
        reject,
        signal,
        onAbort,
        deadline,
        timeoutMs,
        entry,
        reads,
        maxValueBytes: acceptedValueBytes(this.#config.maxValueBytes, options),
        keys,
        again: again === undefined ? undefined : () => void again().then(resolve, reject),
        onGeneration: options?.onGeneration,
      };
      if (signal !== undefined && onAbort !== undefined) {
        signal.addEventListener('abort', onAbort, { once: true });
      }
      if (link.pending.size === 0) {
        this.#timeouts.hold(true);
        link.busySince = now;
        this.#timeouts.schedule(now + this.#config.quietTimeoutMs);
      }
      link.pending.set(id, pending);
      if (deadline !== Infinity) this.#timeouts.schedule(deadline);
    });
  }

  /**
   * timeOut gives up on the requests due by `now`, and deals with a connection
   * that made no progress while one of them waited (see the class); it returns
   * the next deadline.
   */
  #timeOut(now: number): number {
    const link = this.#link;
    if (link === undefined) return Number.POSITIVE_INFINITY;
    let next = Number.POSITIVE_INFINITY;
    let stalled = false;
    let probeFailed = false;
    for (const [id, p] of link.pending) {
      if (p.deadline <= now) {
        if (p.reads === link.reads) {
          stalled = true;
          if (id === link.probeId) probeFailed = true;
        }
        const err = new DeadlineExceededError(
          `peer ${this.url}: no answer within ${p.timeoutMs} ms`,
        );
        this.#giveUp(link, id, err);
      } else if (p.deadline < next) {
        next = p.deadline;
      }
    }
    if (!stalled) return this.#quietCheck(link, now, this.#idleCheck(link, now, next));
    if (!link.connected) {
      // The dial itself hangs (SYNs unanswered): give up on it; the backoff applies.
      this.#broken(link, new Error(`not connected within ${this.#config.requestTimeoutMs} ms`));
      return Number.POSITIVE_INFINITY;
    }
    if (probeFailed) {
      this.#stalled(link);
      return Number.POSITIVE_INFINITY;
    }
    if (link.probeId === undefined) next = Math.min(next, this.#probe(link, now));
    return next;
  }

  /**
   * quietCheck probes `link` once it has had requests in flight and read nothing
   * for the quiet timeout; it returns the next deadline.
   */
  #quietCheck(link: Link, now: number, next: number): number {
    if (link.dead || !link.connected || link.pending.size === 0 || link.probeId !== undefined) {
      return next;
    }
    const probeAt = Math.max(link.readAt, link.busySince) + this.#config.quietTimeoutMs;
    if (probeAt > now) return Math.min(next, probeAt);
    return Math.min(next, this.#probe(link, now));
  }

  /** idleCheck closes `link` once it has idled long enough; it returns the next deadline. */
  #idleCheck(link: Link, now: number, next: number): number {
    if (link.pending.size > 0 || link.dead) return next;
    const closeAt = link.idleSince + this.#idleMs;
    if (closeAt > now) return Math.min(next, closeAt);
    this.#fail(link, new UnavailableError(`peer ${this.url}: idle connection closed`));
    return next;
  }

  /** probe sends a PING on `link` with a short deadline; it returns that deadline. */
  #probe(link: Link, now: number): number {
    const id = this.#takeId(link);
    const deadline = now + this.#probeMs;
    const ignore = () => {};
    link.pending.set(id, {
      type: FrameType.Ping,
      resolve: ignore,
      reject: ignore,
      signal: undefined,
      onAbort: undefined,
      deadline,
      timeoutMs: this.#probeMs,
      // Unbounded: a full queue is itself what the probe may find stuck.
      entry: link.queue.offer(encodePing(id), false),
      reads: link.reads,
      maxValueBytes: 0,
    });
    link.probeId = id;
    this.#timeouts.hold(true);
    return deadline;
  }

  /**
   * stalled drops `link`: a request timed out on it, then a probe did, with
   * nothing read all that time. It is reset rather than closed: a peer that was
   * only paused must not find our unanswered requests still queued to it when
   * it resumes (a reset makes its kernel discard what it had not read yet).
   */
  #stalled(link: Link): void {
    const cause = new Error(
      `nothing read for ${this.#probeMs} ms after a probe of the quiet connection`,
    );
    this.#lastFailure = cause;
    try {
      this.#config.logger.warn({ peer: this.url }, 'peer connection reset: it made no progress');
    } catch {
      // A failing logger changes nothing.
    }
    this.#fail(
      link,
      new UnavailableError(`peer ${this.url}: connection reset (${cause.message})`, { cause }),
      true,
    );
  }

  /** takeId is the next request id not in flight on `link`: 1 to 2^32-1, wrapping. */
  #takeId(link: Link): number {
    let id = this.#nextId;
    while (link.pending.has(id)) id = id === 0xffff_ffff ? 1 : id + 1;
    this.#nextId = id === 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  /**
   * giveUp rejects request `id` with `err`. A request not yet written is taken
   * out of the queue and never sent; one already sent is cancelled (CANCEL),
   * when the queue has room for that.
   */
  #giveUp(link: Link, id: number, err: CacheError): void {
    const p = link.pending.get(id);
    if (p === undefined) return;
    this.#settle(link, id, p);
    const unsent = p.entry !== undefined && link.queue.withdraw(p.entry);
    if (!unsent && !link.dead) link.queue.offer(encodeCancel(id));
    p.reject(err);
  }

  #settle(link: Link, id: number, p: Pending): void {
    if (id === link.probeId) link.probeId = undefined;
    link.pending.delete(id);
    if (link.pending.size === 0) {
      this.#timeouts.hold(false);
      link.idleSince = this.#config.clock.now();
      // Usually armed earlier already (a deadline of a request that has ended).
      this.#timeouts.schedule(link.idleSince + this.#idleMs);
    }
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort);
  }

  /**
   * linkNow is the open connection, dialled if there is none; undefined while backing off.
   * Each dial announces the newest protocol version in its HELLO (but for the one right
   * after a refusal of it): the version is the connection's, agreed afresh each time, so
   * a peer upgraded behind the same address is spoken to in its new version as soon as
   * its old connection is replaced.
   */
  #linkNow(now: number): Link | undefined {
    if (this.#link !== undefined && !this.#link.dead) return this.#link;
    if (now < this.#retryAt) return undefined;
    const version = this.#nextVersion;
    this.#nextVersion = PROTOCOL_VERSION;
    const dial = dialPeer(this.#address, this.#config, version, {
      connected: () => {
        link.connected = true;
        this.#backoffMs = 0;
        link.queue.open();
      },
      timedOut: () => this.#dialTimedOut(link),
      read: (chunk) => {
        link.reads++;
        link.readAt = this.#config.clock.now();
        const problem = link.reader.push(chunk);
        if (problem !== undefined) this.#protocolError(link, problem);
      },
    });
    const socket = dial.socket;
    this.#dials++;
    const link: Link = {
      socket,
      queue: new SendQueue(socket, {
        maxRequests: this.#config.maxQueuedRequests,
        maxBytes: this.#config.maxQueuedBytes,
      }),
      reader: new FrameReader(maxResponseFrame(this.#config.maxValueBytes), (buf, start, end) =>
        this.#answer(link, buf, start, end),
      ),
      pending: new ChurnMap(),
      connected: false,
      dial,
      dead: false,
      reads: 0,
      readAt: 0,
      busySince: 0,
      probeId: undefined,
      generation: undefined,
      idleSince: this.#config.clock.now(),
      version,
      acked: false,
      ackWaiters: [],
    };
    socket.on('error', (err) => this.#broken(link, err));
    socket.on('close', () =>
      this.#broken(
        link,
        // Closed after the handshake with no answer at all, not even to the HELLO.
        new Error(
          this.#address.secure && link.connected && link.reads === 0
            ? CLOSED_AFTER_HANDSHAKE
            : 'connection closed',
        ),
      ),
    );
    link.queue.offer(dial.hello, false);
    this.#link = link;
    return link;
  }

  /**
   * dialTimedOut drops `link`, which the peer has not accepted. No backoff
   * follows: the timeout was the wait, and a peer that comes back (a partition
   * healed) is reached by the very next call.
   */
  #dialTimedOut(link: Link): void {
    if (link.dead) return;
    const cause = new Error(`not connected within ${this.#config.connectTimeoutMs} ms`);
    this.#lastFailure = cause;
    this.#fail(
      link,
      new UnavailableError(`peer ${this.url}: connection failed (${cause.message})`, { cause }),
    );
  }

  /** broken fails every request of `link`; a connection never made also starts a backoff. */
  #broken(link: Link, cause: unknown): void {
    if (link.dead) return;
    if (!link.connected) {
      const c = this.#config;
      this.#backoffMs = Math.min(Math.max(this.#backoffMs * 2, c.minBackoffMs), c.maxBackoffMs);
      this.#retryAt = this.#config.clock.now() + this.#backoffMs;
    }
    this.#lastFailure = cause;
    this.#fail(
      link,
      new UnavailableError(`peer ${this.url}: connection failed (${describe(cause)})`, { cause }),
    );
  }

  /** fail drops `link` (reset, not closed, when `reset`) and fails its requests with `err`. */
  #fail(link: Link, err: CacheError, reset = false): void {
    if (link.dead) return;
    link.dead = true;
    link.dial.stop();
    link.reader.stop();
    link.queue.close();
    if (reset) resetSocket(link.socket);
    else link.socket.destroy();
    if (this.#link === link) this.#link = undefined;
    const waiters = link.ackWaiters;
    link.ackWaiters = [];
    for (const waiter of waiters) waiter(false);
    const pending = [...link.pending];
    link.pending.clear();
    for (const [id, p] of pending) {
      this.#settle(link, id, p);
      p.reject(err);
    }
  }

  /** refused logs a refused HELLO (a wrong secret, another ring), once per interval per peer. */
  #refused(message: string): void {
    const held = this.#refusals.take(this.url);
    if (held === undefined) return;
    try {
      this.#config.logger.error(
        { peer: this.url, error: message, refusedSinceLastLog: held },
        'peer refused the connection',
      );
    } catch {
      // A failing logger changes nothing.
    }
  }

  /**
   * errorOf is the error an answer of `code` with `message` stands for: the peer's answer,
   * final for the caller; except UNAVAILABLE (and a CANCELLED the caller did not ask
   * for): the peer could not serve it.
   */
  #errorOf(code: ErrorCode, message: string): CacheError {
    const ours = code === 'CANCELLED' ? 'UNAVAILABLE' : code;
    const answer = { remote: ours !== 'UNAVAILABLE' };
    return code === 'NOT_FOUND'
      ? errorFromCode(code, message || 'not found', answer)
      : errorFromCode(ours, `peer ${this.url}: ${message}`, answer);
  }

  /**
   * speakOlder follows a server that refused the HELLO's version (it speaks protocol 1):
   * the requests sent behind the refused HELLO, which such a server reads none of, are
   * sent again on a fresh connection whose HELLO announces 1. Only that one dial does:
   * the one after it announces the newest version again, so that the peer, once
   * upgraded, is spoken to in it on its next connection.
   *
   * The order matters. The link is failed first, which wakes the getMany calls waiting
   * for the HELLO's OK (told no: they fall back to single GETs, in a later turn); then
   * the refused requests are sent again, and the first of them dials, taking the
   * version 1 set here. When none is to be sent again, the first of those single GETs
   * dials instead. Nothing between the two can dial, so no HELLO of the newest version
   * is sent to the server that just refused one.
   */
  #speakOlder(link: Link): void {
    this.#nextVersion = 1;
    this.#logPeerVersion(true);
    const resend: Pending[] = [];
    for (const [id, p] of [...link.pending]) {
      if (p.again === undefined) continue;
      this.#settle(link, id, p);
      resend.push(p);
    }
    this.#fail(link, new UnavailableError(`peer ${this.url}: it speaks tcp protocol 1`));
    for (const p of resend) p.again?.();
  }

  /**
   * logPeerVersion logs what the peer was found to speak, protocol 1 (`older`) or the
   * newest, when it differs from what it was last found to speak: once per change, not
   * once per connection.
   */
  #logPeerVersion(older: boolean): void {
    if (older === this.#olderPeer) return;
    this.#olderPeer = older;
    try {
      this.#config.logger.info(
        { peer: this.url },
        older
          ? 'peer speaks tcp protocol 1: batch gets go to it as one get per key'
          : `peer speaks tcp protocol ${PROTOCOL_VERSION} again: batch gets go to it in GET_MANY frames`,
      );
    } catch {
      // A failing logger changes nothing.
    }
  }

  #protocolError(link: Link, problem: string): void {
    try {
      this.#config.logger.warn({ peer: this.url, problem }, 'peer connection closed: bad answer');
    } catch {
      // A failing logger changes nothing.
    }
    this.#fail(link, new UnavailableError(`peer ${this.url}: malformed answer: ${problem}`));
  }

  #answer(link: Link, buf: Buffer, start: number, end: number): void {
    const type = buf[start];
    const id = buf.readUInt32BE(start + 1);
    const at = start + HEADER_BYTES;
    if (type === FrameType.Generation && end - at === GENERATION_BYTES) {
      // Kept for the answer of the same id, which comes next.
      link.generation = { id, value: buf.readDoubleBE(at) };
      return;
    }
    let generation: number | undefined;
    const sent = link.generation;
    if (sent !== undefined) {
      link.generation = undefined;
      if (sent.id === id) generation = parseGeneration(sent.value);
    }
    if (type !== FrameType.Response || end - at < 1) {
      this.#protocolError(link, `unexpected frame type ${type}`);
      return;
    }
    const status = buf[at] as number;
    if (status !== OK) {
      const code = codeOf(status);
      if (code === undefined) {
        this.#protocolError(link, `unknown status ${status}`);
        return;
      }
      const message = buf.toString('utf8', at + 1, end);
      const err = this.#errorOf(code, message);
      if (id === 0 && link.version >= BATCH_VERSION && unsupportedVersion(code, message)) {
        this.#speakOlder(link);
        return;
      }
      if (id === 0) {
        // The HELLO was refused: nothing on this connection will be answered.
        this.#refused(message);
        this.#fail(link, err);
        return;
      }
      const p = link.pending.get(id);
      if (p === undefined) return;
      this.#settle(link, id, p);
      p.reject(err);
      return;
    }
    if (id === 0) {
      // Version 2 on: the server accepted the HELLO, and takes GET_MANY.
      if (link.version < BATCH_VERSION || link.acked) {
        this.#protocolError(link, 'an OK answer to the HELLO');
        return;
      }
      link.acked = true;
      this.#logPeerVersion(false);
      const waiters = link.ackWaiters;
      link.ackWaiters = [];
      for (const waiter of waiters) waiter(true);
      return;
    }
    const p = link.pending.get(id);
    // Cancelled or timed out here: the answer crossed our CANCEL.
    if (p === undefined) return;
    if (p.type === FrameType.GetMany) {
      const entries = readGetManyAnswer(buf, at + 1, end, p.keys?.length ?? 0);
      if (typeof entries === 'string') {
        this.#protocolError(link, entries);
        return;
      }
      this.#settle(link, id, p);
      const answer: ManyAnswer = { entries, generation };
      p.resolve(answer);
      return;
    }
    if (p.type !== FrameType.Get) {
      if (end - at !== 1) {
        this.#protocolError(link, 'an OK answer with a body');
        return;
      }
      this.#settle(link, id, p);
      if (generation !== undefined) p.onGeneration?.(generation);
      p.resolve(undefined);
      return;
    }
    if (end - at < GET_OK_FIXED_BYTES) {
      this.#protocolError(link, 'a truncated GET answer');
      return;
    }
    const expireAt = buf.readDoubleBE(at + 1);
    const qps = buf.readDoubleBE(at + 9);
    const valueAt = at + GET_OK_FIXED_BYTES;
    if (end - valueAt > p.maxValueBytes) {
      this.#settle(link, id, p);
      p.reject(
        new TooLargeError(
          `peer ${this.url}: value of ${end - valueAt} bytes is over the limit of ${p.maxValueBytes}`,
        ),
      );
      return;
    }
    this.#settle(link, id, p);
    const got: PeerValue = {
      // A copy of its own: the frame is a view into a socket chunk shared with other answers.
      value: ownedCopy(buf.subarray(valueAt, end)),
      expireAt: Number.isFinite(expireAt) && expireAt > 0 ? Math.floor(expireAt) : 0,
      minuteQps: Number.isFinite(qps) && qps > 0 ? qps : 0,
      owned: true,
    };
    if (generation !== undefined) got.generation = generation;
    p.resolve(got);
  }
}

/** unsupportedVersion tells a server's refusal of the HELLO's protocol version. */
function unsupportedVersion(code: ErrorCode, message: string): boolean {
  return code === 'INVALID_ARGUMENT' && message.startsWith('unsupported protocol version');
}

/** resetSocket drops `socket` with a TCP reset (a TLS socket, which cannot, is destroyed). */
function resetSocket(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause ?? 'no connection');
}
