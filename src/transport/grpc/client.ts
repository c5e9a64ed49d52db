// client.ts: the gRPC peer client: one grpc-js channel per peer, calls with deadlines and
// cancellation, every failure mapped to a CacheError.
import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type ClientUnaryCall,
  Metadata,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import { decodeNodeStats, type NodeStats, type NodeStatsRequest } from '../../core/node-stats.js';
import {
  type CallOptions,
  type PeerClient,
  type PeerValue,
  parseGeneration,
} from '../../core/peers.js';
import {
  abortError,
  DeadlineExceededError,
  InvalidArgumentError,
  isCacheError,
  NotFoundError,
  UnavailableError,
} from '../../errors.js';
import { acceptedValueBytes, checkPeerValue } from '../../limits.js';
import {
  GetRequestSchema,
  RemoveRequestSchema,
  SetRequestSchema,
  StatsRequestSchema,
  type StatsResponse,
} from '../../proto/gen/groupcache_pb.js';
import { CLOSED_AFTER_HANDSHAKE } from '../../security/refusals.js';
import { AUTHORIZATION } from '../../security/secret.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import { StoppableCredentials } from './credentials.js';
import { groupCacheMethods, type UnaryMethod } from './service.js';
import { CLEAR_METADATA, errorFromStatus, GENERATION_METADATA } from './status.js';

// Room in a GetResponse for the field tags, the value's length, minute_qps and expire.
const getResponseOverhead = 64;
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
  }

  async get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    checkText(group, key);
    const request = create(GetRequestSchema, { group, key });
    let generation: number | undefined;
    const got = await this.#call(groupCacheMethods.get, 'Get', request, {
      ...options,
      onGeneration: (g) => {
        generation = g;
      },
    });
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    checkPeerValue(this.url, got.value.byteLength, limit);
    const qps = got.minuteQps;
    const value: PeerValue = {
      // A copy of its own: the decoded bytes are a view into grpc-js's frame buffer.
      value: new Uint8Array(got.value),
      expireAt: expireAtFromNanos(got.expire),
      minuteQps: Number.isFinite(qps) && qps > 0 ? qps : 0,
    };
    if (generation !== undefined) value.generation = generation;
    return value;
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
    await this.#call(groupCacheMethods.set, 'Set', request, options);
  }

  async remove(group: string, key: string, options?: CallOptions): Promise<void> {
    checkText(group, key);
    const request = create(RemoveRequestSchema, { group, key });
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
      const code = (err as { cause?: { code?: unknown } }).cause?.code;
      if (code === Status.UNIMPLEMENTED) {
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
    this.#credentials.stop();
    this.#client.close();
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
      const metadata = new Metadata();
      if (this.#config.authorization !== undefined) {
        metadata.set(AUTHORIZATION, this.#config.authorization);
      }
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
  #details(err: ServiceError): string {
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
    'grpc.max_receive_message_length': maxValueBytes + getResponseOverhead,
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
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch (err) {
    throw new InvalidArgumentError(`peer base URL is not a URL: ${JSON.stringify(baseUrl)}`, {
      cause: err,
    });
  }
  const secure = parsed.protocol === 'https:';
  if (!secure && parsed.protocol !== 'http:') {
    throw new InvalidArgumentError(`peer base URL must be http(s): ${JSON.stringify(baseUrl)}`);
  }
  const port = parsed.port === '' ? (secure ? '443' : '80') : parsed.port;
  // `hostname` keeps an IPv6 address's brackets, as grpc-js wants them.
  return { target: `${parsed.hostname}:${port}`, secure };
}

/** checkText refuses strings with no UTF-8 form, which protobuf would silently alter. */
function checkText(group: string, key: string): void {
  if (loneSurrogate.test(group) || loneSurrogate.test(key)) {
    throw new InvalidArgumentError('key or group is not valid Unicode (lone surrogate)');
  }
}
