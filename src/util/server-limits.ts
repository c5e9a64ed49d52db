// server-limits.ts: the limits every server of a node shares (connections, timeouts, request
// bytes in flight): their options, their defaults, the refused-connection log and the stats.
import type { Server, Socket } from 'node:net';
import type { Logger } from '../core/logger.js';
import { InvalidArgumentError } from '../errors.js';
import type { ByteBudget } from './byte-budget.js';
import { defaultMaxConnections } from './fd-limit.js';
import { LogThrottle } from './log-throttle.js';

/**
 * ServerLimitOptions are the limits of one server, with the same names on the
 * HTTP and gRPC peer servers, the tcp peer server and the API server.
 */
export interface ServerLimitOptions {
  /**
   * maxConnections is how many connections the server keeps open at once;
   * more are closed as soon as they are accepted, and logged (one line per
   * 10 s with a count). Default: a share of the process's open-file limit
   * (see each server), so a flood on one port leaves descriptors for the others.
   */
  maxConnections?: number | undefined;
  /** handshakeTimeoutMs bounds a TLS handshake; a client slower than that is cut. Default 10,000. */
  handshakeTimeoutMs?: number | undefined;
  /**
   * idleTimeoutMs is how long a connection with no request in flight may stay
   * silent before the server closes it. Default 30,000.
   */
  idleTimeoutMs?: number | undefined;
  /**
   * readTimeoutMs is how long a request has to arrive in full, once it has
   * begun (HTTP: its headers and its body; gRPC: its message); a slower one is
   * cut. Default 30,000.
   */
  readTimeoutMs?: number | undefined;
  /**
   * maxInflightBytes caps the request bytes the server receives or holds at
   * once, over all connections; a request that would pass it is refused at
   * once as unavailable (HTTP 503 with `Retry-After`, gRPC UNAVAILABLE) without
   * being read. Default: see each server (at least twice its largest request).
   */
  maxInflightBytes?: number | undefined;
}

/** ServerLimits are {@link ServerLimitOptions} with every default filled in. */
export type ServerLimits = { readonly [K in keyof ServerLimitOptions]-?: number };

/** LimitDefaults say how a server takes the defaults of {@link ServerLimitOptions}. */
export interface LimitDefaults {
  /** The share of the open-file limit taken by default for connections, e.g. 0.5. */
  connectionShare: number;
  /** The most connections taken by default. */
  connectionCap: number;
  /** The default of `maxInflightBytes`. */
  maxInflightBytes: number;
}

/** DEFAULT_TIMEOUT_MS is the default of the read and idle timeouts: 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** DEFAULT_HANDSHAKE_TIMEOUT_MS is the default of the TLS handshake timeout: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** PEER_CONNECTION_SHARE is the share of the open-file limit a peer server takes by default. */
export const PEER_CONNECTION_SHARE = 0.5;
/** API_CONNECTION_SHARE is the share of the open-file limit the API server takes by default. */
export const API_CONNECTION_SHARE = 0.25;

/**
 * resolveServerLimits fills in the defaults of `options`. Throws InvalidArgumentError for
 * a limit that is not a positive integer (`maxInflightBytes` may be 0: every
 * request with a body is refused).
 */
export function resolveServerLimits(
  options: ServerLimitOptions,
  defaults: LimitDefaults,
): ServerLimits {
  return {
    maxConnections: positive(
      'maxConnections',
      options.maxConnections,
      defaultMaxConnections(defaults.connectionShare, defaults.connectionCap),
    ),
    handshakeTimeoutMs: positive(
      'handshakeTimeoutMs',
      options.handshakeTimeoutMs,
      DEFAULT_HANDSHAKE_TIMEOUT_MS,
    ),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_TIMEOUT_MS),
    readTimeoutMs: positive('readTimeoutMs', options.readTimeoutMs, DEFAULT_TIMEOUT_MS),
    maxInflightBytes: positive(
      'maxInflightBytes',
      options.maxInflightBytes,
      defaults.maxInflightBytes,
      0,
    ),
  };
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** ServerStats are what a server tells of its limits: connections and request bytes in flight. */
export interface ServerStats {
  /** Connections open now. */
  connections: number;
  /** The connection limit in force. */
  maxConnections: number;
  /** Connections closed at once because the limit was reached, since the server started. */
  refusedConnections: number;
  /** Request bytes reserved now (being received or held). */
  inflightBytes: number;
  /** The most request bytes ever reserved at once. */
  peakInflightBytes: number;
  /** The cap on request bytes in flight. */
  maxInflightBytes: number;
  /** Requests refused because they did not fit under the cap. */
  refusedRequests: number;
}

/** ConnectionGuard is what {@link guardConnections} returns: counts of a server's connections. */
export interface ConnectionGuard {
  /** open counts the connections open now. */
  readonly open: number;
  /** refused counts the connections closed at once because the limit was reached. */
  readonly refused: number;
}

/**
 * guardConnections sets `server.maxConnections` and logs the connections it
 * refuses (net.Server's `drop` event) as a warning naming `what`, at most one
 * line per `logIntervalMs` (default 10,000) with the count refused since the
 * previous line.
 */
export function guardConnections(
  server: Server,
  maxConnections: number,
  logger: Logger,
  what: string,
  logIntervalMs?: number,
): ConnectionGuard {
  server.maxConnections = maxConnections;
  const throttle = new LogThrottle({ intervalMs: logIntervalMs });
  let open = 0;
  let refused = 0;
  let unlogged = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  server.on('drop', (data?: { remoteAddress?: string }) => {
    refused++;
    unlogged++;
    if (throttle.take('drop') === undefined) return;
    const count = unlogged;
    unlogged = 0;
    try {
      logger.warn(
        { server: what, maxConnections, refused: count, remote: data?.remoteAddress },
        'connections refused: the server is at its connection limit',
      );
    } catch {
      // A failing logger must not take the server down with it.
    }
  });
  return {
    get open() {
      return open;
    },
    get refused() {
      return refused;
    },
  };
}

/**
 * logServerErrors logs the errors of a listening server (a failed accept, e.g.
 * when the process is out of descriptors) as warnings naming `what`, at most
 * one line per 10 s with a count, instead of letting them crash the process.
 * Call it once the server listens, so that a failure to bind still rejects.
 */
export function logServerErrors(server: Server, logger: Logger, what: string): void {
  const throttle = new LogThrottle();
  server.on('error', (err: Error & { code?: string }) => {
    const held = throttle.take(err.code ?? err.message);
    if (held === undefined) return;
    try {
      logger.warn(
        { server: what, err: err.message, code: err.code, since: held + 1 },
        'server error: a connection could not be accepted',
      );
    } catch {
      // A failing logger must not take the server down with it.
    }
  });
}

/** serverStats assembles {@link ServerStats} from a server's parts. */
export function serverStats(
  limits: ServerLimits,
  guard: ConnectionGuard,
  budget: ByteBudget,
): ServerStats {
  return {
    connections: guard.open,
    maxConnections: limits.maxConnections,
    refusedConnections: guard.refused,
    inflightBytes: budget.reserved,
    peakInflightBytes: budget.peak,
    maxInflightBytes: budget.limit,
    refusedRequests: budget.refused,
  };
}

/** logLimits logs the limits a server runs with, once, when it starts. */
export function logLimits(logger: Logger, what: string, limits: ServerLimits): void {
  logger.info({ server: what, ...limits }, 'server limits');
}
