// md5-fnv.ts: the ring of mailgun/groupcache v2 and groupcache-go v3: points are FNV-1 64 of
// the hex MD5 of `i + peerKey`, keys FNV-1 64 of their bytes, both compared as signed 64-bit.
import { InvalidArgumentError } from '../errors.js';
import { arcShares, memberList, nextOwner, replicasOption, sameMembers } from './members.js';
import type { OwnerRing } from './owner-ring.js';

/** Md5FnvRingOptions configure an {@link Md5FnvRing}. */
export interface Md5FnvRingOptions {
  /** replicas is the number of points per peer. An integer >= 1; default 50, as both lineages'. */
  replicas?: number | undefined;
  /**
   * peerKey is what a peer's points are hashed from: `url`, its base URL as
   * given (mailgun/groupcache v2, the default), or `host:port`, the authority
   * of that URL as written (groupcache-go v3: `10.0.0.1:8080` for
   * `http://10.0.0.1:8080`).
   */
  peerKey?: 'url' | 'host:port' | undefined;
}

/**
 * Fnv64 is a 64-bit FNV-1 hash as two unsigned 32-bit halves. `hi` read as a
 * signed 32-bit integer (`hi | 0`) with `lo` unsigned below it gives Go's
 * `int64(h)`, whose order the ring keeps.
 */
export interface Fnv64 {
  hi: number;
  lo: number;
}

// FNV-1 64: offset basis 14695981039346656037; prime 1099511628211 = 2^40 + 0x1b3.
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
const TWO_32 = 2 ** 32;

/**
 * fnv1_64 is FNV-1 64 (multiply, then xor: not FNV-1a) of the UTF-8 bytes of
 * `s`, Go's `fnv.New64()`. Written into `out` (returned) to spare an allocation.
 */
export function fnv1_64(s: string, out: Fnv64 = { hi: 0, lo: 0 }): Fnv64 {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    // h * (2^40 + 0x1b3) mod 2^64: lo * 0x1b3 is below 2^41, exact in a double;
    // its carry and lo << 8 (the 2^40 term) go to the high half.
    const t = lo * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + Math.floor(t / TWO_32) + (lo << 8)) >>> 0;
    lo = ((t >>> 0) ^ c) >>> 0;
  }
  if (!ascii) {
    hi = OFFSET_HI;
    lo = OFFSET_LO;
    for (const c of Buffer.from(s, 'utf8')) {
      const t = lo * 0x1b3;
      hi = (Math.imul(hi, 0x1b3) + Math.floor(t / TWO_32) + (lo << 8)) >>> 0;
      lo = ((t >>> 0) ^ c) >>> 0;
    }
  }
  out.hi = hi;
  out.lo = lo;
  return out;
}

/** hostPortOf is the `host:port` of a base URL as written: what follows `scheme://`, up to a `/`. */
export function hostPortOf(url: string): string {
  const at = url.indexOf('://');
  const rest = at < 0 ? url : url.slice(at + 3);
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}

/**
 * Md5FnvRing is the `mailgun` and `groupcache-go` {@link OwnerRing}. Peer `p`
 * gets the points `int64(fnv1_64(hex(md5(String(i) + key(p)))))` for `i` in
 * `0..replicas-1`, the MD5 in lowercase hex; a key's owner is the peer of the
 * first point at or after `int64(fnv1_64(key))`, wrapping around to the lowest
 * point, all compared as signed 64-bit integers.
 *
 * Collisions (two peers on one 64-bit point) are left to the peer that sorts
 * first, whatever the order they were added in; mailgun v2 lets the last added
 * win and v3 does not say. With 64-bit points they do not happen in practice.
 */
export class Md5FnvRing implements OwnerRing {
  /** kind is `mailgun` for base-URL peer keys, `groupcache-go` for `host:port` ones. */
  readonly kind: 'mailgun' | 'groupcache-go';
  readonly #replicas: number;
  readonly #keyOf: (peer: string) => string;
  #peers: string[] = [];
  /** Points, ascending as signed 64-bit: high halves (signed) and low halves (unsigned). */
  #his = new Int32Array(0);
  #los = new Uint32Array(0);
  /** `#owners[j]` is the index in `#peers` of the owner of point `j`. */
  #owners = new Uint32Array(0);
  /** Scratch for key hashes. */
  readonly #h: Fnv64 = { hi: 0, lo: 0 };

  constructor(options: Md5FnvRingOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('ring: options must be an object');
    }
    const { replicas, peerKey = 'url' } = options;
    if (peerKey !== 'url' && peerKey !== 'host:port') {
      throw new InvalidArgumentError(
        `ring: peerKey must be url or host:port, got ${String(peerKey)}`,
      );
    }
    this.#replicas = replicasOption(replicas);
    this.kind = peerKey === 'url' ? 'mailgun' : 'groupcache-go';
    this.#keyOf = peerKey === 'url' ? (p) => p : hostPortOf;
  }

  /** replicas is the number of points each peer has on the ring. */
  get replicas(): number {
    return this.#replicas;
  }

  /** set replaces the members (duplicates ignored); a bad peer changes nothing. */
  set(peers: Iterable<string>): void {
    const next = memberList(peers);
    if (!sameMembers(this.#peers, next)) this.#rebuild(next);
  }

  /** get returns the peer that owns `key`, or `undefined` when the ring is empty. */
  get(key: string): string | undefined {
    if (this.#owners.length === 0) return undefined;
    return this.#peers[this.#owners[this.#pointOf(key)]!];
  }

  /** next walks the members after the owner of `key` in ring order (see {@link OwnerRing.next}). */
  next(key: string, accept: (peer: string) => boolean): string | undefined {
    if (this.#owners.length === 0) return undefined;
    const peers = this.#peers;
    const m = nextOwner(this.#owners, this.#pointOf(key), peers.length, (i) => accept(peers[i]!));
    return m < 0 ? undefined : peers[m];
  }

  /** members returns the peers, sorted (a copy). */
  members(): string[] {
    return this.#peers.slice();
  }

  /** shares returns the fraction of the 64-bit hash space each member owns (see {@link OwnerRing.shares}). */
  shares(): Map<string, number> {
    const his = this.#his;
    const los = this.#los;
    const last = his.length - 1;
    // Differences of doubles: exact to well within a share's precision.
    const at = (j: number): number => his[j]! * TWO_32 + los[j]!;
    return arcShares(
      this.#peers,
      this.#owners,
      (j) => (j === 0 ? at(0) + 2 ** 64 - at(last) : at(j) - at(j - 1)),
      2 ** 64,
    );
  }

  /** The index of the first point at or after the key's hash, wrapping to 0; the ring is not empty. */
  #pointOf(key: string): number {
    const h = fnv1_64(key, this.#h);
    const hi = h.hi | 0;
    const lo = h.lo;
    const his = this.#his;
    const los = this.#los;
    const n = his.length;
    let a = 0;
    let b = n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const ph = his[mid]!;
      if (ph < hi || (ph === hi && los[mid]! < lo)) a = mid + 1;
      else b = mid;
    }
    return a === n ? 0 : a;
  }

  #rebuild(peers: string[]): void {
    // node:crypto is fetched here, not imported: the core entry exports this ring, and
    // a local cache should not load node:crypto (and node:stream with it) at import.
    const { createHash } = process.getBuiltinModule('node:crypto');
    const total = peers.length * this.#replicas;
    const his = new Int32Array(total);
    const los = new Uint32Array(total);
    const owners = new Uint32Array(total);
    const h: Fnv64 = { hi: 0, lo: 0 };
    let k = 0;
    for (let m = 0; m < peers.length; m++) {
      const key = this.#keyOf(peers[m]!);
      for (let i = 0; i < this.#replicas; i++) {
        fnv1_64(
          createHash('md5')
            .update(String(i) + key)
            .digest('hex'),
          h,
        );
        his[k] = h.hi | 0;
        los[k] = h.lo;
        owners[k] = m;
        k++;
      }
    }
    // Ascending as signed 64-bit; on a tie the peer that sorts first (lower index) comes first
    // and keeps the point: its duplicates are dropped below.
    const order = Array.from({ length: total }, (_, j) => j).sort(
      (x, y) => his[x]! - his[y]! || los[x]! - los[y]! || owners[x]! - owners[y]!,
    );
    const keep = order.filter(
      (j, i) => i === 0 || his[j] !== his[order[i - 1]!] || los[j] !== los[order[i - 1]!],
    );
    this.#his = Int32Array.from(keep, (j) => his[j]!);
    this.#los = Uint32Array.from(keep, (j) => los[j]!);
    this.#owners = Uint32Array.from(keep, (j) => owners[j]!);
    this.#peers = peers;
  }
}
