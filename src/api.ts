// api.ts: the `peercache/api` entry: the HTTP API of a node (get, set, remove, peers,
// stats, metrics, health), as a handler or a server of its own.

export {
  type ApiHandler,
  type ApiHandlerOptions,
  type ApiNode,
  type ApiServer,
  type ApiServerOptions,
  createApiHandler,
  startApiServer,
} from './api/server.js';
