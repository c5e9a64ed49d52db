// index.ts: the gRPC peer transport: GroupCache Get/Set/Remove/GetMany and the Exchange stream
// over grpc-js, plus grpc.health.v1.

export type { GrpcPeerServer } from './server.js';
export {
  GROUP_CACHE_SERVICE,
  groupCacheMethods,
  healthMethods,
  MalformedMessage,
  type Received,
  type StreamMethod,
  streamMethod,
  type UnaryMethod,
  unaryMethod,
} from './service.js';
export { errorFromStatus, grpcStatus, NO_SUCH_GROUP_STATUS } from './status.js';
export { type GrpcTransport, type GrpcTransportOptions, grpcTransport } from './transport.js';
