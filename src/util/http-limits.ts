// http-limits.ts: the server-wide limits of a node:http(s) server (the HTTP peer server and the
// API): read and idle timeouts, the TLS handshake timeout, the connection limit.
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../core/logger.js';
import { type ConnectionGuard, guardConnections, type ServerLimits } from './server-limits.js';

/**
 * httpServerOptions are the node:http(s) constructor options that enforce
 * `limits`: `headersTimeout` and `requestTimeout` (the whole request, headers
 * and body, within `readTimeoutMs`: a slower one is answered 408, or has its
 * connection closed once an answer has begun), `keepAliveTimeout` (an idle
 * kept-alive connection is closed after `idleTimeoutMs`), how often Node looks
 * for expired requests (a quarter of the read timeout, at most once a second),
 * and the TLS `handshakeTimeout`.
 */
export function httpServerOptions(limits: ServerLimits): ServerOptions & {
  handshakeTimeout: number;
} {
  return {
    headersTimeout: limits.readTimeoutMs,
    requestTimeout: limits.readTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    connectionsCheckingInterval: Math.max(
      10,
      Math.min(1_000, Math.floor(limits.readTimeoutMs / 4)),
    ),
    handshakeTimeout: limits.handshakeTimeoutMs,
  };
}

/**
 * limitHttpServer applies the rest of `limits` to a server made with
 * {@link httpServerOptions}: the connection limit (refusals logged, see
 * guardConnections) and an idle timeout on every connection: one silent for
 * `idleTimeoutMs` with no request in flight (e.g. connected and never sending a
 * byte) is closed; one whose request is still being answered is left alone (a
 * slow load is not idleness; the read timeout covers a slow request).
 */
export function limitHttpServer(
  server: Server,
  limits: ServerLimits,
  logger: Logger,
  what: string,
  logIntervalMs?: number,
): ConnectionGuard {
  const guard = guardConnections(server, limits.maxConnections, logger, what, logIntervalMs);
  // Requests being answered on each connection (HTTP/1.1 may pipeline several).
  const busy = new WeakMap<Socket, number>();
  server.on('request', (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left > 0) busy.set(socket, left);
      else busy.delete(socket);
    });
  });
  server.setTimeout(limits.idleTimeoutMs);
  // With a 'timeout' listener, Node leaves the decision to close to us.
  server.on('timeout', (socket: Socket) => {
    if (!busy.has(socket)) socket.destroy();
  });
  return guard;
}
