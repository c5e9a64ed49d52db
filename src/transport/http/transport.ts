// transport.ts: the HTTP peer transport as a PeerTransport: undici clients and a
// node:http (or, with TLS, node:https) server running the golang/groupcache-compatible handler.

import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { peerLeaving } from '../../core/leave.js';
import type { GroupLookup, PeerClient } from '../../core/peers.js';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../../limits.js';
import { RefusalLog } from '../../security/refusals.js';
import { type ResolvedTls, resolveTls } from '../../security/tls.js';
import { ByteBudget } from '../../util/byte-budget.js';
import { httpServerOptions, limitHttpServer } from '../../util/http-limits.js';
import {
  logLimits,
  logServerErrors,
  PEER_CONNECTION_SHARE,
  resolveServerLimits,
  type ServerLimitOptions,
  type ServerStats,
  serverStats,
} from '../../util/server-limits.js';
import type { PeerServer, PeerService, PeerTransport, ServeOptions } from '../transport.js';
import { createHttpTransport, type HttpTransportOptions } from './client.js';
import {
  createHttpPeerHandler,
  defaultMaxInflightBytes,
  type HttpPeerHandler,
  type HttpPeerHandlerOptions,
} from './server.js';

/**
 * HttpPeerTransportOptions configure {@link httpTransport}: the client's options and the
 * handler's. `tls` configures both sides: with `tls.cert` and `tls.key` the server speaks
 * HTTPS only (and with `tls.clientAuth` requires client certificates from `tls.ca`), and
 * clients dial `https://` peers as {@link HttpTransportOptions.tls} says. `peerSecret` is
 * both sent on every request and required on every request served.
 */
export interface HttpPeerTransportOptions
  extends HttpTransportOptions,
    Omit<
      HttpPeerHandlerOptions,
      'signalFor' | 'onError' | 'onRefused' | 'inflight' | 'maxInflightBytes'
    >,
    ServerLimitOptions {
  /**
   * keepAliveTimeoutMs is the former name of `idleTimeoutMs`, used when that
   * is not given. Default 30,000.
   */
  keepAliveTimeoutMs?: number;
  /**
   * connectionLogIntervalMs is the shortest time between two log lines about
   * refused connections. Default 10,000.
   */
  connectionLogIntervalMs?: number | undefined;
}

/**
 * HttpPeerServer is the running HTTP peer server; `stats()` tells its
 * connections and request bytes in flight against its limits.
 */
export interface HttpPeerServer extends PeerServer {
  stats(): ServerStats;
}

/**
 * HttpPeerTransport is the HTTP transport. Besides serving on its own, it gives
 * the bare `(req, res, next?)` handler of a node, to mount in an application's
 * own server (node:http, Express, Fastify) instead of calling `listen()`:
 *
 * ```ts
 * const transport = httpTransport({ peerSecret });
 * const node = createNode({ self, peers, transport });
 * server.on('request', transport.handler(node));
 * ```
 */
export interface HttpPeerTransport extends PeerTransport {
  serve(groups: GroupLookup, options: ServeOptions): Promise<HttpPeerServer>;
  /**
   * handler answers peer requests for `node`'s groups with this transport's
   * options (base path, secret, limits); each request ends when the node's
   * `shutdownSignal` fires, unless `options.signalFor` says otherwise. The node is
   * told it is mounted (`onMounted`): it then tells its peers when it leaves.
   */
  handler(
    node: PeerService,
    options?: Pick<HttpPeerHandlerOptions, 'signalFor' | 'onError' | 'onRefused'>,
  ): HttpPeerHandler;
}

/**
 * httpTransport builds the HTTP peer transport (the default, and the one Go
 * groupcache speaks). Its server takes the {@link ServerLimitOptions}:
 * `maxConnections` defaults to half the open-file limit (at most 4,096), the
 * timeouts to 30 s (10 s for a TLS handshake), `maxInflightBytes` to 256 MiB or
 * twice the largest PUT. Throws InvalidArgumentError on a bad option.
 */
export function httpTransport(options: HttpPeerTransportOptions = {}): HttpPeerTransport {
  const tls = resolveTls(options.tls);
  const limits = resolveServerLimits(
    { ...options, idleTimeoutMs: options.idleTimeoutMs ?? options.keepAliveTimeoutMs },
    {
      connectionShare: PEER_CONNECTION_SHARE,
      connectionCap: 4096,
      maxInflightBytes: defaultMaxInflightBytes(
        options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
        options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES,
      ),
    },
  );
  const clients = createHttpTransport(options);
  const handlerOptions: HttpPeerHandlerOptions = {
    ...(options.dialect !== undefined ? { dialect: options.dialect } : {}),
    ...(options.peerSecret !== undefined ? { peerSecret: options.peerSecret } : {}),
    ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
    ...(options.maxKeyBytes !== undefined ? { maxKeyBytes: options.maxKeyBytes } : {}),
    ...(options.maxValueBytes !== undefined ? { maxValueBytes: options.maxValueBytes } : {}),
    // A handler mounted in a server of one's own counts its bodies under the same cap.
    maxInflightBytes: limits.maxInflightBytes,
  };
  const handler: HttpPeerTransport['handler'] = (node, extra) => {
    const made = createHttpPeerHandler(node.servedToPeers ?? node, {
      ...handlerOptions,
      signalFor: () => node.shutdownSignal,
      ...extra,
    });
    // Only once a handler exists: a call refused for its options leaves the node as it was.
    node.onMounted?.();
    return made;
  };
  return {
    name: 'http',
    client: (url: string): PeerClient => clients.client(url),
    handler,
    async serve(groups: GroupLookup, serve: ServeOptions): Promise<HttpPeerServer> {
      // One budget per server: each serve() counts its own bodies.
      const inflight = new ByteBudget(limits.maxInflightBytes);
      const refusals = new RefusalLog(serve.logger, 'peer');
      const handle = createHttpPeerHandler(groups, {
        ...handlerOptions,
        inflight,
        signalFor: () => serve.signal,
        onError: (err, req) => {
          // A node that is leaving answers so by design: nothing to warn about.
          if (peerLeaving(err)) return;
          serve.logger.warn(
            { err: err instanceof Error ? err.message : String(err), url: req.url },
            'peer request failed',
          );
        },
        onRefused: (req) => refusals.secret(`${req.socket.remoteAddress}:${req.socket.remotePort}`),
      });
      const server = createPeerServer(httpServerOptions(limits), tls, refusals, (req, res) =>
        handle(req, res),
      );
      for (const problem of tls?.warnings ?? []) {
        serve.logger.warn({ code: problem.code }, `peer TLS: ${problem.message}`);
      }
      const guard = limitHttpServer(
        server,
        limits,
        serve.logger,
        'peer',
        options.connectionLogIntervalMs,
      );
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(serve.port, serve.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      logServerErrors(server, serve.logger, 'peer');
      logLimits(serve.logger, 'peer', limits);
      let closing: Promise<void> | undefined;
      return {
        address: server.address() as AddressInfo,
        stats: () => serverStats(limits, guard, inflight),
        close(graceMs: number) {
          closing ??= new Promise<void>((resolve) => {
            const grace = setTimeout(() => server.closeAllConnections(), graceMs);
            grace.unref();
            server.close(() => {
              clearTimeout(grace);
              resolve();
            });
            server.closeIdleConnections();
          });
          return closing;
        },
      };
    },
    close: () => clients.close(),
  };
}

/**
 * createPeerServer makes the server that answers peers: node:https when `tls`
 * has a certificate (requiring and checking client certificates under
 * `clientAuth`), else node:http. Failed handshakes and refused client
 * certificates are logged through `refusals`, with the reason.
 */
function createPeerServer(
  limits: ServerOptions & { handshakeTimeout: number },
  tls: ResolvedTls | undefined,
  refusals: RefusalLog,
  listener: RequestListener,
): Server {
  if (tls?.serving !== true) return createServer(limits, listener);
  const server = createTlsServer(
    {
      ...limits,
      cert: tls.cert,
      key: tls.key,
      // A client certificate is checked below, where the reason of a refusal can be logged.
      ...(tls.clientAuth ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
    },
    listener,
  );
  // Prepended: an unaccepted connection is destroyed before node:http reads a byte of it.
  if (tls.clientAuth) {
    server.prependListener('secureConnection', (socket) => refusals.refuseUnauthorized(socket));
  }
  server.on('tlsClientError', (err, socket) => {
    socket.destroy();
    refusals.handshake(err, socket);
  });
  return server;
}
