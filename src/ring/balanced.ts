// balanced.ts: peercache's own ring for clusters with no Go peer: multi-probe consistent
// hashing (32 points per member, 16 probes per key), within a few percent of an even split.
import { InvalidArgumentError } from '../errors.js';
import { arcShares, memberList, sameMembers } from './members.js';
import type { OwnerRing } from './owner-ring.js';

/** POINTS is the number of points each member places on the ring. */
export const POINTS = 32;
/** PROBES is the number of positions a key is hashed to; its owner is the nearest point after any. */
export const PROBES = 16;
/** SPACE is the size of the hash space: positions are unsigned 32-bit integers. */
export const SPACE = 2 ** 32;
/** MAX_MEMBERS bounds the members: 32 points each still number below 2^21. */
export const MAX_MEMBERS = 2 ** 16;
/** Points and arcs are packed with an index below 2^21 in one double for sorting. */
const MEMBER_BITS = 2 ** 21;

/** fmix32 is MurmurHash3's 32-bit finalizer: every input bit flips each output bit with p ≈ 1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** hash32 is FNV-1a 32 of the UTF-8 bytes of `s`, finalized with {@link fmix32}. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return hash32Bytes(Buffer.from(s, 'utf8'));
    h = Math.imul(h ^ c, 0x01000193);
  }
  return fmix32(h);
}

function hash32Bytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const c of bytes) h = Math.imul(h ^ c, 0x01000193);
  return fmix32(h);
}

/**
 * position is the `i`-th position of a string whose {@link hash32} is `h`:
 * `fmix32(h + i · 0x9e3779b9)`, an unsigned 32-bit integer. A member's points
 * and a key's probes are its positions 0, 1, 2, ...
 */
export function position(h: number, i: number): number {
  return fmix32((h + Math.imul(i, 0x9e3779b9)) | 0);
}

/**
 * BalancedRing is the `balanced` {@link OwnerRing}: multi-probe consistent
 * hashing (Appleton and O'Reilly, 2015). Member `m` places {@link POINTS}
 * points at `position(hash32(m), i)` for `i` in `0..POINTS-1`; key `k` is
 * hashed to {@link PROBES} positions `position(hash32(k), i)`, and its owner
 * is the member of the point nearest after any of them (distances measured
 * forward, around the wrap; on a tie the lower probe wins, then the member
 * that sorts first).
 *
 * A member that joins takes keys only to itself (it can only bring a point
 * nearer), and one that leaves gives away only its own keys. The busiest
 * member's share stays within about 7% of the mean from 3 to 1,000 members
 * (`npm run bench -- ring`). A pick is 16 probes, each one bucket lookup into
 * an index over the sorted points; a rebuild hashes and sorts 32 points per member.
 */
export class BalancedRing implements OwnerRing {
  /** kind is `balanced`. */
  readonly kind = 'balanced' as const;
  #peers: string[] = [];
  /** Distinct points, ascending. */
  #points = new Uint32Array(0);
  /** `#owners[j]` is the index in `#peers` of the owner of `#points[j]`. */
  #owners = new Uint32Array(0);
  /** `#index[b]` is the first point at or after `b << #shift`, for `b` in `0..buckets`. */
  #index = new Uint32Array(3);
  /** A position's bucket in the index is `p >>> #shift`. */
  #shift = 31;

  /** set replaces the members (duplicates ignored); a bad peer changes nothing. */
  set(peers: Iterable<string>): void {
    const next = memberList(peers);
    if (!sameMembers(this.#peers, next)) this.#rebuild(next);
  }

  /** get returns the member that owns `key`, or `undefined` when there are none. */
  get(key: string): string | undefined {
    const n = this.#points.length;
    if (n === 0) return undefined;
    const points = this.#points;
    const index = this.#index;
    const shift = this.#shift;
    const h = hash32(key);
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let i = 0; i < PROBES; i++) {
      const p = position(h, i);
      // The first point at or after p (#firstAtOrAfter, inlined: this is the hot path).
      let j = index[p >>> shift]!;
      while (j < n && points[j]! < p) j++;
      const d = j < n ? points[j]! - p : points[0]! + SPACE - p;
      if (d < bestDistance) {
        bestDistance = d;
        best = j < n ? j : 0;
      }
    }
    return this.#peers[this.#owners[best]!];
  }

  /**
   * next offers the members in the order they would take `key` were those
   * before them removed: for each probe, the points after it in turn, all
   * probes merged by distance (see {@link OwnerRing.next}).
   */
  next(key: string, accept: (peer: string) => boolean): string | undefined {
    const n = this.#points.length;
    if (n === 0) return undefined;
    const points = this.#points;
    const owners = this.#owners;
    const peers = this.#peers;
    const h = hash32(key);
    // One cursor per probe: the point it reached, counted on past n around the wrap (it
    // stops after n points), and the distance to it, which only grows.
    const probe = new Float64Array(PROBES);
    const at = new Uint32Array(PROBES);
    const distance = new Float64Array(PROBES);
    for (let i = 0; i < PROBES; i++) {
      const p = position(h, i);
      probe[i] = p;
      at[i] = this.#firstAtOrAfter(p);
      distance[i] = distanceTo(points, at[i]!, p);
    }
    const ends = at.map((j) => j + n);
    const seen = new Uint8Array(peers.length);
    let left = peers.length;
    let owner = true;
    while (left > 0) {
      // The nearest cursor; on a tie the lower probe, as get's.
      let c = 0;
      for (let i = 1; i < PROBES; i++) if (distance[i]! < distance[c]!) c = i;
      if (distance[c] === Number.POSITIVE_INFINITY) break;
      const k = at[c]!;
      const m = owners[k % n]!;
      if (seen[m] === 0) {
        seen[m] = 1;
        left--;
        if (!owner && accept(peers[m]!)) return peers[m];
        owner = false;
      }
      at[c] = k + 1;
      distance[c] =
        k + 1 < ends[c]! ? distanceTo(points, k + 1, probe[c]!) : Number.POSITIVE_INFINITY;
    }
    return undefined;
  }

  /** The index of the first point at or after position `p`: `n` when past the last. */
  #firstAtOrAfter(p: number): number {
    const points = this.#points;
    const n = points.length;
    let j = this.#index[p >>> this.#shift]!;
    while (j < n && points[j]! < p) j++;
    return j;
  }

  /** members returns the members, sorted (a copy). */
  members(): string[] {
    return this.#peers.slice();
  }

  /**
   * shares returns each member's share of the key space. A key's probes are
   * independent and uniform, so with `g` the arcs between points (as fractions
   * of the space), `S(t) = Σ max(0, g - t)` is the chance one probe lies more
   * than `t` before its next point, and the point ending an arc of length `g`
   * owns a key with probability `∫₀ᵍ PROBES·S(t)^(PROBES-1) dt`; summed per member.
   * Exact for positions taken as continuous.
   */
  shares(): Map<string, number> {
    const points = this.#points;
    const n = points.length;
    const last = n - 1;
    // Arcs in whole positions, each packed with its point (arc · 2^21 + j, exact in a
    // double) so one numeric sort ranks them; read from the end: by decreasing length.
    const packed = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const arc = j === 0 ? points[0]! + SPACE - points[last]! : points[j]! - points[j - 1]!;
      packed[j] = arc * MEMBER_BITS + j;
    }
    packed.sort().reverse();
    const gaps = new Float64Array(n);
    const order = new Uint32Array(n);
    for (let r = 0; r < n; r++) {
      const arc = Math.floor(packed[r]! / MEMBER_BITS);
      order[r] = packed[r]! - arc * MEMBER_BITS;
      gaps[r] = arc / SPACE;
    }
    // Between the m-th and (m+1)-th largest arcs, S(t) = G_m - m·t, G_m the sum of
    // the m largest, and PROBES·S^(PROBES-1) integrates to -S^PROBES / m.
    const owned = new Float64Array(n + 1);
    let sum = 0;
    const piece = new Float64Array(n + 1);
    for (let m = 1; m <= n; m++) {
      const upper = gaps[m - 1]!;
      const lower = m < n ? gaps[m]! : 0;
      sum += upper;
      piece[m] = ((sum - m * lower) ** PROBES - (sum - m * upper) ** PROBES) / m;
    }
    // The arc ranked r (1-based) owns the pieces from r on: t runs from 0 to its length.
    for (let m = n; m >= 1; m--) owned[m - 1] = owned[m]! + piece[m]!;
    const byPoint = new Float64Array(n);
    for (let r = 0; r < n; r++) byPoint[order[r]!] = owned[r]!;
    return arcShares(this.#peers, this.#owners, (j) => byPoint[j]!, 1);
  }

  #rebuild(peers: string[]): void {
    if (peers.length > MAX_MEMBERS) {
      throw new InvalidArgumentError(`ring: at most ${MAX_MEMBERS} members, got ${peers.length}`);
    }
    // Each point packed with its member's index (point · 2^21 + member, exact in a
    // double) so that one numeric sort orders points and, on a collision, puts the
    // member that sorts first first: it keeps the point.
    const packed = new Float64Array(peers.length * POINTS);
    let k = 0;
    for (let m = 0; m < peers.length; m++) {
      const h = hash32(peers[m]!);
      for (let i = 0; i < POINTS; i++) packed[k++] = position(h, i) * MEMBER_BITS + m;
    }
    packed.sort();
    const points = new Uint32Array(packed.length);
    const owners = new Uint32Array(packed.length);
    let n = 0;
    for (let j = 0; j < packed.length; j++) {
      const point = Math.floor(packed[j]! / MEMBER_BITS);
      if (n > 0 && points[n - 1] === point) continue;
      points[n] = point;
      owners[n] = packed[j]! - point * MEMBER_BITS;
      n++;
    }
    // About one point per bucket, so a probe scans one or two points past its bucket's first.
    let bits = 1;
    while (2 ** bits < n) bits++;
    const buckets = 2 ** bits;
    const index = new Uint32Array(buckets + 1);
    const width = SPACE / buckets;
    let j = 0;
    for (let b = 0; b <= buckets; b++) {
      while (j < n && points[j]! < b * width) j++;
      index[b] = j;
    }
    this.#peers = peers;
    this.#points = points.slice(0, n);
    this.#owners = owners.slice(0, n);
    this.#index = index;
    this.#shift = 32 - bits;
  }
}

/**
 * distanceTo is the distance forward from position `p` to point `k` of `points`,
 * where `k` counts on past the last point around the wrap (`k` = n is point 0 again).
 */
function distanceTo(points: Uint32Array, k: number, p: number): number {
  const n = points.length;
  return k < n ? points[k]! - p : points[k - n]! + SPACE - p;
}
