// index.ts: DNS membership: members are the A/AAAA or SRV records of a name, polled;
// createDnsMembership is the entry point.
import type { Membership } from '../membership.js';
import { createResolver } from './lookup.js';
import { type DnsMembershipOptions, resolveDnsOptions } from './options.js';
import { DnsMembership } from './session.js';

export type { DnsResolver, SrvAnswer } from './lookup.js';
export type { DnsMembershipOptions } from './options.js';
export type { DnsMembershipStatus } from './session.js';

/**
 * createDnsMembership returns a {@link Membership} whose members are the
 * records of a DNS name: the A/AAAA records of `name` (a Kubernetes headless
 * Service, a Compose service), each with `port`, or with `srv: true` the SRV
 * records of `name`, each target's addresses with the record's port. DNS is
 * polled every `intervalMs` (5 s, with jitter); a changed answer is applied as
 * one set, self always included. A failed lookup keeps the last set, and so
 * does an empty answer until `emptyPolls` (3) lookups in a row agree. Nothing
 * registers: a node is a member once DNS lists it. Bad options throw
 * InvalidArgumentError here; nothing is asked before `start()`.
 *
 * @example
 * const self = `http://${process.env.POD_IP}:8001`;
 * const membership = createDnsMembership({ name: 'peercache.default.svc.cluster.local', self });
 * const node = createNode({ self, membership });
 * await node.listen(); // serves, then looks the members up and applies them
 */
export function createDnsMembership(options: DnsMembershipOptions): Membership {
  const resolved = resolveDnsOptions(options);
  return new DnsMembership(resolved, resolved.resolver ?? createResolver(resolved));
}
