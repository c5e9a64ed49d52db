// transport.ts: the HTTP peer transport as a PeerTransport: undici clients and a
// node:http server running the golang/groupcache-compatible handler.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GroupLookup, PeerClient } from '../../core/peers.js';
import type { PeerServer, PeerTransport, ServeOptions } from '../transport.js';
import { createHttpTransport, type HttpTransportOptions } from './client.js';
import {
  createHttpPeerHandler,
  type HttpPeerHandler,
  type HttpPeerHandlerOptions,
} from './server.js';

/** HttpPeerTransportOptions configure {@link httpTransport}: the client's options and the handler's. */
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
  const clients = createHttpTransport(options);
  const handlerOptions: HttpPeerHandlerOptions = {
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
      const server = createServer(
        { keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000 },
        (req, res) => handle(req, res),
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
