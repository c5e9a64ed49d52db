// index.ts: the public API of peercache.

export {
  createApiHandler,
  startApiServer,
} from './api/server.js';
export { ByteView } from './core/byteview.js';
export {
  type GetOptions,
  type Getter,
  Group,
  type GroupOptions,
  type LoadContext,
  type LoadFn,
  type LoadResult,
  type SetOptions,
} from './core/group.js';
export type { LogFn, Logger } from './core/logger.js';
export {
  HealthCheckedPeer,
  type HealthCheckedPeerOptions,
  type HealthClock,
  type PeerHealthOptions,
  type PeerHealthState,
  PROBE_GROUP,
  peerHealthy,
} from './core/peer-health.js';
export {
  type CallOptions,
  type GroupLookup,
  noPeers,
  type PeerClient,
  type PeerPicker,
  type PeerServedGroup,
  type PeerValue,
} from './core/peers.js';
export {
  defaultGroups,
  GroupRegistry,
  type GroupRegistryOptions,
  getGroup,
  newGroup,
} from './core/registry.js';
export { RingPicker, type RingPickerOptions } from './core/ring-picker.js';
export {
  AllocatingByteSliceSink,
  allocatingByteSliceSink,
  ByteViewSink,
  byteViewSink,
  ProtoSink,
  protoSink,
  type Sink,
  SinkBase,
  StringSink,
  stringSink,
  TruncatingByteSliceSink,
  truncatingByteSliceSink,
} from './core/sinks.js';
export type { CacheStats, CacheType, GroupStats } from './core/stats.js';
export * from './errors.js';
export { createOriginLoader } from './loaders/origin.js';
export { createScoresLoader, DEMO_SCORES } from './loaders/scores.js';
export { LRU, type LRUOptions } from './lru/lru.js';
export {
  createEtcdMembership,
  type EtcdMembershipOptions,
  type EtcdMembershipStatus,
  type EtcdTimingOptions,
  type EtcdTlsOptions,
} from './membership/etcd/index.js';
export { type Membership, staticMembership } from './membership/membership.js';
export { NodeMetrics } from './node/metrics.js';
export { CacheNode, createNode, type NodeOptions, type PeersInfo } from './node/node.js';
export { crc32, type HashFn, Ring, type RingOptions } from './ring/ring.js';
export {
  type CertificateCheckOptions,
  CertificateError,
  type CertificateProblem,
  type CertificateProblemCode,
  checkCertificate,
  readTlsFiles,
  resolveTls,
  type TlsFiles,
  type TlsOptions,
} from './security/index.js';
export {
  type FlightContext,
  type FlightOptions,
  SingleFlight,
} from './singleflight/singleflight.js';
export {
  type GrpcPeerServer,
  type GrpcTransport,
  type GrpcTransportOptions,
  grpcTransport,
} from './transport/grpc/index.js';
export {
  createHttpPeerHandler,
  createHttpTransport,
  type HttpPeerHandler,
  type HttpPeerHandlerOptions,
  type HttpPeerServer,
  type HttpPeerTransport,
  type HttpPeerTransportOptions,
  type HttpTransport,
  type HttpTransportOptions,
  httpTransport,
} from './transport/http/index.js';
export {
  MemoryNetwork,
  type MemoryPeerServer,
  type MemoryTransport,
  type MemoryTransportOptions,
  memoryTransport,
} from './transport/memory/index.js';
export { type TcpTransportOptions, tcpTransport } from './transport/tcp/index.js';
export type { PeerServer, PeerTransport, ServeOptions } from './transport/transport.js';
export { ByteBudget } from './util/byte-budget.js';
export type { ServerLimitOptions, ServerStats } from './util/server-limits.js';
