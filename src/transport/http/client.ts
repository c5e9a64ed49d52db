// client.ts: the HTTP peer client, speaking golang/groupcache's wire protocol over undici.

import { createRequire } from 'node:module';
import type { Dispatcher, Pool } from 'undici';
import {
  decodeNodeStats,
  MAX_NODE_STATS_BYTES,
  type NodeStats,
  type NodeStatsRequest,
} from '../../core/node-stats.js';
import { PROBE_GROUP } from '../../core/peer-health.js';
import type { CallOptions, PeerClient, PeerValue } from '../../core/peers.js';
import {
  abortError,
  CacheError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  TooLargeError,
  UnauthenticatedError,
  UnavailableError,
} from '../../errors.js';
import { acceptedValueBytes, checkPeerValue, DEFAULT_WIRE_MAX_VALUE_BYTES } from '../../limits.js';
import type { GetResponse } from '../../proto/gen/groupcache_pb.js';
import { CLOSED_AFTER_HANDSHAKE } from '../../security/refusals.js';
import { AUTHORIZATION, bearer, checkSecret } from '../../security/secret.js';
import { resolveTls, type TlsOptions } from '../../security/tls.js';
import { peerEndpoint } from '../../util/address.js';
import { escapePathSegment } from '../../util/path-escape.js';
import { clientCache } from '../clients.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import { ownedCopy } from '../owned-copy.js';
import type { Codec } from './codec.js';
import {
  batchKeys,
  type DialectRules,
  dialectRules,
  encodeRemoveKeys,
  type HttpDialect,
  REMOVE_KEYS_SEGMENT,
} from './dialect.js';
import { type Answer, Exchange } from './exchange.js';
import {
  CLEAR_PATH,
  DEFAULT_BASE_PATH,
  GENERATION_HEADER,
  MAX_TIMEOUT_HEADER_MS,
  STATS_PATH,
  TIMEOUT_HEADER,
  TRACEPARENT,
} from './wire.js';

const defaultConnections = 64;
const defaultRequestTimeoutMs = 10_000;
// Room for GetResponse's field tags, the value's length, minute_qps and expire.
const getResponseOverhead = 64;

/** HttpTransportOptions configures {@link createHttpTransport}. */
export interface HttpTransportOptions {
  /**
   * dialect is the Go lineage whose wire the cluster speaks, the same on every
   * node: `'golang'` (golang/groupcache; peercache's own), `'mailgun'`
   * (mailgun/groupcache v2) or `'groupcache-go'` (groupcache-go v3, which adds
   * the batch `_remove-keys`). It decides what an error status means (see
   * docs/protocol.md) and whether `removeMany` is one request or one per key.
   * Defaults to `'golang'`.
   */
  dialect?: HttpDialect | undefined;
  /**
   * basePath is the URL path prefix peers serve under; it must start and end
   * with `/`. Defaults to `'/_groupcache/'`.
   */
  basePath?: string;
  /**
   * dispatcher sends the requests: supply your own undici Dispatcher (an Agent,
   * a ProxyAgent, one composed with interceptors for tracing or TLS). The
   * transport never closes a dispatcher it was given, so a released client's
   * idle connections then last until the dispatcher's keep-alive timeout.
   * Defaults to an undici Pool per peer owned by the transport (keep-alive, no
   * pipelining), closed when the peer's client is released.
   */
  dispatcher?: Dispatcher;
  /**
   * connections bounds the sockets the default Pool opens to each peer, each
   * carrying one request at a time (no pipelining); requests beyond it wait in
   * line, each still ended by its own deadline or signal. Ignored when
   * `dispatcher` is given. Defaults to 64.
   */
  connections?: number;
  /**
   * requestTimeoutMs bounds each whole request (waiting for a socket, sending,
   * the peer's load, reading the body), in addition to the caller's signal and
   * deadline; passing either fails the call with DeadlineExceededError. The
   * earlier of the two is sent to the peer as the `Peercache-Timeout` header.
   * `Infinity` disables it. Defaults to 10 000.
   */
  requestTimeoutMs?: number;
  /**
   * maxValueBytes is the ceiling of a value accepted from a peer; each get is
   * held to its caller's `maxValueBytes` (its group's limit) within it. Larger
   * responses fail with TooLargeError without being read to the end.
   * Defaults to 256 MiB.
   */
  maxValueBytes?: number;
  /**
   * tls sets how `https://` peers are dialled: their certificates must chain to
   * `tls.ca`, and `tls.cert`/`tls.key` are presented to peers that ask for a
   * client certificate (mutual TLS). `http://` peers are dialled in the clear.
   * Ignored when `dispatcher` is given (configure its `connect` options
   * instead). Default: none (`https://` peers are checked against Node's
   * public roots).
   */
  tls?: TlsOptions | undefined;
  /**
   * peerSecret is sent on every request as `Authorization: Bearer <secret>`;
   * peers configured with the same secret refuse requests without it (401,
   * which the client reports as UnauthenticatedError). Without TLS it crosses
   * the network in the clear. Visible ASCII, no spaces. Default: none.
   */
  peerSecret?: string | undefined;
}

/** HttpTransport hands out {@link PeerClient}s that share one dispatcher. */
export interface HttpTransport {
  /**
   * client returns the PeerClient for the peer at `baseUrl` (e.g.
   * `'http://127.0.0.1:8001'`, the peer's identity on the ring). Clients are
   * cached: the same URL gives the same client, until its `close()` releases
   * it (closing its connections; the next call makes a fresh one). Throws
   * InvalidArgumentError for a URL that is not http(s).
   */
  client(baseUrl: string): PeerClient & { close(): void };
  /**
   * close closes the connections the transport owns, after in-flight requests
   * end; a dispatcher passed in options is left open (and its clients usable).
   * Calling it again is a no-op.
   */
  close(): Promise<void>;
}

interface ClientConfig {
  /** The dispatcher passed in options; without one, each client has a Pool of its own. */
  dispatcher: Dispatcher | undefined;
  /** The options of each client's own Pool. */
  pool: Pool.Options;
  basePath: string;
  dialect: DialectRules;
  requestTimeoutMs: number;
  maxValueBytes: number;
  /** The `Authorization` value sent with every request, if any. */
  authorization: string | undefined;
}

/** Resolves `undici` from this module, for {@link undici}. */
const requireHere = createRequire(import.meta.url);

/**
 * undici loads undici when the first client needs a Pool, not when this module
 * loads: a node with no peers (a local cache) never pays for it. Node's module
 * cache makes later calls a lookup.
 */
function undici(): typeof import('undici') {
  return requireHere('undici') as typeof import('undici');
}

/**
 * createHttpTransport builds the HTTP peer transport: each client sends
 * `GET`/`PUT`/`DELETE {baseUrl}{basePath}{group}/{key}` as golang/groupcache (and
 * its mailgun v2 extensions) expect, in the groupcache-go dialect also `POST
 * {group}/_remove-keys/`, and maps every failure to a CacheError as its dialect says.
 * Throws InvalidArgumentError on a bad option.
 */
export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  const dialect = dialectRules(options.dialect);
  const basePath = options.basePath ?? DEFAULT_BASE_PATH;
  if (!basePath.startsWith('/') || !basePath.endsWith('/')) {
    throw new InvalidArgumentError(
      `basePath must start and end with '/': ${JSON.stringify(basePath)}`,
    );
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
  if (!(requestTimeoutMs > 0)) {
    throw new InvalidArgumentError(`requestTimeoutMs must be positive: ${requestTimeoutMs}`);
  }
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_WIRE_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 0) {
    throw new InvalidArgumentError(
      `maxValueBytes must be a non-negative integer: ${maxValueBytes}`,
    );
  }
  const connections = options.connections ?? defaultConnections;
  if (!Number.isSafeInteger(connections) || connections < 1) {
    throw new InvalidArgumentError(`connections must be a positive integer: ${connections}`);
  }

  const secret = checkSecret('peerSecret', options.peerSecret);
  const tls = resolveTls(options.tls);

  const config: ClientConfig = {
    dispatcher: options.dispatcher,
    pool: {
      connections,
      // No pipelining. HTTP/1.1 answers a connection's requests in order, so a hit
      // pipelined behind a slow load would wait for it (a Go owner even serves them one
      // after another); and at 64 in flight, 16 connections of 4 or 8 of 8 cost both the
      // client and the owner more CPU per get than 64 of 1 (undici writes each request
      // by itself all the same).
      pipelining: 1,
      // Applied to https:// origins only; `key` and `cert` answer a server's request for a
      // client certificate.
      ...(tls !== undefined ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}),
    },
    basePath,
    dialect,
    requestTimeoutMs,
    maxValueBytes,
    authorization: secret === undefined ? undefined : bearer(secret),
  };
  const clients = clientCache((url) => new HttpPeerClient(url, config));
  let closing: Promise<void> | undefined;

  return {
    client: (baseUrl) => clients.get(baseUrl),
    close() {
      closing ??= options.dispatcher === undefined ? clients.closeAll() : Promise.resolve();
      return closing;
    },
  };
}

/**
 * HttpPeerClient is one peer's {@link PeerClient}: requests go through the
 * transport's dispatcher if it was given one, else through a Pool of its own.
 */
class HttpPeerClient implements PeerClient {
  readonly url: string;
  readonly #origin: string;
  readonly #pathPrefix: string;
  readonly #config: ClientConfig;
  readonly #dispatcher: Dispatcher;
  /** The Pool this client owns (none with a dispatcher from options). */
  readonly #pool: Pool | undefined;
  /** The protobuf messages, once the first request has imported them. */
  #codec: Codec | undefined;
  #closing: Promise<void> | undefined;

  constructor(baseUrl: string, config: ClientConfig) {
    const { parsed } = peerEndpoint(baseUrl);
    this.url = baseUrl;
    this.#origin = parsed.origin;
    this.#pathPrefix = parsed.pathname.replace(/\/+$/, '') + config.basePath;
    this.#config = config;
    this.#pool =
      config.dispatcher === undefined ? new (undici().Pool)(this.#origin, config.pool) : undefined;
    this.#dispatcher = config.dispatcher ?? (this.#pool as Pool);
  }

  /** #loadCodec imports the protobuf messages, once per client: the first request pays for them. */
  async #loadCodec(): Promise<Codec> {
    this.#codec = await import('./codec.js');
    return this.#codec;
  }

  /**
   * close closes the client's own Pool once its requests in flight have ended;
   * later calls fail with UnavailableError. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#pool === undefined ? Promise.resolve() : this.#pool.close();
    return this.#closing;
  }

  async get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    const limit = acceptedValueBytes(this.#config.maxValueBytes, options);
    // A probe of a groupcache-go peer asks for a path it refuses before looking up the group.
    const path =
      group === PROBE_GROUP && this.#config.dialect.probeWithoutKey
        ? escapePathSegment(group)
        : keyPath(group, key);
    const answer = await this.#call('GET', path, undefined, options, limit + getResponseOverhead);
    const bytes = answer.body;
    let message: GetResponse;
    try {
      message = (this.#codec ?? (await this.#loadCodec())).decodeGetResponse(bytes);
    } catch (err) {
      throw new UnavailableError(`peer ${this.url}: malformed GetResponse`, { cause: err });
    }
    checkPeerValue(this.url, message.value.byteLength, limit);
    const qps = message.minuteQps;
    const got: PeerValue = {
      // A copy of its own: `bytes` may be a view into the socket's read buffer, shared with
      // other answers.
      value: ownedCopy(message.value),
      expireAt: expireAtFromNanos(message.expire),
      minuteQps: Number.isFinite(qps) && qps > 0 ? qps : 0,
      owned: true,
    };
    if (answer.generation !== undefined) got.generation = answer.generation;
    return got;
  }

  async set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void> {
    const codec = this.#codec ?? (await this.#loadCodec());
    const body = codec.encodeSetRequest(group, key, value, nanosFromExpireAt(expireAt));
    await this.#call('PUT', keyPath(group, key), protobuf(body), options, 0);
  }

  async remove(group: string, key: string, options?: CallOptions): Promise<void> {
    await this.#call('DELETE', keyPath(group, key), undefined, options, 0);
  }

  /**
   * clear sends the clear notice of `group` at `generation`: `DELETE
   * {basePath}_peercache/clear/{group}` (see {@link CLEAR_PATH}). A Go peer answers 404
   * (no such group): that is a NotFoundError, a peer that does not know the call.
   */
  async clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    await this.#call(
      'DELETE',
      `${CLEAR_PATH}${escapePathSegment(group)}`,
      undefined,
      { ...options, generation },
      0,
      (status, text) =>
        status === 404
          ? new NotFoundError(`peer ${this.url} has no clear call (${text})`, { remote: true })
          : statusError(this.url, 'DELETE', status, text, this.#config.dialect),
    );
  }

  /**
   * nodeStats asks `GET {basePath}_peercache/stats[?group=G&key=K]`. A Go
   * groupcache peer has no such path (it answers 404, no such group): that is a
   * NotFoundError.
   */
  async nodeStats(request: NodeStatsRequest, options?: CallOptions): Promise<NodeStats> {
    const query = new URLSearchParams();
    if (request.group !== undefined) query.set('group', request.group);
    if (request.key !== undefined) query.set('key', request.key);
    const q = query.toString();
    const { body: bytes } = await this.#call(
      'GET',
      `${STATS_PATH}${q === '' ? '' : `?${q}`}`,
      undefined,
      options,
      MAX_NODE_STATS_BYTES,
      (status, text) =>
        status === 404
          ? new NotFoundError(`peer ${this.url} has no stats call (${text})`, { remote: true })
          : statusError(this.url, 'GET', status, text, this.#config.dialect),
    );
    try {
      return decodeNodeStats(bytes);
    } catch (err) {
      throw new UnavailableError(`peer ${this.url}: malformed stats answer`, { cause: err });
    }
  }

  /**
   * removeMany drops `keys` at the peer: in the groupcache-go dialect with
   * `POST {group}/_remove-keys/` (one request, or one per MiB of keys), in the
   * others with one DELETE per key, all at once. Fails with the first failure,
   * once every request has settled.
   */
  async removeMany(group: string, keys: readonly string[], options?: CallOptions): Promise<void> {
    const removeKeysPath = `${escapePathSegment(group)}/${REMOVE_KEYS_SEGMENT}`;
    const requests = this.#config.dialect.removeKeys
      ? batchKeys(group, keys).map((batch) =>
          this.#call(
            'POST',
            removeKeysPath,
            { bytes: encodeRemoveKeys(group, batch), type: 'application/json' },
            options,
            0,
          ),
        )
      : keys.map((key) => this.remove(group, key, options));
    const results = await Promise.allSettled(requests);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  /**
   * call sends one request through undici's `dispatch` and answers with a 200's
   * body (kept only when `bodyLimit` is not 0, and refused past it); any other
   * status, network failure, abort or timeout becomes a CacheError.
   */
  async #call(
    method: 'GET' | 'PUT' | 'DELETE' | 'POST',
    pathTail: string,
    body: RequestBody | undefined,
    options: CallOptions | undefined,
    bodyLimit: number,
    onStatus: (status: number, text: string) => CacheError = (status, text) =>
      statusError(this.url, method, status, text, this.#config.dialect),
  ): Promise<Answer> {
    const callerSignal = options?.signal;
    if (callerSignal?.aborted) throw abortError(callerSignal);
    if (this.#closing !== undefined) {
      throw new UnavailableError(`peer ${this.url}: the client is closed`);
    }

    // The call waits until the earlier of the caller's deadline and our own
    // timeout, and tells the peer how long that is, so the owner stops waiting
    // at the same time.
    const requestTimeoutMs = this.#config.requestTimeoutMs;
    const leftMs = options?.deadline === undefined ? Infinity : options.deadline - Date.now();
    if (leftMs <= 0) {
      throw new DeadlineExceededError(`peer ${this.url}: ${method}: the deadline has passed`);
    }
    const timeoutMs = Math.min(requestTimeoutMs, leftMs);
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = body.type;
    if (this.#config.authorization) headers[AUTHORIZATION] = this.#config.authorization;
    if (timeoutMs <= MAX_TIMEOUT_HEADER_MS) headers[TIMEOUT_HEADER] = String(Math.ceil(timeoutMs));
    // The W3C trace context of the caller's span (tracing on), as OpenTelemetry's HTTP
    // instrumentation sends it: the peer's spans join the caller's trace.
    if (options?.traceparent !== undefined) headers[TRACEPARENT] = options.traceparent;
    if (options?.generation) headers[GENERATION_HEADER] = String(options.generation);

    const exchange = new Exchange({
      peer: this.url,
      bodyLimit,
      timeoutMs,
      onTimeout: () =>
        new DeadlineExceededError(
          leftMs < requestTimeoutMs
            ? `peer ${this.url}: the caller's deadline passed (${Math.ceil(leftMs)} ms)`
            : `peer ${this.url}: no answer within ${requestTimeoutMs} ms`,
        ),
      signal: callerSignal,
      onAbort: () => abortError(callerSignal as AbortSignal),
    });
    try {
      this.#dispatcher.dispatch(
        {
          origin: this.#origin,
          path: `${this.#pathPrefix}${pathTail}`,
          method,
          body: body?.bytes ?? null,
          headers,
        },
        exchange,
      );
    } catch (err) {
      // undici reports failures to the handler; a dispatcher of the caller's may throw.
      exchange.fail(err instanceof Error ? err : new Error(String(err)));
    }
    let answer: Answer;
    try {
      answer = await exchange.promise;
    } catch (err) {
      if (err instanceof CacheError) throw err;
      throw networkError(this.url, method, err);
    }
    if (answer.status !== 200) throw onStatus(answer.status, answer.text);
    if (answer.generation !== undefined) options?.onGeneration?.(answer.generation);
    return answer;
  }
}

/** RequestBody is a request's body and its Content-Type. */
interface RequestBody {
  bytes: Uint8Array;
  type: string;
}

/** keyPath is the part of a key's URL after the base path: `{group}/{key}`, each escaped. */
function keyPath(group: string, key: string): string {
  return `${escapePathSegment(group)}/${escapePathSegment(key)}`;
}

/** protobuf labels a protobuf message as a request body. */
function protobuf(bytes: Uint8Array): RequestBody {
  return { bytes, type: 'application/x-protobuf' };
}

/**
 * statusError maps a peer's non-200 answer to a CacheError. The peer's own
 * answers — a key's 404, 400, 413/414, 401/403, a 504, and the status the
 * dialect gives a loader's failure (golang: 500, as golang/groupcache answers
 * every loader error; mailgun and groupcache-go: 503) — are marked `remote`:
 * the caller takes them as the answer and does not load the key itself. A 404
 * whose body says `no such group` (as a Go peer answers for a group it does
 * not serve), the dialect's other 5xx (golang: 502/503, closing, overloaded or
 * a proxy on the way; mailgun and groupcache-go: 500, 502) and anything
 * unexpected mean the peer could not serve the request: Unavailable, not
 * remote, and the caller falls back to a local load.
 */
function statusError(
  url: string,
  method: string,
  status: number,
  text: string,
  dialect: DialectRules,
): CacheError {
  const detail = `peer ${url}: ${method} answered ${status}${text ? `: ${text}` : ''}`;
  const answer = { remote: true };
  if (status >= 500 && status !== 504) {
    return dialect.finalStatus(status)
      ? new InternalError(detail, answer)
      : new UnavailableError(detail);
  }
  switch (status) {
    case 404:
      if (text.startsWith('no such group')) return new UnavailableError(detail);
      return new NotFoundError(text || 'not found', answer);
    case 400:
      return new InvalidArgumentError(detail, answer);
    case 413:
    case 414:
      return new TooLargeError(detail, answer);
    case 401:
    case 403:
      return new UnauthenticatedError(detail, answer);
    case 504:
      return new DeadlineExceededError(detail, answer);
    default:
      return new UnavailableError(detail);
  }
}

const undiciTimeouts = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** networkError maps a socket or dispatcher failure to a CacheError, keeping it as `cause`. */
function networkError(url: string, method: string, err: unknown): CacheError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  // undici's word for a closed connection; over TLS with not a byte of answer, likely a refusal.
  const refused =
    code === 'UND_ERR_SOCKET' &&
    url.startsWith('https:') &&
    (err as { socket?: { bytesRead?: unknown } }).socket?.bytesRead === 0;
  const detail = `peer ${url}: ${method} failed: ${message}${typeof code === 'string' ? ` (${code})` : ''}${refused ? `: ${CLOSED_AFTER_HANDSHAKE}` : ''}`;
  if (typeof code === 'string' && undiciTimeouts.has(code)) {
    return new DeadlineExceededError(detail, { cause: err });
  }
  return new UnavailableError(detail, { cause: err });
}
