// http.ts: the `peercache/http` entry: the HTTP peer transport (golang/groupcache's
// protocol, `createNode`'s default) and its handler, to mount in a server of your own.

export type { HttpTransportOptions } from './transport/http/client.js';
export { HTTP_DIALECTS, type HttpDialect } from './transport/http/dialect.js';
export {
  createHttpPeerHandler,
  type HttpPeerHandler,
  type HttpPeerHandlerOptions,
} from './transport/http/server.js';
export {
  type HttpPeerServer,
  type HttpPeerTransport,
  type HttpPeerTransportOptions,
  httpTransport,
} from './transport/http/transport.js';
