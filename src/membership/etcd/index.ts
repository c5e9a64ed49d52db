// index.ts: etcd membership: nodes register under a lease and discover each other
// by watching one key prefix; createEtcdMembership is the entry point.
import type { Membership } from '../membership.js';
import { grpcEtcdClient } from './client.js';
import { type EtcdMembershipOptions, resolveEtcdOptions } from './options.js';
import { EtcdMembership } from './session.js';

export type { EtcdMembershipOptions, EtcdTimingOptions, EtcdTlsOptions } from './options.js';
export type { EtcdMembershipStatus } from './session.js';

/**
 * createEtcdMembership returns a {@link Membership} backed by etcd (v3 API over
 * gRPC). With `self`, the node registers `{prefix}/{service}/nodes/{self}` under
 * a lease it keeps alive, re-granted whenever it is lost; every node watches
 * `{prefix}/{service}/nodes/` and gets the whole member set, coalesced, on each
 * change. While etcd is unreachable the last set stays in force. `close()`
 * revokes the lease so peers drop the node at once. Bad options throw
 * InvalidArgumentError here; nothing connects before `start()`.
 *
 * @example
 * const membership = createEtcdMembership({ endpoints: ['http://10.0.0.9:2379'], self });
 * const node = createNode({ self, membership });
 * await node.listen(); // serves, then registers and applies the member set
 */
export function createEtcdMembership(options: EtcdMembershipOptions): Membership {
  const resolved = resolveEtcdOptions(options);
  const client = grpcEtcdClient({
    endpoints: resolved.endpoints,
    auth: resolved.auth,
    tls: resolved.tls,
    requestTimeoutMs: resolved.requestTimeoutMs,
    reconnectMinMs: resolved.retryMinMs,
    reconnectMaxMs: resolved.retryMaxMs,
  });
  return new EtcdMembership(resolved, client);
}
