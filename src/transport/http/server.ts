// server.ts: the HTTP peer handler, answering golang/groupcache's wire protocol for local groups
// (or the dialect of one of its descendants, mailgun v2 and groupcache-go v3).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerPeer } from '../../core/group.js';
import { encodeNodeStats } from '../../core/node-stats.js';
import {
  type CallOptions,
  type GroupLookup,
  type PeerServedGroup,
  parseGeneration,
} from '../../core/peers.js';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  toCacheError,
} from '../../errors.js';
import {
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_WIRE_MAX_VALUE_BYTES,
  servedLimits,
} from '../../limits.js';
import type { SetRequest } from '../../proto/gen/groupcache_pb.js';
import {
  AUTHORIZATION,
  checkSecret,
  type SecretCheck,
  secretCheck,
  WWW_AUTHENTICATE,
} from '../../security/secret.js';
import { lingerOnRefusedBody, readBudgetedBody } from '../../util/body.js';
import { ByteBudget } from '../../util/byte-budget.js';
import { LazyAbort } from '../../util/lazy-abort.js';
import { unescapePathSegment } from '../../util/path-escape.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import { lateWrite } from '../late-write.js';
import type { Codec } from './codec.js';
import {
  type DialectRules,
  decodeRemoveKeys,
  dialectRules,
  type HttpDialect,
  REMOVE_KEYS_BATCH_BYTES,
  REMOVE_KEYS_SEGMENT,
} from './dialect.js';
import {
  CLEAR_PATH,
  DEFAULT_BASE_PATH,
  GENERATION_HEADER,
  STATS_PATH,
  TIMEOUT_HEADER,
  TRACEPARENT,
} from './wire.js';

// Room in a SetRequest for the field tags, the lengths and the expiry.
const setRequestOverhead = 64;

/**
 * defaultMaxInflightBytes is the default cap on PUT body bytes a peer server
 * receives or holds at once: 256 MiB, or twice the largest PUT when that is
 * more. The largest PUT is a group's default limit unless the server's
 * `maxValueBytes` ceiling is set.
 */
export function defaultMaxInflightBytes(maxValueBytes: number, maxKeyBytes: number): number {
  return Math.max(256 * 1024 * 1024, 2 * (maxValueBytes + 2 * maxKeyBytes + setRequestOverhead));
}

/** HttpPeerHandlerOptions configures {@link createHttpPeerHandler}. */
export interface HttpPeerHandlerOptions {
  /**
   * dialect is the Go lineage whose wire is served, the one the cluster's
   * clients speak: it decides how a `+` in a path is read, the status of a
   * failed get, and whether `POST {group}/_remove-keys/` is served
   * (groupcache-go only). Defaults to `'golang'`.
   */
  dialect?: HttpDialect | undefined;
  /**
   * basePath is the URL path prefix served, matched against the full request
   * path (`req.originalUrl` when a framework such as Express sets it, else
   * `req.url`); it must start and end with `/`. Defaults to `'/_groupcache/'`.
   */
  basePath?: string;
  /**
   * maxKeyBytes is the ceiling of a key, in UTF-8 bytes; each request is held
   * to its group's `maxKeyBytes` within it. Longer keys get 414. Defaults to 4096.
   */
  maxKeyBytes?: number;
  /**
   * maxValueBytes is the ceiling of a value; each PUT is held to its group's
   * `maxValueBytes` within it. Larger bodies get 413, and a body declared or
   * seen to be too large is not read further (the connection is closed).
   * Defaults to 256 MiB.
   */
  maxValueBytes?: number;
  /**
   * peerSecret, when set, is required on every request under the base path as
   * `Authorization: Bearer <secret>` (compared in constant time). A request
   * without it, or with another, gets `401` with `WWW-Authenticate: Bearer`
   * before anything else is looked at: no group is asked, loaded, written or
   * cleared. Requests outside the base path are not checked. Default: none
   * (every request is served; golang/groupcache peers send no secret).
   */
  peerSecret?: string | undefined;
  /**
   * maxInflightBytes caps the PUT body bytes being received or held at once by
   * every request this handler serves: a body reserves its declared
   * Content-Length before it is read (a body without one, its bytes as they
   * arrive); one that does not fit is answered `503` with `Retry-After: 1` and
   * is not read into memory. Default 256 MiB, or twice the largest PUT
   * (`maxValueBytes` plus a key and group name) when that is more.
   */
  maxInflightBytes?: number | undefined;
  /**
   * inflight is the budget those bytes are counted in, to share it with the
   * server's stats; it replaces `maxInflightBytes`. Default: one of its own.
   */
  inflight?: ByteBudget | undefined;
  /**
   * signalFor derives each request's own AbortSignal (the seed's
   * `HTTPPool.Context`), e.g. a server-wide shutdown signal. It is combined
   * with the built-in signal that aborts when the client disconnects before the
   * answer is sent. Defaults to none.
   */
  signalFor?: (req: IncomingMessage) => AbortSignal | undefined;
  /**
   * onError is told of failures worth logging: errors answered with a 5xx
   * (loader failures, faults in a group) and anything that broke the handler
   * itself. Not-found, bad requests and client disconnects are not reported.
   * Defaults to none.
   */
  onError?: (err: unknown, req: IncomingMessage) => void;
  /**
   * onRefused is told of each request refused (401) for a missing or wrong
   * peer secret, e.g. to log it on this side. Defaults to none.
   */
  onRefused?: (req: IncomingMessage) => void;
}

/**
 * HttpPeerHandler serves peer requests: a node:http request listener that also
 * fits Express (`app.use(handler)`) and Fastify (`reply.hijack()` and hand it
 * `request.raw, reply.raw`). Requests outside the base path go to `next` when
 * given, else get 404.
 */
export type HttpPeerHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

interface ServerConfig {
  groups: GroupLookup;
  basePath: string;
  dialect: DialectRules;
  /** The methods served, as the `Allow` header lists them. */
  allow: string;
  maxKeyBytes: number;
  maxValueBytes: number;
  authorized: SecretCheck | undefined;
  inflight: ByteBudget;
  signalFor: ((req: IncomingMessage) => AbortSignal | undefined) | undefined;
  onError: ((err: unknown, req: IncomingMessage) => void) | undefined;
  onRefused: ((req: IncomingMessage) => void) | undefined;
  /** The protobuf messages, once the first request has imported them (see {@link codecOf}). */
  codec: Codec | undefined;
}

/**
 * codecOf returns the protobuf messages, imported by the handler's first request
 * rather than with this module: a node that never serves a peer never loads them.
 */
async function codecOf(config: ServerConfig): Promise<Codec> {
  config.codec ??= await import('./codec.js');
  return config.codec;
}

/**
 * createHttpPeerHandler answers `GET`, `PUT` and `DELETE
 * {basePath}{group}/{key}` from peers (golang/groupcache and its mailgun v2
 * extensions), and in the groupcache-go dialect `POST {group}/_remove-keys/`,
 * with the groups `groups` resolves. It never throws: every request gets an
 * answer, errors as plain text with the status the dialect gives their code
 * (the `httpStatus` table in the golang dialect). Throws InvalidArgumentError on a
 * bad option.
 */
export function createHttpPeerHandler(
  groups: GroupLookup,
  options: HttpPeerHandlerOptions = {},
): HttpPeerHandler {
  const dialect = dialectRules(options.dialect);
  const basePath = options.basePath ?? DEFAULT_BASE_PATH;
  if (!basePath.startsWith('/') || !basePath.endsWith('/')) {
    throw new InvalidArgumentError(
      `basePath must start and end with '/': ${JSON.stringify(basePath)}`,
    );
  }
  const maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  if (!Number.isSafeInteger(maxKeyBytes) || maxKeyBytes < 1) {
    throw new InvalidArgumentError(`maxKeyBytes must be a positive integer: ${maxKeyBytes}`);
  }
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_WIRE_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 0) {
    throw new InvalidArgumentError(
      `maxValueBytes must be a non-negative integer: ${maxValueBytes}`,
    );
  }
  const secret = checkSecret('peerSecret', options.peerSecret);
  const inflight =
    options.inflight ??
    new ByteBudget(
      options.maxInflightBytes ??
        defaultMaxInflightBytes(options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, maxKeyBytes),
    );
  const config: ServerConfig = {
    groups,
    basePath,
    dialect,
    allow: dialect.removeKeys ? 'GET, PUT, DELETE, POST' : 'GET, PUT, DELETE',
    maxKeyBytes,
    maxValueBytes,
    authorized: secret === undefined ? undefined : secretCheck(secret),
    inflight,
    signalFor: options.signalFor,
    onError: options.onError,
    onRefused: options.onRefused,
    codec: undefined,
  };
  return (req, res, next) => {
    serve(config, req, res, next).catch((err: unknown) => {
      report(config, err, req);
      if (!res.headersSent) sendText(res, 500, 'internal error');
      else res.destroy();
    });
  };
}

async function serve(
  config: ServerConfig,
  req: IncomingMessage,
  res: ServerResponse,
  next: ((err?: unknown) => void) | undefined,
): Promise<void> {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (!path.startsWith(config.basePath)) {
    if (next) next();
    else sendText(res, 404, '404 page not found');
    return;
  }
  // Authentication comes first: an unauthenticated request learns nothing (not even
  // whether its group exists) and changes nothing.
  if (config.authorized !== undefined && !config.authorized(req.headers[AUTHORIZATION])) {
    res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
    sendText(res, 401, 'unauthenticated: missing or wrong peer secret');
    lingerOnRefusedBody(req);
    try {
      config.onRefused?.(req);
    } catch {
      // A failing logger must not take the handler down with it.
    }
    return;
  }
  const method = req.method;
  if (
    method !== 'GET' &&
    method !== 'PUT' &&
    method !== 'DELETE' &&
    !(method === 'POST' && config.dialect.removeKeys)
  ) {
    res.setHeader('Allow', config.allow);
    sendText(res, 405, 'method not allowed');
    return;
  }

  const rest = path.slice(config.basePath.length);
  if (method === 'DELETE' && rest.startsWith(CLEAR_PATH)) {
    serveClear(config, rest.slice(CLEAR_PATH.length), req, res);
    return;
  }
  if (rest === STATS_PATH && method === 'GET') {
    serveStats(config, query === -1 ? '' : url.slice(query + 1), req, res);
    return;
  }
  // Split the raw path first, then decode each part, so an escaped '/' in the
  // group name cannot move the split.
  const slash = rest.indexOf('/');
  if (slash === -1) {
    sendText(res, 400, 'bad request');
    return;
  }
  const plusIsSpace = config.dialect.plusIsSpace;
  const groupName = unescapePathSegment(rest.slice(0, slash), plusIsSpace);
  const key = unescapePathSegment(rest.slice(slash + 1), plusIsSpace);
  if (groupName === undefined || key === undefined) {
    sendText(res, 400, 'bad request: malformed percent-encoding or UTF-8 in path');
    return;
  }
  if (key === '') {
    sendText(res, 400, 'bad request: empty key');
    return;
  }
  if (Buffer.byteLength(key) > config.maxKeyBytes) {
    sendText(res, 414, `key is over the limit of ${config.maxKeyBytes} bytes`);
    return;
  }
  const group = config.groups.getGroup(groupName);
  if (!group) {
    sendText(res, 404, `no such group: ${groupName}`);
    return;
  }
  const limits = servedLimits(group, config);
  if (Buffer.byteLength(key) > limits.maxKeyBytes) {
    sendText(res, 414, `key is over the limit of ${limits.maxKeyBytes} bytes`);
    return;
  }

  switch (method) {
    case 'POST':
      // groupcache-go's batch remove; any other POST is refused as it refuses it.
      if (key !== REMOVE_KEYS_SEGMENT) {
        sendText(res, 404, 'invalid path for POST method');
        return;
      }
      return serveRemoveKeys(config, group, groupName, req, res);
    case 'GET':
      return serveGet(config, group, key, req, res);
    case 'PUT':
      return servePut(config, limits.maxValueBytes, group, groupName, key, req, res);
    case 'DELETE':
      try {
        const deadline = headerDeadline(req);
        const late = lateWrite('remove', deadline);
        if (late !== undefined) throw late;
        group.removeFromPeer(key, { deadline, generation: requestGeneration(req) });
      } catch (err) {
        sendError(config, res, err, req);
        return;
      }
      sendEmpty(res, group.generation);
      return;
  }
}

/**
 * serveClear answers a group's clear notice, `DELETE {basePath}_peercache/clear/{group}`
 * with the generation in its header: 400 for a malformed name or generation; a group
 * this node does not serve has nothing to clear, answered 200 as done.
 */
function serveClear(
  config: ServerConfig,
  escaped: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const name = unescapePathSegment(escaped, config.dialect.plusIsSpace);
  if (name === undefined || name === '') {
    sendText(res, 400, 'bad request: malformed group name in a clear notice');
    return;
  }
  const generation = requestGeneration(req);
  if (generation === undefined) {
    sendText(res, 400, `bad request: a clear notice needs a positive whole ${GENERATION_HEADER}`);
    return;
  }
  try {
    config.groups.getGroup(name)?.clearFromPeer?.(generation);
  } catch (err) {
    sendError(config, res, err, req);
    return;
  }
  sendEmpty(res);
}

/** requestGeneration is the group generation a request carries, when it carries a well-formed one. */
function requestGeneration(req: IncomingMessage): number | undefined {
  const header = req.headers[GENERATION_HEADER];
  return header === undefined ? undefined : parseGeneration(header);
}

/**
 * serveStats answers the stats call with the node's report as JSON; 404 when
 * the lookup gives no stats (as a Go peer answers), 400 for a malformed query.
 */
function serveStats(
  config: ServerConfig,
  query: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const source = config.groups;
  if (source.nodeStats === undefined) {
    sendText(res, 404, 'no such group: _peercache');
    return;
  }
  let params: URLSearchParams;
  try {
    // URLSearchParams replaces bad percent-encoding rather than failing: check it first.
    decodeURIComponent(query.replaceAll('+', ' '));
    params = new URLSearchParams(query);
  } catch {
    sendText(res, 400, 'bad request: malformed percent-encoding or UTF-8 in the query');
    return;
  }
  const group = params.get('group') ?? undefined;
  const key = params.get('key') ?? undefined;
  if (key !== undefined && Buffer.byteLength(key) > config.maxKeyBytes) {
    sendText(res, 414, `key is over the limit of ${config.maxKeyBytes} bytes`);
    return;
  }
  try {
    const body = encodeNodeStats(source.nodeStats({ group, key }));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.byteLength });
    res.end(body);
  } catch (err) {
    sendError(config, res, err, req);
  }
}

async function serveGet(
  config: ServerConfig,
  group: PeerServedGroup,
  key: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const get = new PeerGet(config, req, res);
  try {
    const found = await answerPeer(group, key, get);
    const codec = config.codec ?? (await codecOf(config));
    const body = codec.encodeGetResponse(
      found.value,
      nanosFromExpireAt(found.expireAt),
      found.minuteQps,
    );
    if (res.destroyed) return;
    // The generation the value was found under, once the group has been cleared.
    if (found.generation) res.setHeader(GENERATION_HEADER, String(found.generation));
    res.writeHead(200, {
      'Content-Type': 'application/x-protobuf',
      'Content-Length': body.byteLength,
    });
    res.end(body);
  } catch (err) {
    if (res.destroyed) return; // the client left; nobody to answer
    sendError(config, res, err, req);
  } finally {
    get.release();
  }
}

async function servePut(
  config: ServerConfig,
  maxValueBytes: number,
  group: PeerServedGroup,
  groupName: string,
  key: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // The time the client gave runs from when the headers came, as a get's does: a
  // write whose body comes after that is not applied, its client has stopped waiting.
  const deadline = headerDeadline(req);
  const limit =
    maxValueBytes + Buffer.byteLength(groupName) + Buffer.byteLength(key) + setRequestOverhead;
  const { body, held } = await readBudgetedBody(req, limit, config.inflight);
  try {
    const codec = config.codec ?? (await codecOf(config));
    storeBody(config, codec, maxValueBytes, group, groupName, key, body, deadline, req, res);
  } finally {
    config.inflight.release(held);
  }
}

/**
 * serveRemoveKeys answers groupcache-go's `POST {group}/_remove-keys/`: a JSON
 * `{"group","keys"}` whose keys are all dropped, as a DELETE of each would. A
 * key no cache can hold (empty, or over the group's limit) has nothing to drop
 * and is passed over.
 */
async function serveRemoveKeys(
  config: ServerConfig,
  group: PeerServedGroup,
  groupName: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const deadline = headerDeadline(req);
  const limit = Math.max(config.maxValueBytes, REMOVE_KEYS_BATCH_BYTES) + setRequestOverhead;
  const { body, held } = await readBudgetedBody(req, limit, config.inflight);
  try {
    if (refusedBody(config, req, res, body, limit)) return;
    const request = decodeRemoveKeys(body);
    if (typeof request === 'string') {
      sendText(res, 400, `bad request: malformed RemoveKeysRequest: ${request}`);
      return;
    }
    if (request.group !== undefined && request.group !== groupName) {
      sendText(res, 400, 'bad request: RemoveKeysRequest group differs from the URL');
      return;
    }
    const late = lateWrite('remove', deadline);
    if (late !== undefined) {
      sendError(config, res, late, req);
      return;
    }
    let failed: unknown;
    for (const key of request.keys) {
      try {
        group.removeFromPeer(key, { deadline });
      } catch (err) {
        const code = toCacheError(err).code;
        if (code !== 'INVALID_ARGUMENT' && code !== 'TOO_LARGE') failed ??= err;
      }
    }
    if (failed !== undefined) sendError(config, res, failed, req);
    else sendEmpty(res);
  } finally {
    config.inflight.release(held);
  }
}

/**
 * refusedBody answers a request whose body could not be read (over `limit`,
 * over the server's budget, broken off) and says whether it did.
 */
function refusedBody(
  config: ServerConfig,
  req: IncomingMessage,
  res: ServerResponse,
  body: Uint8Array | 'too-large' | 'over-budget' | 'aborted',
  limit: number,
): body is 'too-large' | 'over-budget' | 'aborted' {
  if (body === 'too-large') {
    sendText(res, 413, `request body is over the limit of ${limit} bytes`);
    lingerOnRefusedBody(req);
    return true;
  }
  if (body === 'over-budget') {
    res.setHeader('Retry-After', '1');
    sendText(
      res,
      503,
      `peer server busy: request bytes in flight are at the limit of ${config.inflight.limit}`,
    );
    lingerOnRefusedBody(req);
    return true;
  }
  if (body === 'aborted') {
    res.destroy(); // the client is gone or the upload broke: nobody to answer
    return true;
  }
  return false;
}

/** storeBody answers a PUT whose body has been read (or refused). */
function storeBody(
  config: ServerConfig,
  codec: Codec,
  maxValueBytes: number,
  group: PeerServedGroup,
  groupName: string,
  key: string,
  body: Uint8Array | 'too-large' | 'over-budget' | 'aborted',
  deadline: number | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (body === 'too-large') {
    sendTooLarge(req, res, maxValueBytes);
    return;
  }
  if (refusedBody(config, req, res, body, config.maxValueBytes)) return;
  let message: SetRequest;
  try {
    // Strict: a group or key that is not UTF-8 must not be folded into one that is.
    message = codec.decodeSetRequest(body);
  } catch {
    sendText(res, 400, 'bad request: malformed SetRequest');
    return;
  }
  if (message.group !== groupName || message.key !== key) {
    sendText(res, 400, 'bad request: SetRequest group or key differs from the URL');
    return;
  }
  if (message.value.byteLength > maxValueBytes) {
    sendTooLarge(req, res, maxValueBytes);
    return;
  }
  try {
    const late = lateWrite('set', deadline);
    if (late !== undefined) throw late;
    group.setFromPeer(key, message.value, expireAtFromNanos(message.expire), {
      deadline,
      generation: requestGeneration(req),
    });
  } catch (err) {
    sendError(config, res, err, req);
    return;
  }
  sendEmpty(res, group.generation);
}

/**
 * PeerGet is one peer's get being answered, passed to the group as its call
 * options. Its signal is made only when the group first reads it, which a cache
 * hit never does: then it aborts when the client goes away before the answer is
 * sent, when the time the client said it would wait (the `Peercache-Timeout`
 * header) has passed, or when `signalFor`'s signal aborts. An AbortController,
 * a timer and two listeners per get were a fifth of the owner's CPU per hit.
 */
class PeerGet extends LazyAbort implements CallOptions {
  /** deadline is the time the client gave, as an absolute one, when it sent it. */
  readonly deadline: number | undefined;
  readonly traceparent: string | undefined;
  /** generation is the group generation the request carries, when well-formed. */
  readonly generation: number | undefined;
  readonly #config: ServerConfig;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #timeoutMs: number | undefined;
  /** What watches the request once the signal is made; undefined before, and after release. */
  #watch: Watch | undefined;
  #released = false;

  constructor(config: ServerConfig, req: IncomingMessage, res: ServerResponse) {
    super();
    this.#config = config;
    this.#req = req;
    this.#res = res;
    this.#timeoutMs = parseTimeout(req.headers[TIMEOUT_HEADER]);
    this.deadline = this.#timeoutMs === undefined ? undefined : Date.now() + this.#timeoutMs;
    const traceparent = req.headers[TRACEPARENT];
    this.traceparent = typeof traceparent === 'string' ? traceparent : undefined;
    this.generation = requestGeneration(req);
  }

  override get signal(): AbortSignal {
    const signal = super.signal;
    if (this.#watch === undefined && !this.#released) this.#startWatching();
    return signal;
  }

  /** release detaches the listeners once the request is answered. */
  release(): void {
    this.#released = true;
    const watch = this.#watch;
    if (watch === undefined) return;
    this.#watch = undefined;
    clearTimeout(watch.timer);
    this.#res.removeListener('close', watch.onClose);
    watch.outer?.removeEventListener('abort', watch.onOuterAbort);
  }

  #startWatching(): void {
    const res = this.#res;
    const timeoutMs = this.#timeoutMs;
    const outer = this.#config.signalFor?.(this.#req);
    const watch: Watch = {
      timer:
        this.deadline === undefined
          ? undefined
          : setTimeout(
              () =>
                this.abort(
                  new DeadlineExceededError(
                    `peer request: the client's ${timeoutMs} ms have passed`,
                  ),
                ),
              Math.max(0, this.deadline - Date.now()),
            ),
      outer,
      onClose: () => {
        if (!res.writableFinished)
          this.abort(new CancelledError('peer request: client disconnected'));
      },
      onOuterAbort: () => this.abort(outer?.reason),
    };
    this.#watch = watch;
    res.once('close', watch.onClose);
    if (outer?.aborted) watch.onOuterAbort();
    else outer?.addEventListener('abort', watch.onOuterAbort, { once: true });
    // A client that left before we got here: 'close' has already fired.
    if (res.destroyed) watch.onClose();
  }
}

/** Watch is what a {@link PeerGet} attaches once its signal is made. */
interface Watch {
  timer: ReturnType<typeof setTimeout> | undefined;
  outer: AbortSignal | undefined;
  onClose: () => void;
  onOuterAbort: () => void;
}

/**
 * headerDeadline is the time (ms since the epoch) the request's
 * `Peercache-Timeout` gives it from now; undefined when it sent none.
 */
function headerDeadline(req: IncomingMessage): number | undefined {
  const timeoutMs = parseTimeout(req.headers[TIMEOUT_HEADER]);
  return timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
}

/**
 * parseTimeout reads a `Peercache-Timeout` value: whole milliseconds, 1 to 8
 * digits. Anything else (absent, repeated, malformed) is ignored, as if absent.
 */
function parseTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,8}$/.test(value)) return undefined;
  return Number(value);
}

/** sendTooLarge answers 413, then lets the client finish sending (see lingerOnRefusedBody). */
function sendTooLarge(req: IncomingMessage, res: ServerResponse, maxValueBytes: number): void {
  sendText(res, 413, `value is over the limit of ${maxValueBytes} bytes`);
  lingerOnRefusedBody(req);
}

/** sendError answers with a group's error: the dialect's status for its code, and its message. */
function sendError(config: ServerConfig, res: ServerResponse, err: unknown, req: IncomingMessage) {
  const cacheError = toCacheError(err);
  const status = config.dialect.failureStatus(cacheError.code);
  if (status >= 500) report(config, err, req);
  sendText(res, status, cacheError.message);
}

/** sendText answers in plain text as Go's http.Error does (a trailing newline, nosniff). */
function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': body.byteLength,
  });
  res.end(body);
}

function sendEmpty(res: ServerResponse, generation?: number): void {
  if (res.headersSent || res.destroyed) return;
  // A write's answer carries the group's generation, once it has been cleared.
  if (generation) res.setHeader(GENERATION_HEADER, String(generation));
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
}

function report(config: ServerConfig, err: unknown, req: IncomingMessage): void {
  try {
    config.onError?.(err, req);
  } catch {
    // A failing logger must not take the handler down with it.
  }
}
