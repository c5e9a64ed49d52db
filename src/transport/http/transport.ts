// transport.ts: the HTTP peer transport as a PeerTransport: undici clients and a
// node:http (or, with TLS, node:https) server running the golang/groupcache-compatible handler.
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { GroupLookup, PeerClient } from '../../core/peers.js';
import { type ResolvedTls, resolveTls } from '../../security/tls.js';
import type { PeerServer, PeerTransport, ServeOptions } from '../transport.js';
import { createHttpTransport, type HttpTransportOptions } from './client.js';
import {
  createHttpPeerHandler,
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
    Omit<HttpPeerHandlerOptions, 'signalFor' | 'onError'> {
  /** keepAliveTimeoutMs is how long the server keeps an idle peer connection. Default 30,000. */
  keepAliveTimeoutMs?: number;
}

/**
 * HttpPeerTransport is the HTTP transport; `handler(groups)` also gives the bare
 * `(req, res, next?)` handler, to mount in an application's own server.
 */
export interface HttpPeerTransport extends PeerTransport {
  handler(
    groups: GroupLookup,
    options?: Pick<HttpPeerHandlerOptions, 'signalFor' | 'onError'>,
  ): HttpPeerHandler;
}

/** httpTransport builds the HTTP peer transport (the default, and the one Go groupcache speaks). */
export function httpTransport(options: HttpPeerTransportOptions = {}): HttpPeerTransport {
  const tls = resolveTls(options.tls);
  const clients = createHttpTransport(options);
  const handlerOptions: HttpPeerHandlerOptions = {
    ...(options.peerSecret !== undefined ? { peerSecret: options.peerSecret } : {}),
    ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
    ...(options.maxKeyBytes !== undefined ? { maxKeyBytes: options.maxKeyBytes } : {}),
    ...(options.maxValueBytes !== undefined ? { maxValueBytes: options.maxValueBytes } : {}),
  };
  const handler: HttpPeerTransport['handler'] = (groups, extra) =>
    createHttpPeerHandler(groups, { ...handlerOptions, ...extra });
  return {
    name: 'http',
    client: (url: string): PeerClient => clients.client(url),
    handler,
    async serve(groups: GroupLookup, serve: ServeOptions): Promise<PeerServer> {
      const handle = handler(groups, {
        signalFor: () => serve.signal,
        onError: (err, req) =>
          serve.logger.warn(
            { err: err instanceof Error ? err.message : String(err), url: req.url },
            'peer request failed',
          ),
      });
      const server = createPeerServer(options.keepAliveTimeoutMs ?? 30_000, tls, (req, res) =>
        handle(req, res),
      );
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(serve.port, serve.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      let closing: Promise<void> | undefined;
      return {
        address: server.address() as AddressInfo,
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
 * `clientAuth`), else node:http.
 */
function createPeerServer(
  keepAliveTimeout: number,
  tls: ResolvedTls | undefined,
  listener: RequestListener,
): Server {
  if (tls?.serving !== true) return createServer({ keepAliveTimeout }, listener);
  return createTlsServer(
    {
      keepAliveTimeout,
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientAuth ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
    },
    listener,
  );
}
