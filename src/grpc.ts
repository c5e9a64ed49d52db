// grpc.ts: the `peercache/grpc` entry: the gRPC peer transport (loads @grpc/grpc-js).

export type { GrpcPeerServer } from './transport/grpc/server.js';
export {
  type GrpcTransport,
  type GrpcTransportOptions,
  grpcTransport,
} from './transport/grpc/transport.js';
