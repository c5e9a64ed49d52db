// index.ts: the HTTP peer transport, wire-compatible with golang/groupcache: client and server.

export {
  createHttpTransport,
  type HttpTransport,
  type HttpTransportOptions,
} from './client.js';
export { escapePathSegment, unescapePathSegment } from './escape.js';
export {
  createHttpPeerHandler,
  DEFAULT_MAX_KEY_BYTES,
  type HttpPeerHandler,
  type HttpPeerHandlerOptions,
} from './server.js';
export {
  type HttpPeerServer,
  type HttpPeerTransport,
  type HttpPeerTransportOptions,
  httpTransport,
} from './transport.js';
export { DEFAULT_BASE_PATH, DEFAULT_MAX_VALUE_BYTES } from './wire.js';
