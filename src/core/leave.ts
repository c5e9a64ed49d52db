// leave.ts: how a node that is leaving the cluster tells its peers, and how they know: the
// leave notice, the "leaving" answer, and the group lookup a node serves peers through.
import { isCacheError, NotFoundError, UnavailableError } from '../errors.js';
import type { NodeStats, NodeStatsRequest } from './node-stats.js';
import type { CallOptions, GroupLookup, PeerServedGroup, PeerValue } from './peers.js';

/**
 * LEAVE_NOTICE_GROUP is the group a leaving node first asks each peer for, with its own
 * URL as the key: the peer counts the node's keys as the next owners' when it is asked
 * for them, but still routes its own requests to the node; it answers an empty value.
 * A golang/groupcache peer answers `no such group`, and learns nothing.
 */
export const LEAVE_NOTICE_GROUP = '_peercache_leaving';

/**
 * LEFT_NOTICE_GROUP is the group a leaving node asks each peer for, its own URL as
 * the key, once every peer has taken the first notice: the peer takes the node off
 * its routing at once. Two steps, so that no peer sends a key to its next owner
 * before that one knows it owns it.
 */
export const LEFT_NOTICE_GROUP = '_peercache_left';

/** NoticeStep is which notice a peer sent: it is about to leave, or it has left the routing. */
export type NoticeStep = 'leaving' | 'left';

/**
 * LEAVING is the words of the answer a leaving node gives to gets and sets from
 * peers, an `UNAVAILABLE` on every transport: peers that read it in an error
 * stop routing to that node (see {@link peerLeaving}).
 */
export const LEAVING = 'node is leaving the cluster';

/** leavingError is the error a leaving node `self` answers peers' gets and sets with. */
export function leavingError(self: string): UnavailableError {
  return new UnavailableError(`${self}: ${LEAVING}: ask the key's next owner`);
}

/**
 * peerLeaving tells whether a failed peer call was answered by a node that is
 * leaving: an UNAVAILABLE error that is not a final answer and carries
 * {@link LEAVING}. The caller routes the key to its next owner; the failure says
 * nothing about the peer's health.
 */
export function peerLeaving(err: unknown): boolean {
  return isCacheError(err, 'UNAVAILABLE') && !err.remote && err.message.includes(LEAVING);
}

/** ServedGroupsOptions configure {@link ServedGroups}. */
export interface ServedGroupsOptions {
  /** self is this node's peer URL, named in its "leaving" answers. */
  self: string;
  /** onNotice hears the URL of each peer that says it is leaving, and which notice it sent. */
  onNotice: (url: string, step: NoticeStep) => void;
}

const EMPTY: PeerValue = Object.freeze({ value: new Uint8Array(0), expireAt: 0, minuteQps: 0 });

/**
 * ServedGroups is the {@link GroupLookup} a node serves peers through. It answers
 * the leave notices of peers ({@link LEAVE_NOTICE_GROUP}, {@link LEFT_NOTICE_GROUP}), and once `leave()` has
 * been called it refuses gets and sets of every group with the "leaving" answer,
 * so each peer that still asks learns to go to the key's next owner; removes are
 * still applied (the node still answers its own API until it closes, and must not
 * keep a copy a write elsewhere has dropped). Until then it hands out the groups
 * themselves: nothing is added to a peer's request.
 */
export class ServedGroups implements GroupLookup {
  readonly #groups: GroupLookup;
  readonly #self: string;
  readonly #leavingNotice: PeerServedGroup;
  readonly #leftNotice: PeerServedGroup;
  #leaving = false;

  constructor(groups: GroupLookup, options: ServedGroupsOptions) {
    this.#groups = groups;
    this.#self = options.self;
    const notice = (name: string, step: NoticeStep): PeerServedGroup => ({
      name,
      getForPeer(url) {
        options.onNotice(url, step);
        return EMPTY;
      },
      setFromPeer() {},
      removeFromPeer() {},
    });
    this.#leavingNotice = notice(LEAVE_NOTICE_GROUP, 'leaving');
    this.#leftNotice = notice(LEFT_NOTICE_GROUP, 'left');
  }

  /** leaving says whether `leave()` has been called. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /** leave makes every later get and set from a peer fail with the "leaving" answer. */
  leave(): void {
    this.#leaving = true;
  }

  /** nodeStats answers a peer's stats call with the node's report, when the node gives one. */
  nodeStats(request: NodeStatsRequest): NodeStats {
    const stats = this.#groups.nodeStats;
    if (stats === undefined) throw new NotFoundError('this node gives no stats');
    return stats.call(this.#groups, request);
  }

  /** shutdownSignal is the node's: it fires when the node gives up on requests in flight. */
  get shutdownSignal(): AbortSignal | undefined {
    return (this.#groups as { shutdownSignal?: AbortSignal }).shutdownSignal;
  }

  /** getGroup returns the group peers ask for, as served now (see {@link ServedGroups}). */
  getGroup(name: string): PeerServedGroup | undefined {
    if (name === LEAVE_NOTICE_GROUP) return this.#leavingNotice;
    if (name === LEFT_NOTICE_GROUP) return this.#leftNotice;
    const group = this.#groups.getGroup(name);
    if (!this.#leaving) return group;
    return refusing(name, group, this.#self);
  }
}

/** refusing is `group` as a leaving node serves it: gets and sets refused, removes applied. */
function refusing(name: string, group: PeerServedGroup | undefined, self: string): PeerServedGroup {
  return {
    name,
    getForPeer(_key: string, _options?: CallOptions): Promise<PeerValue> {
      return Promise.reject(leavingError(self));
    },
    setFromPeer(): void {
      throw leavingError(self);
    },
    removeFromPeer(key: string, options?: CallOptions): void {
      group?.removeFromPeer(key, options);
    },
  };
}
