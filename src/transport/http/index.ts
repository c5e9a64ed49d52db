// index.ts: the HTTP peer transport, wire-compatible with golang/groupcache: client and server.

export { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../../limits.js';
export { escapePathSegment, unescapePathSegment } from '../../util/path-escape.js';
export {
  createHttpTransport,
  type HttpTransport,
  type HttpTransportOptions,
} from './client.js';
export { HTTP_DIALECTS, type HttpDialect } from './dialect.js';
export {
  createHttpPeerHandler,
  type HttpPeerHandler,
  type HttpPeerHandlerOptions,
} from './server.js';
export {
  type HttpPeerServer,
  type HttpPeerTransport,
  type HttpPeerTransportOptions,
  httpTransport,
} from './transport.js';
export { DEFAULT_BASE_PATH } from './wire.js';
