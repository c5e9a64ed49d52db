// server.ts: the public HTTP API of a node (`--api`): get, set and remove values,
// and read the node's peers, stats, metrics and health.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { viewBytes } from '../core/byteview-internal.js';
import type { Group } from '../core/group.js';
import { type Logger, noopLogger } from '../core/logger.js';
import { HOT_KEYS_REPORTED } from '../core/node-stats.js';
import {
  type CacheError,
  CancelledError,
  httpStatus,
  InvalidArgumentError,
  toCacheError,
  UnavailableError,
} from '../errors.js';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../limits.js';
import type { CacheNode } from '../node/node.js';
import { RefusalLog } from '../security/refusals.js';
import {
  AUTHORIZATION,
  checkSecret,
  type SecretCheck,
  secretCheck,
  WWW_AUTHENTICATE,
} from '../security/secret.js';
import { resolveTls, type TlsOptions } from '../security/tls.js';
import { lingerOnRefusedBody, readBudgetedBody } from '../util/body.js';
import { ByteBudget } from '../util/byte-budget.js';
import { httpServerOptions, limitHttpServer } from '../util/http-limits.js';
import {
  API_CONNECTION_SHARE,
  logLimits,
  logServerErrors,
  resolveServerLimits,
  type ServerLimitOptions,
  type ServerStats,
  serverStats,
} from '../util/server-limits.js';
import {
  CONSOLE_PATH,
  clusterView,
  defaultConsoleDir,
  isConsoleNode,
  keyView,
  serveConsoleFile,
} from './console.js';

/**
 * ApiNode is what the API needs of a node; a {@link CacheNode} fits. `state`
 * (optional) is what `/readyz` answers: without it the node counts as ready.
 */
export type ApiNode = Pick<CacheNode, 'getGroup' | 'groups' | 'peers' | 'metrics'> &
  Partial<Pick<CacheNode, 'state'>>;

/** ApiHandlerOptions configure {@link createApiHandler}. */
export interface ApiHandlerOptions {
  /**
   * maxBodyBytes is the largest value a PUT may carry; a larger body gets 413
   * and is not read further (the connection is closed). Default 64 MiB, the
   * groups' default value limit.
   */
  maxBodyBytes?: number;
  /** maxKeyBytes is the largest key, in UTF-8 bytes; a longer key gets 414. Default 4096. */
  maxKeyBytes?: number;
  /** maxUrlBytes is the longest request target (path and query); longer gets 414. Default 32 KiB. */
  maxUrlBytes?: number;
  /**
   * maxInflightBytes caps the PUT body bytes being received or held (until the
   * set has finished) at once: a body reserves its declared Content-Length
   * before it is read (one without, its bytes as they arrive); one that does
   * not fit gets `503` with `Retry-After: 1` and is not read into memory.
   * Default 256 MiB, or twice `maxBodyBytes` when that is more.
   */
  maxInflightBytes?: number;
  /**
   * inflight is the budget those bytes are counted in, to share it with the
   * server's stats; it replaces `maxInflightBytes`. Default: one of its own.
   */
  inflight?: ByteBudget;
  /**
   * signal marks the node as closing: once it aborts, new requests get 503 (and
   * `Connection: close`); requests already running finish. Default: none.
   */
  signal?: AbortSignal;
  /** onError is told of errors answered with a 5xx, for logging. Default: none. */
  onError?: (err: unknown, req: IncomingMessage) => void;
  /** onRefused is told of each request refused (401) for a missing or wrong token. Default: none. */
  onRefused?: (req: IncomingMessage) => void;
  /**
   * token, when set, is required on every route but `/healthz` and `/readyz` as
   * `Authorization: Bearer <token>` (compared in constant time); a request
   * without it, or with another, gets 401 with `WWW-Authenticate: Bearer` and
   * touches nothing. Visible ASCII, no spaces. Default: none (the API is open).
   */
  token?: string | undefined;
  /**
   * consoleDir is where the web console's built page is, served under
   * `/console/`. Default: `dist/console/` of this package.
   */
  consoleDir?: string | undefined;
}

/** ApiHandler is a node:http request listener serving the API. It never throws. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => void;

interface Config {
  node: ApiNode;
  maxBodyBytes: number;
  maxKeyBytes: number;
  maxUrlBytes: number;
  signal: AbortSignal | undefined;
  onError: ((err: unknown, req: IncomingMessage) => void) | undefined;
  onRefused: ((req: IncomingMessage) => void) | undefined;
  authorized: SecretCheck | undefined;
  inflight: ByteBudget;
  consoleDir: Promise<string>;
}

const DEFAULT_MAX_BODY_BYTES = DEFAULT_MAX_VALUE_BYTES;
const DEFAULT_MAX_URL_BYTES = 32 * 1024;

/** defaultInflightBytes is the default of `maxInflightBytes`: 256 MiB, or twice the largest body. */
function defaultInflightBytes(maxBodyBytes: number): number {
  return Math.max(256 * 1024 * 1024, 2 * maxBodyBytes);
}

/**
 * createApiHandler returns the API's request listener for `node`:
 *
 * - `GET /api?key=K[&group=G]`: 200 with the raw value (`application/octet-stream`).
 * - `PUT /api?key=K[&group=G][&ttl=MS]` with the value as the body: 204. `ttl`
 *   is the value's time to live in milliseconds (a whole number; 0 = never
 *   expires; default the group's).
 * - `DELETE /api?key=K[&group=G]`: 204.
 * - `GET /peers`: JSON `{ self, member, ring, peers, source, updatedAt, peerHealthy,
 *   unhealthyPeers }` (see `PeersInfo`).
 * - `GET /stats`: JSON `{ groups: { NAME: { stats, main, hot, hotKeys } } }`
 *   (`hotKeys`: the group's most asked-for keys of about the last minute, see
 *   `Group.hotKeys`).
 * - `GET /metrics`: Prometheus text. `GET /healthz`: 200 `ok` while the process
 *   serves. `GET /readyz`: 200 `ready` while the node is ready (it serves peers
 *   and has a member set), else 503 naming its state (`starting`, `leaving`):
 *   a load balancer sends it nothing from the moment it begins to leave.
 * - `GET /console/`: the web console's page (static files from `consoleDir`);
 *   `GET /console/api/cluster`: JSON, every member with its ring share,
 *   health and stats (see `ClusterView`); `GET /console/api/key?key=K[&group=G]`:
 *   JSON, the key's owner and what each member holds of it (see `KeyView`).
 * - `POST /clear?group=G`: empties the group on every node (`Group.clear`); JSON
 *   `{ generation, unsupported }`, or 503 naming the peers not yet told.
 *
 * With `token`, every route but `/healthz`, `/readyz` and the console's static
 * files first requires the bearer token (401 without it).
 *
 * The query is form-encoded (`+` is a space). `group` may be left out when the
 * node has exactly one group. Errors are one line of plain text: 400 for a
 * missing, empty or malformed key, group or ttl (or a malformed query), 404
 * for a key that does not exist or an unknown group, 405 for a wrong method
 * (with `Allow`), 413 for a body over the limit, 414 for a key or URL over the
 * limit, 502 when a peer refused this node's peer secret (the API client is
 * not the one unauthenticated), 503 when a peer is unreachable or the node is
 * closing, with the reason (and, with `Retry-After: 1`, for a PUT past
 * `maxInflightBytes`), 504 on a deadline, and otherwise the `httpStatus` of
 * the error's code. A client that
 * disconnects aborts its get, set or remove. Throws InvalidArgumentError on a bad option.
 */
export function createApiHandler(node: ApiNode, options: ApiHandlerOptions = {}): ApiHandler {
  const maxBodyBytes = limit('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0);
  const config: Config = {
    node,
    maxBodyBytes,
    maxKeyBytes: limit('maxKeyBytes', options.maxKeyBytes, DEFAULT_MAX_KEY_BYTES, 1),
    maxUrlBytes: limit('maxUrlBytes', options.maxUrlBytes, DEFAULT_MAX_URL_BYTES, 1),
    signal: options.signal,
    onError: options.onError,
    onRefused: options.onRefused,
    authorized: tokenCheck(options.token),
    consoleDir:
      options.consoleDir === undefined
        ? defaultConsoleDir()
        : Promise.resolve(resolve(options.consoleDir)),
    inflight:
      options.inflight ??
      new ByteBudget(
        limit('maxInflightBytes', options.maxInflightBytes, defaultInflightBytes(maxBodyBytes), 0),
      ),
  };
  return (req, res) => {
    serve(config, req, res).catch((err: unknown) => {
      report(config, err, req);
      if (!res.headersSent) sendText(res, 500, 'internal error');
      else res.destroy();
    });
  };
}

function tokenCheck(token: string | undefined): SecretCheck | undefined {
  const checked = checkSecret('token', token);
  return checked === undefined ? undefined : secretCheck(checked);
}

function limit(name: string, v: number | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

async function serve(config: Config, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (url.length > config.maxUrlBytes) {
    sendText(res, 414, `URL is over the limit of ${config.maxUrlBytes} bytes`);
    return;
  }
  if (config.signal?.aborted) {
    res.setHeader('Connection', 'close');
    sendText(res, 503, 'node is shutting down');
    return;
  }
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  // Every route but the health check and the console's page (which holds no data)
  // needs the token, checked before anything is read.
  const consolePage =
    path === '/console' || (path.startsWith(CONSOLE_PATH) && !path.startsWith(CONSOLE_API));
  if (
    path !== '/healthz' &&
    !consolePage &&
    path !== '/readyz' &&
    config.authorized !== undefined &&
    !config.authorized(req.headers[AUTHORIZATION])
  ) {
    res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
    sendText(res, 401, 'unauthenticated: missing or wrong API token');
    lingerOnRefusedBody(req);
    try {
      config.onRefused?.(req);
    } catch {
      // A failing logger must not take the handler down with it.
    }
    return;
  }
  switch (path) {
    case '/api':
      return serveApi(config, req, res, query);
    case '/peers':
      if (allow(req, res, 'GET, HEAD')) sendJson(res, config.node.peers());
      return;
    case '/clear':
      if (allow(req, res, 'POST')) await serveClear(config, req, res, query);
      return;
    case '/stats':
      if (allow(req, res, 'GET, HEAD')) sendJson(res, stats(config.node));
      return;
    case '/metrics':
      if (allow(req, res, 'GET, HEAD')) {
        const registry = config.node.metrics.registry;
        const text = await registry.metrics();
        sendBody(res, 200, registry.contentType, Buffer.from(text));
      }
      return;
    case '/healthz':
      if (allow(req, res, 'GET, HEAD')) sendText(res, 200, 'ok');
      return;
    case '/console':
      res.writeHead(308, { Location: CONSOLE_PATH, 'Content-Length': 0 });
      res.end();
      return;
    case `${CONSOLE_API}cluster`:
      if (allow(req, res, 'GET, HEAD')) await serveCluster(config, res);
      return;
    case `${CONSOLE_API}key`:
      if (allow(req, res, 'GET, HEAD')) await serveKey(config, res, query);
      return;
    case '/readyz':
      if (allow(req, res, 'GET, HEAD')) {
        const state = config.node.state ?? 'ready';
        if (state === 'ready') sendText(res, 200, 'ready');
        else sendText(res, 503, `not ready: ${state}`);
      }
      return;
    default:
      if (consolePage) return serveConsoleFile(await config.consoleDir, path, req, res);
      sendText(res, 404, `not found: ${path}`);
  }
}

/** CONSOLE_API is the prefix of the console's JSON endpoints. */
const CONSOLE_API = `${CONSOLE_PATH}api/`;

/** serveCluster answers the console's cluster view: 404 on a node without one. */
async function serveCluster(config: Config, res: ServerResponse): Promise<void> {
  if (!isConsoleNode(config.node)) {
    sendText(res, 404, 'this node has no console view');
    return;
  }
  sendJson(res, await clusterView(config.node));
}

/**
 * serveKey answers the console's key inspector: `?key=K[&group=G]`, what every
 * member holds of the key and who owns it. Nothing is loaded.
 */
async function serveKey(config: Config, res: ServerResponse, query: string): Promise<void> {
  const node = config.node;
  if (!isConsoleNode(node)) {
    sendText(res, 404, 'this node has no console view');
    return;
  }
  const params = parseQuery(query);
  if (typeof params === 'string') {
    sendText(res, 400, `bad request: ${params}`);
    return;
  }
  const key = params.get('key');
  if (key === undefined || key === '') {
    sendText(res, 400, 'bad request: missing or empty key (use ?key=...)');
    return;
  }
  if (Buffer.byteLength(key) > config.maxKeyBytes) {
    sendText(res, 414, `key is over the limit of ${config.maxKeyBytes} bytes`);
    return;
  }
  const choice = pickGroup(node, params.get('group'));
  if ('status' in choice) {
    sendText(res, choice.status, choice.message);
    return;
  }
  sendJson(res, await keyView(node, choice.group.name, key));
}

/** allow answers 405 and returns false unless the method is one of `methods`. */
function allow(req: IncomingMessage, res: ServerResponse, methods: string): boolean {
  if (methods.split(', ').includes(req.method ?? '')) return true;
  res.setHeader('Allow', methods);
  sendText(res, 405, `method ${req.method} not allowed; use ${methods}`);
  return false;
}

function stats(node: ApiNode): { groups: Record<string, unknown> } {
  const groups: Record<string, unknown> = {};
  for (const g of node.groups()) {
    groups[g.name] = {
      stats: g.stats,
      main: g.cacheStats('main'),
      hot: g.cacheStats('hot'),
      hotKeys: g.hotKeys(HOT_KEYS_REPORTED),
    };
  }
  return { groups };
}

async function serveApi(
  config: Config,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  if (!allow(req, res, 'GET, PUT, DELETE')) return;
  const params = parseQuery(query);
  if (typeof params === 'string') {
    sendText(res, 400, `bad request: ${params}`);
    return;
  }
  const key = params.get('key');
  if (key === undefined) {
    sendText(res, 400, 'bad request: missing key (use ?key=...)');
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
  const choice = pickGroup(config.node, params.get('group'));
  if ('status' in choice) {
    sendText(res, choice.status, choice.message);
    return;
  }
  const { group } = choice;
  let ttl: number | undefined;
  const rawTtl = params.get('ttl');
  if (req.method === 'PUT' && rawTtl !== undefined) {
    ttl = /^\d{1,15}$/.test(rawTtl) ? Number(rawTtl) : Number.NaN;
    if (Number.isNaN(ttl)) {
      sendText(
        res,
        400,
        `bad request: ttl must be a whole number of milliseconds, got ${JSON.stringify(rawTtl)}`,
      );
      return;
    }
  }

  const { signal, release } = clientSignal(res);
  try {
    if (req.method === 'GET') {
      const view = await group.get(key, { signal });
      sendBody(res, 200, 'application/octet-stream', viewBytes(view));
    } else if (req.method === 'PUT') {
      const limit = Math.min(config.maxBodyBytes, group.maxValueBytes);
      const { body, held } = await readBudgetedBody(req, limit, config.inflight);
      try {
        if (body === 'too-large') {
          sendText(res, 413, `value is over the limit of ${limit} bytes`);
          lingerOnRefusedBody(req);
          return;
        }
        if (body === 'over-budget') {
          res.setHeader('Retry-After', '1');
          sendText(
            res,
            503,
            `API busy: request bytes in flight are at the limit of ${config.inflight.limit}`,
          );
          lingerOnRefusedBody(req);
          return;
        }
        if (body === 'aborted') {
          res.destroy();
          return;
        }
        // The body stays reserved until the set is done with it.
        await group.set(key, body, { ttlMs: ttl, signal });
      } finally {
        config.inflight.release(held);
      }
      sendEmpty(res);
    } else {
      await group.remove(key, { signal });
      sendEmpty(res);
    }
  } catch (err) {
    if (res.destroyed) return; // the client left: nobody to answer
    sendError(config, req, res, err);
  } finally {
    release();
  }
}

/**
 * serveClear answers `POST /clear?group=G`: the group emptied on every node (see
 * `Group.clear`), JSON `{ generation, unsupported }`. The group must be named, even
 * on a node with one (400 without it, 404 for an unknown one); 503 names the peers
 * that could not be told, which the node goes on telling in the background.
 */
async function serveClear(
  config: Config,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  const params = parseQuery(query);
  if (typeof params === 'string') {
    sendText(res, 400, `bad request: ${params}`);
    return;
  }
  const name = params.get('group');
  if (name === undefined) {
    sendText(res, 400, 'bad request: missing group (use /clear?group=...)');
    return;
  }
  const choice = pickGroup(config.node, name);
  if ('status' in choice) {
    sendText(res, choice.status, choice.message);
    return;
  }
  try {
    sendJson(res, await choice.group.clear());
  } catch (err) {
    if (res.destroyed) return;
    sendError(config, req, res, err);
  }
}

type GroupChoice = { group: Group } | { status: number; message: string };

function pickGroup(node: ApiNode, name: string | undefined): GroupChoice {
  if (name !== undefined) {
    if (name === '') return { status: 400, message: 'bad request: empty group' };
    const group = node.getGroup(name);
    return group ? { group } : { status: 404, message: `no such group: ${name}` };
  }
  const all = node.groups();
  if (all.length === 1) return { group: all[0] as Group };
  if (all.length === 0) return { status: 404, message: 'no such group: this node has no groups' };
  const names = all.map((g) => g.name).join(', ');
  return { status: 400, message: `bad request: group is required (one of: ${names})` };
}

/**
 * parseQuery decodes a form-encoded query (`+` is a space) strictly: it returns
 * the first value of each name, or a message for malformed percent-encoding,
 * invalid UTF-8, or a repeated `key`, `group` or `ttl`.
 */
export function parseQuery(query: string): Map<string, string> | string {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName.replaceAll('+', ' '));
      value = decodeURIComponent(rawValue.replaceAll('+', ' '));
    } catch {
      return 'malformed percent-encoding or UTF-8 in the query';
    }
    if (params.has(name)) {
      if (name === 'key' || name === 'group' || name === 'ttl') return `${name} given twice`;
      continue;
    }
    params.set(name, value);
  }
  return params;
}

/**
 * clientSignal aborts when the client goes away before its answer is sent.
 * `release` detaches the listener once the request is answered.
 */
function clientSignal(res: ServerResponse): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new CancelledError('API client disconnected'));
  };
  res.once('close', onClose);
  if (res.destroyed) onClose();
  return { signal: controller.signal, release: () => res.removeListener('close', onClose) };
}

function sendError(config: Config, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const e = toCacheError(err);
  const { status, message } = apiError(e);
  if (status >= 500) report(config, err, req);
  sendText(res, status, message);
}

/**
 * apiError is the status and text the API answers `e` with: its code's
 * `httpStatus`, except a peer's own UNAUTHENTICATED answer. That one means the
 * peer refused this node's peer secret, not the API client's credentials: 502,
 * naming the peer (the message does) and the reason.
 */
export function apiError(e: CacheError): { status: number; message: string } {
  if (e.remote && e.code === 'UNAUTHENTICATED') {
    return {
      status: 502,
      message: `${e.message} (the peer refused this node's peer secret: the cluster's peer secrets differ)`,
    };
  }
  return { status: httpStatus[e.code], message: e.message };
}

function report(config: Config, err: unknown, req: IncomingMessage): void {
  try {
    config.onError?.(err, req);
  } catch {
    // A failing logger must not take the handler down with it.
  }
}

/** sendText answers with one line of plain text. */
function sendText(res: ServerResponse, status: number, text: string): void {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  sendBody(res, status, 'text/plain; charset=utf-8', Buffer.from(`${line}\n`));
}

function sendJson(res: ServerResponse, value: unknown): void {
  sendBody(res, 200, 'application/json', Buffer.from(`${JSON.stringify(value)}\n`));
}

function sendBody(res: ServerResponse, status: number, type: string, body: Uint8Array): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': body.byteLength,
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}

function sendEmpty(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(204);
  res.end();
}

/** ApiServerOptions configure {@link startApiServer}. */
export interface ApiServerOptions
  extends Omit<ApiHandlerOptions, 'signal' | 'inflight'>,
    ServerLimitOptions {
  /** logger gets one line when the server listens and one per 5xx answer. Default: silent. */
  logger?: Logger;
  /** shutdownGraceMs is how long `close()` lets running requests finish before cutting them. Default 10,000. */
  shutdownGraceMs?: number;
  /**
   * tls serves the API over HTTPS when it has `cert` and `key` (the same
   * {@link TlsOptions} as the peers'); with `clientAuth`, clients must present
   * a certificate from `ca`. Default: none (plain HTTP).
   */
  tls?: TlsOptions | undefined;
  /** connectionLogIntervalMs is the shortest time between two log lines about refused connections. Default 10,000. */
  connectionLogIntervalMs?: number | undefined;
}

/** ApiServer is a running API server. */
export interface ApiServer {
  /** server is the underlying node:http server. */
  readonly server: Server;
  /** address is where it listens. */
  readonly address: AddressInfo;
  /** url is its base URL, e.g. `http://127.0.0.1:9999` (`https://` with TLS). */
  readonly url: string;
  /**
   * close stops accepting connections, answers new requests on open
   * connections with 503, lets running ones finish (up to `shutdownGraceMs`)
   * and resolves once the server is closed. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** stats tells the server's connections and PUT bytes in flight against its limits. */
  stats(): ServerStats;
  /**
   * activity tells when the last `/api` request arrived (ms since the epoch, 0 for
   * none) and how many are still running: what a node's drain waits on. Probes of
   * `/healthz` and `/readyz` and the other routes do not count.
   */
  readonly activity: { readonly lastRequestAt: number; readonly inFlight: number };
}

/**
 * startApiServer serves {@link createApiHandler} for `node` on `host:port`
 * (port 0: one the OS picks), over HTTPS with `tls`, and resolves once it
 * listens; it rejects if the address cannot be bound. It takes the
 * {@link ServerLimitOptions}: `maxConnections` defaults to a quarter of the
 * open-file limit (at most 2,048; the peer server takes half, so a flood on
 * the peer port leaves the API reachable), the timeouts to 30 s (10 s for a
 * TLS handshake). It logs its limits when it listens. Throws InvalidArgumentError on a
 * bad option.
 */
export async function startApiServer(
  node: ApiNode,
  host: string,
  port: number,
  options: ApiServerOptions = {},
): Promise<ApiServer> {
  const {
    logger,
    shutdownGraceMs = 10_000,
    tls: tlsOptions,
    maxConnections,
    handshakeTimeoutMs,
    idleTimeoutMs,
    readTimeoutMs,
    maxInflightBytes,
    connectionLogIntervalMs,
    ...handlerOptions
  } = options;
  const tls = resolveTls(tlsOptions);
  const limits = resolveServerLimits(
    { maxConnections, handshakeTimeoutMs, idleTimeoutMs, readTimeoutMs, maxInflightBytes },
    {
      connectionShare: API_CONNECTION_SHARE,
      connectionCap: 2048,
      maxInflightBytes: defaultInflightBytes(handlerOptions.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
    },
  );
  const inflight = new ByteBudget(limits.maxInflightBytes);
  const closing = new AbortController();
  const refusals = new RefusalLog(logger ?? noopLogger, 'api');
  const activity = { lastRequestAt: 0, inFlight: 0 };
  const serveApi = createApiHandler(node, {
    onRefused: (req) =>
      refusals.secret(`${req.socket.remoteAddress}:${req.socket.remotePort}`, 'API token'),
    ...handlerOptions,
    inflight,
    signal: closing.signal,
    onError:
      handlerOptions.onError ??
      ((err, req) =>
        logger?.warn(
          {
            err: err instanceof Error ? err.message : String(err),
            method: req.method,
            url: req.url,
          },
          'API request failed',
        )),
  });
  const handler: ApiHandler = (req, res) => {
    if (req.url?.startsWith('/api') === true) {
      activity.lastRequestAt = Date.now();
      activity.inFlight++;
      res.once('close', () => {
        activity.inFlight--;
        activity.lastRequestAt = Date.now();
      });
    }
    serveApi(req, res);
  };
  // Room in the request head for a URL of maxUrlBytes.
  const maxUrlBytes = handlerOptions.maxUrlBytes ?? DEFAULT_MAX_URL_BYTES;
  const maxHeaderSize = maxUrlBytes + 16 * 1024;
  const timeouts = httpServerOptions(limits);
  const server: Server =
    tls?.serving === true
      ? createTlsServer(
          {
            ...timeouts,
            maxHeaderSize,
            cert: tls.cert,
            key: tls.key,
            // A client certificate is checked below, where the reason of a refusal can be logged.
            ...(tls.clientAuth ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
          },
          handler,
        )
      : createServer({ ...timeouts, maxHeaderSize }, handler);
  if (tls?.serving === true) {
    // Prepended: an unaccepted connection is destroyed before node:http reads a byte of it.
    if (tls.clientAuth) {
      server.prependListener('secureConnection', (socket: TLSSocket) =>
        refusals.refuseUnauthorized(socket),
      );
    }
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      socket.destroy();
      refusals.handshake(err, socket);
    });
  }
  const guard = limitHttpServer(
    server,
    limits,
    logger ?? noopLogger,
    'api',
    connectionLogIntervalMs,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls?.serving === true ? 'https' : 'http'}://${shownHost}:${address.port}`;
  logServerErrors(server, logger ?? noopLogger, 'api');
  logger?.info({ api: url }, 'serving API');
  if (logger !== undefined) logLimits(logger, 'api', limits);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing.abort(new UnavailableError('node is shutting down'));
      server.close(() => resolve());
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
      grace.unref();
      server.once('close', () => clearTimeout(grace));
    });
    return closed;
  };
  return {
    server,
    address,
    url,
    close,
    stats: () => serverStats(limits, guard, inflight),
    activity,
  };
}
