// client.ts: the gRPC peer client: one grpc-js channel per peer, its requests on one Exchange
// stream (unary calls to a peer without it, which is tried again later), with deadlines and
// cancellation, every failure mapped to a CacheError.

import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type ClientUnaryCall,
  connectivityState as Connectivity,
  Metadata,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import { decodeNodeStats, type NodeStats, type NodeStatsRequest } from '../../core/node-stats.js';
import {
  type CallOptions,
  type PeerClient,
  type PeerGetManyResult,
  type PeerValue,
  parseGeneration,
} from '../../core/peers.js';
import {
  abortError,
  type CacheError,
  DeadlineExceededError,
  InvalidArgumentError,
  isCacheError,
  NotFoundError,
  toCacheError,
  UnavailableError,
} from '../../errors.js';
import { acceptedValueBytes, checkPeerValue } from '../../limits.js';
import {
  GetManyRequestSchema,
  type GetRequest,
  GetRequestSchema,
  type GetResponse,
  type KeyResult,
  RemoveRequestSchema,
  SetRequestSchema,
  StatsRequestSchema,
  type StatsResponse,
  type StreamRequest,
  type StreamResponse,
} from '../../proto/gen/groupcache_pb.js';
import { CLOSED_AFTER_HANDSHAKE } from '../../security/refusals.js';
import { AUTHORIZATION } from '../../security/secret.js';
import { peerEndpoint } from '../../util/address.js';
import type { Clock } from '../../util/clock.js';
import { splitBatch } from '../batches.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import { ownedCopy } from '../owned-copy.js';
import { StoppableCredentials } from './credentials.js';
import {
  answerGeneration,
  type ExchangeCall,
  isWhole,
  NoExchangeError,
  PeerStream,
  type PeerStreamStats,
  streamRequest,
} from './exchange-client.js';
import { groupCacheMethods, type UnaryMethod } from './service.js';
import { CLEAR_METADATA, errorFromStatus, GENERATION_METADATA } from './status.js';

// Room in an answer besides its values: a GetResponse's tags, lengths, minute_qps and expire, a
// stream batch's ids, a GetMany's other keys' errors.
const responseOverhead = 64 * 1024;
/** A peer without the Exchange stream is sent unary calls for this long before it is tried again. */
const STREAM_RETRY_MIN_MS = 30_000;
/** The wait before trying the stream again doubles after each refusal, up to this. */
const STREAM_RETRY_MAX_MS = 600_000;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** GrpcClientConfig is what every peer client of one transport shares. */
export interface GrpcClientConfig {
  /** How `http://` peers are dialled: in the clear. */
  insecure: ChannelCredentials;
  /** How `https://` peers are dialled: TLS, checked against the transport's CA. */
  secure: ChannelCredentials;
  /** The `authorization` metadata sent with every call (the peer secret), if any. */
  authorization: string | undefined;
  /** grpc-js channel options, already merged with the transport's defaults. */
  channelOptions: ChannelOptions;
  /** Bounds each call on top of the caller's deadline; `Infinity` for none. */
  requestTimeoutMs: number;
  /** Largest value accepted from a peer or sent to one. */
  maxValueBytes: number;
  /**
   * Whether requests go on the Exchange stream; false: unary calls only. A peer
   * without the stream is sent unary calls from its first UNIMPLEMENTED on, and
   * tried again after a backoff or once its connection is made again.
   */
  stream: boolean;
  /** The most requests in flight on one peer's stream; the rest wait for room. */
  maxStreamRequests: number;
  /** The most requests waiting for room on one peer's stream; past it calls fail UNAVAILABLE. */
  maxQueuedRequests: number;
  /** The most bytes of requests waiting to be written to one peer's stream; past it calls fail UNAVAILABLE. */
  maxQueuedBytes: number;
  /** A stream with nothing in flight for this long is closed (before the server's idle timeout). */
  streamIdleMs: number;
  /** Reads the time and runs the stream's timeouts. */
  clock: Clock;
}

/**
 * GrpcPeerClient is one peer's {@link PeerClient} over its own grpc-js channel,
 * dialled at the host and port of the peer's base URL (its ring identity).
 */
export class GrpcPeerClient implements PeerClient {
  readonly url: string;
  readonly #client: Client;
  readonly #config: GrpcClientConfig;
  readonly #credentials: StoppableCredentials;
  readonly #secure: boolean;
  /** The Exchange stream; undefined with `stream` off. */
  readonly #stream: PeerStream | undefined;
  /**
   * While the peer is known to have no Exchange stream, when to try it again
   * (ms since the epoch); requests go as unary calls until then. 0 once it has one.
   */
  #streamRetryAt = 0;
  /** The last wait set before trying the stream again; 0 once the stream answers. */
  #streamBackoffMs = 0;
  /** Whether the channel's state is watched for a connection made again. */
  #watching = false;
  /** Whether the peer answered GetMany UNIMPLEMENTED: its keys are asked one by one. */
  #noGetMany = false;
  /** The `authorization` metadata of every unary call and stream, made once. */
  readonly #metadata: Metadata;
  #closed = false;

  /**
   * The channel dials the URL's host and port with TLS for `https://`, in the
   * clear for `http://`. Throws InvalidArgumentError for a base URL that is neither.
   */
  constructor(baseUrl: string, config: GrpcClientConfig) {
    this.url = baseUrl;
    this.#config = config;
    const { target, secure } = targetOf(baseUrl);
    this.#secure = secure;
    this.#credentials = new StoppableCredentials(secure ? config.secure : config.insecure);
    this.#client = new Client(target, this.#credentials, config.channelOptions);
    this.#metadata = new Metadata();
    if (config.authorization !== undefined) this.#metadata.set(AUTHORIZATION, config.authorization);
    if (config.stream) {
      const method = groupCacheMethods.exchange;
      this.#stream = new PeerStream({
        url: baseUrl,
        open: () =>
          this.#client.makeBidiStreamRequest(
            method.path,
            method.requestSerialize,
            method.responseDeserialize,
            this.#metadata.clone(),
          ) as ExchangeCall,
        details: (status) => this.#details(status),
        maxStreamRequests: config.maxStreamRequests,
        maxQueuedRequests: config.maxQueuedRequests,
        maxQueuedBytes: config.maxQueuedBytes,
        idleMs: config.streamIdleMs,
        clock: config.clock,
      });
    }
  }

  /** streamStats tells what is on the Exchange stream and waiting for it; undefined with `stream` off. */
  streamStats(): PeerStreamStats | undefined {
    return this.#stream?.stats();
  }

  /** streaming tells whether the next request goes on the Exchange stream. */
  get streaming(): boolean {
    return this.#exchange() !== undefined;
  }

  async get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    checkText(group, key);
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    const stream = this.#exchange();
    if (stream !== undefined) {
      const deadline = this.#deadline(options, 'Get');
      const get: GetRequest = { $typeName: 'groupcachepb.GetRequest', group, key };
      const request = streamRequest({ case: 'get', value: get }, options);
      try {
        const [answer] = await stream.send(request, 1, deadline, options);
        if (this.#streamBackoffMs !== 0) this.#streamAnswered();
        const value = this.#peerValue(this.#result(answer!, 'Get'), limit);
        const generation = answerGeneration(answer!);
        if (generation !== undefined) value.generation = generation;
        return value;
      } catch (err) {
        if (!this.#noExchange(err)) throw err;
      }
    }
    const request = create(GetRequestSchema, { group, key });
    let generation: number | undefined;
    const got = await this.#call(groupCacheMethods.get, 'Get', request, {
      ...options,
      onGeneration: (g) => {
        generation = g;
      },
    });
    const value = this.#peerValue(got, limit);
    if (generation !== undefined) value.generation = generation;
    return value;
  }

  /**
   * getMany asks for many keys of `group` at once: on the stream as one request
   * answered key by key, else with one GetMany call (one Get per key, all at
   * once, for a peer without it). Each key maps to its value or its error.
   */
  async getMany(
    group: string,
    keys: readonly string[],
    options?: CallOptions,
  ): Promise<PeerGetManyResult> {
    for (const key of keys) checkText(group, key);
    const batches = splitBatch(keys);
    if (batches.length <= 1) return this.#getBatch(group, keys, options);
    // Past the servers' batch limits: several requests, at once, merged in the order of the keys.
    const answers = await Promise.all(batches.map((b) => this.#getBatch(group, b, options)));
    const out: PeerGetManyResult = new Map();
    for (const answer of answers) for (const [key, value] of answer) out.set(key, value);
    return out;
  }

  /** getBatch is getMany of keys within the servers' batch limits. */
  async #getBatch(
    group: string,
    keys: readonly string[],
    options: CallOptions | undefined,
  ): Promise<PeerGetManyResult> {
    const out: PeerGetManyResult = new Map();
    if (keys.length === 0) return out;
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    const stream = this.#exchange();
    if (stream !== undefined) {
      const deadline = this.#deadline(options, 'GetMany');
      const value = create(GetManyRequestSchema, { group, keys: [...keys] });
      const request = streamRequest({ case: 'getMany', value }, options);
      try {
        const answers = await stream.send(request, keys.length, deadline, options);
        if (this.#streamBackoffMs !== 0) this.#streamAnswered();
        // An error for the whole request (no index) fails it whole.
        const whole = answers.find(isWhole);
        if (whole !== undefined) this.#result(whole, 'GetMany');
        // In the order of the keys, whatever the order of the answers.
        const byIndex: (PeerValue | CacheError | undefined)[] = new Array(keys.length);
        for (const answer of answers) {
          const index = answer.index;
          if (index < keys.length) {
            byIndex[index] = this.#settledValue(answer.result, limit, answerGeneration(answer));
          }
        }
        keys.forEach((key, i) => {
          out.set(
            key,
            byIndex[i] ?? new UnavailableError(`peer ${this.url}: GetMany: no answer for a key`),
          );
        });
        return out;
      } catch (err) {
        if (!this.#noExchange(err)) throw err;
      }
    }
    if (!this.#noGetMany) {
      const request = create(GetManyRequestSchema, { group, keys: [...keys] });
      try {
        // The answer's metadata carries one generation for all its values: the oldest.
        let generation: number | undefined;
        const got = await this.#call(groupCacheMethods.getMany, 'GetMany', request, {
          ...options,
          onGeneration: (g) => {
            generation = g;
          },
        });
        keys.forEach((key, i) => {
          const result = got.results[i]?.result;
          out.set(
            key,
            result === undefined
              ? new UnavailableError(`peer ${this.url}: GetMany: no answer for a key`)
              : this.#settledValue(result, limit, generation),
          );
        });
        return out;
      } catch (err) {
        if (statusCode(err) !== Status.UNIMPLEMENTED) throw err;
        this.#noGetMany = true;
      }
    }
    const settled = await Promise.allSettled(keys.map((key) => this.get(group, key, options)));
    keys.forEach((key, i) => {
      const result = settled[i]!;
      out.set(key, result.status === 'fulfilled' ? result.value : toCacheError(result.reason));
    });
    return out;
  }

  async set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void> {
    checkText(group, key);
    const limit = this.#config.maxValueBytes;
    checkPeerValue(this.url, value.byteLength, limit);
    const request = create(SetRequestSchema, { group, key, value });
    const expire = nanosFromExpireAt(expireAt);
    if (expire !== 0n) request.expire = expire;
    if (await this.#streamed({ case: 'set', value: request }, 'Set', options)) return;
    await this.#call(groupCacheMethods.set, 'Set', request, options);
  }

  async remove(group: string, key: string, options?: CallOptions): Promise<void> {
    checkText(group, key);
    const request = create(RemoveRequestSchema, { group, key });
    if (await this.#streamed({ case: 'remove', value: request }, 'Remove', options)) return;
    await this.#call(groupCacheMethods.remove, 'Remove', request, options);
  }

  /**
   * clear sends the clear notice of `group` at `generation`: a Remove with an empty
   * key and {@link CLEAR_METADATA}. A peer that predates it refuses the empty key: a
   * NotFoundError, a peer that does not know the call.
   */
  async clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    checkText(group, '');
    const request = create(RemoveRequestSchema, { group, key: '' });
    try {
      await this.#call(groupCacheMethods.remove, 'Clear', request, options, generation);
    } catch (err) {
      if (isCacheError(err, 'INVALID_ARGUMENT') && err.message.includes('empty key')) {
        throw new NotFoundError(`peer ${this.url} has no clear call`, { cause: err, remote: true });
      }
      throw err;
    }
  }

  /**
   * nodeStats calls GroupCache/Stats. A peer without the method answers
   * UNIMPLEMENTED: a NotFoundError.
   */
  async nodeStats(request: NodeStatsRequest, options?: CallOptions): Promise<NodeStats> {
    if (request.key !== undefined || request.group !== undefined) {
      checkText(request.group ?? '', request.key ?? '');
    }
    const message = create(StatsRequestSchema, {});
    if (request.group !== undefined) message.group = request.group;
    if (request.key !== undefined) message.key = request.key;
    let answer: StatsResponse;
    try {
      answer = await this.#call(groupCacheMethods.stats, 'Stats', message, options);
    } catch (err) {
      if (statusCode(err) === Status.UNIMPLEMENTED) {
        throw new NotFoundError(`peer ${this.url} has no stats call`, { cause: err, remote: true });
      }
      throw err;
    }
    try {
      return decodeNodeStats(answer.json);
    } catch (err) {
      throw new UnavailableError(`peer ${this.url}: malformed stats answer`, { cause: err });
    }
  }

  /**
   * close closes the channel, which then never dials the peer again; later
   * calls fail with UnavailableError. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream?.close();
    this.#credentials.stop();
    this.#client.close();
  }

  /**
   * streamed sends a Set or Remove on the stream: true once done, false when
   * the peer has no stream (the caller makes the unary call); fails as the
   * unary call would.
   */
  async #streamed(
    op: StreamRequest['op'],
    name: string,
    options: CallOptions | undefined,
  ): Promise<boolean> {
    const stream = this.#exchange();
    if (stream === undefined) return false;
    const deadline = this.#deadline(options, name);
    const request = streamRequest(op, options);
    try {
      const [answer] = await stream.send(request, 1, deadline, options);
      if (this.#streamBackoffMs !== 0) this.#streamAnswered();
      const result = answer!.result;
      if (result.case === 'error') this.#result(answer!, name);
      // The answer carries the peer's generation of the group, once it is not 0.
      const generation = answerGeneration(answer!);
      if (generation !== undefined) options?.onGeneration?.(generation);
      return true;
    } catch (err) {
      if (this.#noExchange(err)) return false;
      throw err;
    }
  }

  /**
   * deadline is a request's deadline: the earlier of the caller's and the
   * request timeout. Throws CancelledError for a caller that has already
   * aborted, DeadlineExceededError for a deadline passed, and UnavailableError
   * once the client is closed: nothing is sent.
   */
  #deadline(options: CallOptions | undefined, name: string): number {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal);
    if (this.#closed) throw new UnavailableError(`peer ${this.url}: the transport is closed`);
    const now = this.#config.clock.now();
    const deadline = Math.min(options?.deadline ?? Infinity, now + this.#config.requestTimeoutMs);
    if (deadline <= now) {
      throw new DeadlineExceededError(`peer ${this.url}: ${name}: the deadline has passed`);
    }
    return deadline;
  }

  /** exchange is the stream to send a request on, or undefined for a unary call. */
  #exchange(): PeerStream | undefined {
    const retryAt = this.#streamRetryAt;
    if (retryAt !== 0 && this.#config.clock.now() < retryAt) return undefined;
    return this.#stream;
  }

  /**
   * noExchange tells whether `err` is the peer having no Exchange method (the
   * caller then makes a unary call). The first such answer since the stream was
   * last tried makes this client send unary calls for a backoff, 30 s doubling
   * up to 10 minutes, after which (or once the connection to the peer is made
   * again: a peer upgraded in a rolling restart) the next requests try the stream
   * again; those in flight at the refusal fail here too and are not counted twice.
   */
  #noExchange(err: unknown): boolean {
    if (!(err instanceof NoExchangeError)) return false;
    const now = this.#config.clock.now();
    if (now >= this.#streamRetryAt) {
      const last = this.#streamBackoffMs;
      this.#streamBackoffMs =
        last === 0 ? STREAM_RETRY_MIN_MS : Math.min(last * 2, STREAM_RETRY_MAX_MS);
      this.#streamRetryAt = now + this.#streamBackoffMs;
      this.#watchReconnect();
    }
    return true;
  }

  /** streamAnswered ends the backoff once the stream answers: the peer has it. */
  #streamAnswered(): void {
    this.#streamBackoffMs = 0;
    this.#streamRetryAt = 0;
  }

  /**
   * watchReconnect follows the channel's state while the peer is sent unary
   * calls: a connection lost and made again may be to the same address served
   * by a new process, so the stream is tried on the next request instead of at
   * the end of the backoff. It stops at the first change after the stream
   * answers, or when the channel closes.
   */
  #watchReconnect(): void {
    if (this.#watching || this.#closed) return;
    this.#watching = true;
    const channel = this.#client.getChannel();
    let lost = false;
    const watch = (state: Connectivity) => {
      channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, () => {
        if (this.#closed || this.#streamBackoffMs === 0) {
          this.#watching = false;
          return;
        }
        const next = channel.getConnectivityState(false);
        if (next !== Connectivity.READY) {
          lost = true;
        } else if (lost) {
          lost = false;
          this.#streamRetryAt = 0;
        }
        watch(next);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  /** result is an answer's value; throws the CacheError of an answer that is an error. */
  #result(answer: StreamResponse, name: string): GetResponse {
    const { result } = answer;
    if (result.case === 'value') return result.value;
    if (result.case === 'error') {
      throw errorFromStatus(this.url, name, result.value.code, result.value.message);
    }
    throw new UnavailableError(`peer ${this.url}: ${name}: an answer with no value`);
  }

  /**
   * settledValue is one key's answer of a GetMany: its value, found under `generation`
   * when the answer carried one, or the error of its Get.
   */
  #settledValue(
    result: KeyResult['result'],
    limit: number,
    generation: number | undefined,
  ): PeerValue | CacheError {
    if (result.case === 'error') {
      return errorFromStatus(this.url, 'GetMany', result.value.code, result.value.message);
    }
    if (result.case !== 'value') {
      return new UnavailableError(`peer ${this.url}: GetMany: an answer with no value`);
    }
    try {
      const value = this.#peerValue(result.value, limit);
      if (generation !== undefined) value.generation = generation;
      return value;
    } catch (err) {
      return toCacheError(err);
    }
  }

  /** peerValue checks a GetResponse's value against `limit` and copies it out of grpc-js's buffer. */
  #peerValue(got: GetResponse, limit: number): PeerValue {
    checkPeerValue(this.url, got.value.byteLength, limit);
    const qps = got.minuteQps;
    return {
      // A copy of its own: the decoded bytes are a view into grpc-js's frame buffer.
      value: ownedCopy(got.value),
      expireAt: expireAtFromNanos(got.expire),
      minuteQps: Number.isFinite(qps) && qps > 0 ? qps : 0,
      owned: true,
    };
  }

  /**
   * call makes one unary call with the earlier of the caller's deadline and the
   * request timeout (grpc-js sends it as `grpc-timeout`, so the peer stops
   * waiting too). The caller's signal cancels the call and rejects at once.
   */
  #call<I extends DescMessage, O extends DescMessage>(
    method: UnaryMethod<I, O>,
    name: string,
    request: MessageShape<I>,
    options: CallOptions | undefined,
    clearing?: number,
  ): Promise<MessageShape<O>> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#closed) {
      return Promise.reject(new UnavailableError(`peer ${this.url}: the transport is closed`));
    }
    const now = Date.now();
    const deadline = Math.min(options?.deadline ?? Infinity, now + this.#config.requestTimeoutMs);
    if (deadline <= now) {
      return Promise.reject(
        new DeadlineExceededError(`peer ${this.url}: ${name}: the deadline has passed`),
      );
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      let call: ClientUnaryCall | undefined;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        reject(abortError(signal!));
        call?.cancel();
      };
      // Not aborted yet (checked above), and only the caller can abort it: nothing fires
      // before the call exists.
      signal?.addEventListener('abort', onAbort, { once: true });
      const onDone = (err: ServiceError | null, response?: MessageShape<O>) => {
        signal?.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        if (err) reject(errorFromStatus(this.url, name, err.code, this.#details(err), err));
        else if (response === undefined) {
          reject(new UnavailableError(`peer ${this.url}: ${name}: no response message`));
        } else resolve(response);
      };
      const metadata = this.#metadata.clone();
      // The caller's trace context (tracing on), as OpenTelemetry's gRPC instrumentation sends it.
      if (options?.traceparent !== undefined) metadata.set('traceparent', options.traceparent);
      if (options?.generation) metadata.set(GENERATION_METADATA, String(options.generation));
      if (clearing !== undefined) metadata.set(CLEAR_METADATA, String(clearing));
      try {
        call = this.#client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          { deadline },
          onDone,
        );
        // The answer's initial metadata carries the peer's generation, once it is not 0.
        const onGeneration = options?.onGeneration;
        if (onGeneration !== undefined) {
          call.on('metadata', (answer: Metadata) => {
            const g = parseGeneration(answer.get(GENERATION_METADATA)[0]);
            if (g !== undefined) onGeneration(g);
          });
        }
      } catch (err) {
        signal?.removeEventListener('abort', onAbort);
        settled = true;
        const message = err instanceof Error ? err.message : String(err);
        reject(
          new UnavailableError(`peer ${this.url}: ${name} failed: ${message}`, { cause: err }),
        );
      }
    });
  }

  /**
   * details are a failed call's details, with the likely reason when grpc-js
   * gives none: over TLS, a connection closed before HTTP/2 began is how a
   * peer refuses this node's client certificate.
   */
  #details(err: { code: Status; details: string }): string {
    if (
      this.#secure &&
      err.code === Status.UNAVAILABLE &&
      err.details.includes('Failed to connect')
    ) {
      return `${err.details.replace(/\. Resolution note: $/, '')}: ${CLOSED_AFTER_HANDSHAKE}`;
    }
    return err.details;
  }
}

/** clientChannelOptions are the channel options the transport sets for `maxValueBytes`. */
export function clientChannelOptions(maxValueBytes: number): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxValueBytes + responseOverhead,
    // Sets are checked against maxValueBytes before sending; the peer enforces its own limit.
    'grpc.max_send_message_length': -1,
    // Each transport owns its connections: two nodes in one process don't share them,
    // and closing one transport closes its own.
    'grpc.use_local_subchannel_pool': 1,
    // A peer that was down is retried within seconds, not grpc-js's default two minutes.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 5_000,
  };
}

/**
 * targetOf turns a peer base URL `http(s)://host:port` into the `host:port` a
 * channel dials, and whether to dial it with TLS.
 */
function targetOf(baseUrl: string): { target: string; secure: boolean } {
  const { parsed, port, secure } = peerEndpoint(baseUrl);
  // `hostname` keeps an IPv6 address's brackets, as grpc-js wants them.
  return { target: `${parsed.hostname}:${port}`, secure };
}

/** checkText refuses strings with no UTF-8 form, which protobuf would silently alter. */
function checkText(group: string, key: string): void {
  if (loneSurrogate.test(group) || loneSurrogate.test(key)) {
    throw new InvalidArgumentError('key or group is not valid Unicode (lone surrogate)');
  }
}

/** statusCode is the gRPC status of a failed unary call, when its error carries one. */
function statusCode(err: unknown): unknown {
  return (err as { cause?: { code?: unknown } }).cause?.code;
}
