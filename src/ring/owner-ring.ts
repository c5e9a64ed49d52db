// owner-ring.ts: the seam every ring kind implements, the names of the kinds, and the
// factory that builds one by name.
import { InvalidArgumentError } from '../errors.js';
import { BalancedRing } from './balanced.js';
import { Md5FnvRing } from './md5-fnv.js';
import { type HashFn, Ring } from './ring.js';

/**
 * RingKind names a way of mapping keys to owners. Every node of a cluster must
 * use the same one.
 * - `golang`: golang/groupcache's (CRC-32, 50 points per peer); the default.
 * - `mailgun`: mailgun/groupcache v2's (FNV-1 64 of MD5, points keyed by the peer's base URL).
 * - `groupcache-go`: groupcache-go v3's (as `mailgun`, points keyed by the peer's `host:port`).
 * - `balanced`: peercache's own, for clusters with no Go peer: multi-probe
 *   consistent hashing, the busiest member within a few percent of the mean.
 */
export type RingKind = 'golang' | 'mailgun' | 'groupcache-go' | 'balanced';

/** ringKinds lists every {@link RingKind}, the default first. */
export const ringKinds: readonly RingKind[] = ['golang', 'mailgun', 'groupcache-go', 'balanced'];

/** isRingKind tells whether `value` names a {@link RingKind}. */
export function isRingKind(value: unknown): value is RingKind {
  return typeof value === 'string' && (ringKinds as readonly string[]).includes(value);
}

/**
 * OwnerRing maps keys to owners among a set of members (peer base URLs). The
 * answer depends only on the members, never on the order they were given in,
 * so nodes that agree on the members agree on every key's owner.
 */
export interface OwnerRing {
  /** kind names the algorithm. */
  readonly kind: RingKind;
  /** set replaces the members (duplicates ignored); a bad peer changes nothing. */
  set(peers: Iterable<string>): void;
  /** get returns the owner of `key`, or `undefined` when there are no members. */
  get(key: string): string | undefined;
  /**
   * next returns the member that takes `key` when its owner is passed over:
   * the members after the owner in this ring's order for the key, the first
   * that `accept` takes; each offered at most once. The first one offered is
   * the owner `key` would have were the owner removed.
   */
  next(key: string, accept: (peer: string) => boolean): string | undefined;
  /** members returns the members, sorted (a copy). */
  members(): string[];
  /**
   * shares returns the fraction of the key hash space each member owns
   * (fractions summing to 1; empty without members): the share of uniformly
   * spread keys it would own.
   */
  shares(): Map<string, number>;
}

/** RingFactoryOptions configure {@link createRing}. */
export interface RingFactoryOptions {
  /** kind is the algorithm. Default `golang`. */
  kind?: RingKind | undefined;
  /**
   * replicas is the number of points per peer of the Go rings (`golang`,
   * `mailgun`, `groupcache-go`); default 50, as theirs. The `balanced` ring
   * takes none: giving it is an InvalidArgumentError.
   */
  replicas?: number | undefined;
  /** hash replaces CRC-32 in the `golang` ring; for any other kind it is an InvalidArgumentError. */
  hash?: HashFn | undefined;
}

/** createRing builds an empty ring of the given kind; bad options throw InvalidArgumentError. */
export function createRing(options: RingFactoryOptions = {}): OwnerRing {
  const { kind = 'golang', replicas, hash } = options;
  if (!isRingKind(kind)) {
    throw new InvalidArgumentError(
      `ring must be one of ${ringKinds.join(', ')}, got ${String(kind)}`,
    );
  }
  if (hash !== undefined && kind !== 'golang') {
    throw new InvalidArgumentError(`hash applies to the golang ring only, not to ${kind}`);
  }
  switch (kind) {
    case 'golang':
      return new Ring({ replicas, hash });
    case 'mailgun':
      return new Md5FnvRing({ replicas, peerKey: 'url' });
    case 'groupcache-go':
      return new Md5FnvRing({ replicas, peerKey: 'host:port' });
    case 'balanced':
      if (replicas !== undefined) {
        throw new InvalidArgumentError('replicas applies to the Go rings, not to balanced');
      }
      return new BalancedRing();
  }
}
