// membership.ts: the membership seam: a source of peer sets that a node applies
// to its ring (a static list, etcd, DNS).

/**
 * Membership delivers the cluster's member list to a node. Each call of
 * `apply` carries the whole set (never a diff), so the node replaces its ring
 * in one step. A source that loses contact with its backend keeps quiet rather
 * than deliver an empty or self-only set: the last known set stays in force.
 */
export interface Membership {
  /** name says where peer sets come from, for `/peers`, logs and metrics (e.g. `static`, `etcd`). */
  readonly name: string;
  /**
   * start registers this node (if the source does that) and begins delivering
   * peer sets to `apply`. It resolves once started; the first set may come later.
   * The node calls it after it is listening, so peers never route to a node
   * that cannot answer yet.
   */
  start(apply: (peers: readonly string[]) => void): Promise<void>;
  /** close deregisters this node (e.g. revokes its lease) and stops. Idempotent. */
  close(): Promise<void>;
  /** status describes the source's state for `/peers` (connected, lease, last error...). */
  status?(): Record<string, unknown>;
}

/** staticMembership is a fixed member list: it applies `peers` once, at start. */
export function staticMembership(peers: readonly string[]): Membership {
  const list = [...peers];
  return {
    name: 'static',
    async start(apply) {
      apply(list);
    },
    async close() {},
    status: () => ({ peers: list.length }),
  };
}
