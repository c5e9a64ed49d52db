// etcd.ts: the `peercache/etcd` entry: membership from etcd (leases and a watch; loads @grpc/grpc-js).

export {
  createEtcdMembership,
  type EtcdMembershipOptions,
  type EtcdMembershipStatus,
  type EtcdTimingOptions,
  type EtcdTlsOptions,
} from './membership/etcd/index.js';
