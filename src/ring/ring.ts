// ring.ts: the consistent-hash ring that maps a key to its owner peer, point for
// point the same as golang/groupcache's consistenthash (CRC-32 IEEE, 50 replicas).
import { InvalidArgumentError } from '../errors.js';
import {
  arcShares,
  checkPeers,
  compareMembers,
  memberList,
  nextOwner,
  replicasOption,
  sameMembers,
} from './members.js';
import type { OwnerRing } from './owner-ring.js';

/**
 * zlib's crc32, loaded on the first hash rather than imported: node:zlib, and
 * node:stream with it, would add several ms to the import of a local cache.
 */
let zlibCrc32: ((data: string) => number) | undefined;

/**
 * HashFn hashes the UTF-8 bytes of a string to an unsigned 32-bit integer. A
 * result outside that range is reduced to it with `>>> 0`.
 */
export type HashFn = (data: string) => number;

/**
 * crc32 is the default {@link HashFn}: CRC-32 IEEE of the UTF-8 bytes, the same
 * value as Go's `crc32.ChecksumIEEE([]byte(s))`.
 */
export const crc32: HashFn = (data) => {
  zlibCrc32 ??= process.getBuiltinModule('node:zlib').crc32;
  return zlibCrc32(data);
};

/** RingOptions configures a {@link Ring}. */
export interface RingOptions {
  /**
   * Points placed on the ring for each peer: more spread keys more evenly, at
   * the cost of memory and rebuild time. An integer >= 1. Defaults to 50, as
   * golang/groupcache's HTTPPool; every node of a cluster must use the same.
   */
  replicas?: number;
  /** Hash of keys and points. Defaults to {@link crc32}; must match the cluster's. */
  hash?: HashFn;
}

/**
 * Ring is the `golang` {@link OwnerRing}: a consistent-hash ring of peers (their base URLs). Peer `p` gets the
 * points `hash(String(i) + p)` for `i` in `0..replicas-1`; the owner of a key is
 * the peer of the first point at or after `hash(key)` (as unsigned 32-bit
 * integers), wrapping around to the lowest point. With the defaults this picks
 * the same owner as golang/groupcache for every key.
 *
 * Collisions: when points of two peers hash to the same value, the peer whose
 * string sorts first (plain `<` on strings, i.e. UTF-16 code units) owns the
 * point, whatever the order in which peers were added. (Go lets the peer added
 * last win, so two Go nodes that learned of peers in different orders can
 * disagree; with CRC-32 this needs a hash collision and is rare, but it is
 * real: peers `x` and `0x` both produce `"10x"`.)
 *
 * Membership changes rebuild the ring (a sorted `Uint32Array` of points with a
 * parallel array of owners); {@link Ring.get} is one hash and a binary search.
 */
export class Ring implements OwnerRing {
  /** kind is `golang`. */
  readonly kind = 'golang' as const;
  readonly #replicas: number;
  readonly #hash: HashFn;
  /** Members, sorted by {@link compareMembers}; owner indexes point into it. */
  #peers: string[] = [];
  /** Distinct points, ascending. */
  #points = new Uint32Array(0);
  /** `#owners[j]` is the index in `#peers` of the owner of `#points[j]`. */
  #owners = new Uint32Array(0);

  constructor(options: RingOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('ring: options must be an object');
    }
    const { replicas, hash = crc32 } = options;
    if (typeof hash !== 'function') {
      throw new InvalidArgumentError('ring: hash must be a function');
    }
    this.#replicas = replicasOption(replicas);
    this.#hash = hash;
  }

  /** replicas is the number of points each peer has on the ring. */
  get replicas(): number {
    return this.#replicas;
  }

  /** add adds peers; peers already present (or repeated) are ignored. */
  add(...peers: string[]): void {
    checkPeers(peers);
    const next = new Set(this.#peers);
    for (const p of peers) next.add(p);
    if (next.size !== this.#peers.length) this.#rebuild(next);
  }

  /** remove removes peers; peers not present are ignored. */
  remove(...peers: string[]): void {
    checkPeers(peers);
    const next = new Set(this.#peers);
    for (const p of peers) next.delete(p);
    if (next.size !== this.#peers.length) this.#rebuild(next);
  }

  /**
   * set replaces the whole membership with `peers` (duplicates ignored) in one
   * step: the result equals a fresh ring given the same peers. Nothing changes
   * if a peer is invalid.
   */
  set(peers: Iterable<string>): void {
    const next = memberList(peers);
    if (!sameMembers(this.#peers, next)) this.#rebuild(new Set(next));
  }

  /** get returns the peer that owns `key`, or `undefined` when the ring is empty. */
  get(key: string): string | undefined {
    const n = this.#points.length;
    if (n === 0) return undefined;
    return this.#peers[this.#owners[this.#pointOf(key)]!];
  }

  /**
   * next returns the first member after the owner of `key`, walking the ring
   * from the key's point onward (wrapping around), that is not the owner and
   * that `accept` takes; each member is offered at most once, in ring order.
   * `undefined` when no member but the owner is accepted (or the ring is
   * empty). Every ring with the same members gives the same order for a key,
   * so nodes that agree on the members and on `accept` agree on the answer.
   */
  next(key: string, accept: (peer: string) => boolean): string | undefined {
    if (this.#points.length === 0) return undefined;
    const peers = this.#peers;
    const m = nextOwner(this.#owners, this.#pointOf(key), peers.length, (i) => accept(peers[i]!));
    return m < 0 ? undefined : peers[m];
  }

  /**
   * shares returns the fraction of the 32-bit hash space each member owns: the
   * sum of the arcs ending at its points.
   */
  shares(): Map<string, number> {
    const points = this.#points;
    const last = points.length - 1;
    return arcShares(
      this.#peers,
      this.#owners,
      (j) => (j === 0 ? points[0]! + 2 ** 32 - points[last]! : points[j]! - points[j - 1]!),
      2 ** 32,
    );
  }

  /** The index of the first point at or after `hash(key)`, wrapping to 0; the ring is not empty. */
  #pointOf(key: string): number {
    const points = this.#points;
    const n = points.length;
    const h = this.#hash(key) >>> 0;
    // Lower bound: the first point >= h.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === n ? 0 : lo;
  }

  /** has tells whether `peer` is a member. */
  has(peer: string): boolean {
    return this.#indexOf(peer) >= 0;
  }

  /** isEmpty tells whether the ring has no members. */
  isEmpty(): boolean {
    return this.#peers.length === 0;
  }

  /** members returns the peers, sorted (a copy). */
  members(): string[] {
    return this.#peers.slice();
  }

  #indexOf(peer: string): number {
    const peers = this.#peers;
    let lo = 0;
    let hi = peers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareMembers(peers[mid]!, peer);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  #rebuild(members: Set<string>): void {
    const peers = [...members].sort(compareMembers);
    // Peers are visited in sorted order and a point keeps its first owner, so
    // on a collision the peer that sorts first wins, whatever the add order.
    const ownerOf = new Map<number, number>();
    for (let m = 0; m < peers.length; m++) {
      const peer = peers[m]!;
      for (let i = 0; i < this.#replicas; i++) {
        const point = this.#hash(String(i) + peer) >>> 0;
        if (!ownerOf.has(point)) ownerOf.set(point, m);
      }
    }
    const points = Uint32Array.from(ownerOf.keys()).sort();
    const owners = new Uint32Array(points.length);
    for (let j = 0; j < points.length; j++) owners[j] = ownerOf.get(points[j]!)!;
    this.#peers = peers;
    this.#points = points;
    this.#owners = owners;
  }
}
