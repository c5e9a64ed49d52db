// index.ts: the gRPC peer transport: GroupCache Get/Set/Remove over grpc-js, plus grpc.health.v1.

export type { GrpcPeerServer } from './server.js';
export {
  GROUP_CACHE_SERVICE,
  groupCacheMethods,
  healthMethods,
  MalformedMessage,
  type Received,
  type UnaryMethod,
  unaryMethod,
} from './service.js';
export { errorFromStatus, grpcStatus, NO_SUCH_GROUP_STATUS } from './status.js';
export { type GrpcTransport, type GrpcTransportOptions, grpcTransport } from './transport.js';
