// index.ts: the core entry, `peercache`: groups, nodes, sinks, errors and the building
// blocks of a local cache. Transports, etcd, the API server and the origin loader have
// entries of their own (`peercache/http`, `/tcp`, `/grpc`, `/etcd`, `/api`, `/origin`), so
// importing this one loads none of undici, @grpc/grpc-js or the etcd client.

export type { LoadManyContext, LoadManyFn } from './core/batch-loader.js';
export { ByteView } from './core/byteview.js';
export {
  type ClearResult,
  GetManyResult,
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
  type PeerCallObserver,
  type PeerCallOp,
  type PeerHealthOptions,
  type PeerHealthState,
  PROBE_GROUP,
  peerHealthy,
} from './core/peer-health.js';
export {
  type CallOptions,
  clearAt,
  type GroupLookup,
  noPeers,
  type PeerClient,
  type PeerPicker,
  type PeerServedGroup,
  type PeerValue,
  removeKeys,
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
  type AllocatingByteSliceSink,
  allocatingByteSliceSink,
  type ByteViewSink,
  byteViewSink,
  type ProtoSink,
  protoSink,
  type Sink,
  type StringSink,
  stringSink,
  type TruncatingByteSliceSink,
  truncatingByteSliceSink,
} from './core/sinks.js';
export type { CacheStats, CacheType, GroupStats } from './core/stats.js';
export type {
  SpanAttributes,
  SpanKind,
  Telemetry,
  TelemetrySpan,
} from './core/telemetry.js';
export * from './errors.js';
export { LRU, type LRUOptions } from './lru/lru.js';
export { type Membership, staticMembership } from './membership/membership.js';
export type { NodeMetrics } from './node/metrics.js';
export { CacheNode, createNode, type NodeOptions, type PeersInfo } from './node/node.js';
export { BalancedRing } from './ring/balanced.js';
export { fnv1_64, Md5FnvRing, type Md5FnvRingOptions } from './ring/md5-fnv.js';
export {
  createRing,
  isRingKind,
  type OwnerRing,
  type RingFactoryOptions,
  type RingKind,
  ringKinds,
} from './ring/owner-ring.js';
export { crc32, type HashFn, Ring, type RingOptions } from './ring/ring.js';
export {
  type CertificateCheckOptions,
  CertificateError,
  type CertificateProblem,
  type CertificateProblemCode,
  checkCertificate,
} from './security/cert-check.js';
export { readTlsFiles } from './security/read-tls.js';
export type { TlsFiles, TlsOptions } from './security/tls.js';
export {
  type FlightContext,
  type FlightOptions,
  SingleFlight,
} from './singleflight/singleflight.js';
export {
  MemoryNetwork,
  type MemoryPeerServer,
  type MemoryTransport,
  type MemoryTransportOptions,
  memoryTransport,
} from './transport/memory/index.js';
export type {
  ClientOptions,
  PeerServer,
  PeerService,
  PeerTransport,
  ServeOptions,
} from './transport/transport.js';
export { type Clock, systemClock } from './util/clock.js';
export type { ServerLimitOptions, ServerStats } from './util/server-limits.js';
