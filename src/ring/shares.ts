// shares.ts: the fraction of the hash space each member of a golang/groupcache-style ring
// owns, for showing how evenly keys spread.
import { crc32, type HashFn } from './ring.js';

/**
 * ringShares returns each member's share of the 2^32 hash space (the shares
 * sum to 1) on the ring {@link Ring} builds for `members`: member `p` has the
 * points `hash(String(i) + p)` for `i` below `replicas`, a point owns the arc
 * from the point before it (exclusive) up to itself, and when two members'
 * points collide the one whose URL sorts first owns it. Empty for no members.
 */
export function ringShares(
  members: readonly string[],
  options: { replicas?: number | undefined; hash?: HashFn | undefined } = {},
): Record<string, number> {
  const replicas = options.replicas ?? 50;
  const hash = options.hash ?? crc32;
  const sorted = [...new Set(members)].sort();
  const owner = new Map<number, number>();
  sorted.forEach((peer, index) => {
    for (let i = 0; i < replicas; i++) {
      const point = hash(String(i) + peer) >>> 0;
      // Members are visited in sorted order: the first to claim a point keeps it.
      if (!owner.has(point)) owner.set(point, index);
    }
  });
  const points = [...owner.keys()].sort((a, b) => a - b);
  const arcs = new Float64Array(sorted.length);
  const space = 2 ** 32;
  for (let j = 0; j < points.length; j++) {
    const point = points[j] as number;
    // The first point also owns the wrap-around arc past the last one.
    const arc =
      j === 0
        ? point + space - (points[points.length - 1] as number)
        : point - (points[j - 1] as number);
    arcs[owner.get(point) as number]! += points.length === 1 ? space : arc;
  }
  const shares: Record<string, number> = {};
  sorted.forEach((peer, index) => {
    shares[peer] = (arcs[index] as number) / space;
  });
  return shares;
}
