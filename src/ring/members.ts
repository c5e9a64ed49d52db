// members.ts: what every ring kind does alike with its members: check them, sort them,
// and walk the owners of consecutive points to find a key's next member.
import { InvalidArgumentError } from '../errors.js';

/** compareMembers orders members by plain `<` on strings (UTF-16 code units). */
export const compareMembers = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** checkPeers throws InvalidArgumentError unless every peer is a non-empty string. */
export function checkPeers(peers: readonly unknown[]): void {
  for (const p of peers) {
    if (typeof p !== 'string' || p === '') {
      const got = p === '' ? 'an empty string' : typeof p;
      throw new InvalidArgumentError(`ring: a peer must be a non-empty string, got ${got}`);
    }
  }
}

/**
 * memberList checks `peers` (an iterable of non-empty strings, not a string)
 * and returns them without duplicates, sorted by {@link compareMembers}.
 */
export function memberList(peers: Iterable<string>): string[] {
  if (
    typeof peers === 'string' ||
    typeof (peers as Partial<Iterable<string>> | null)?.[Symbol.iterator] !== 'function'
  ) {
    throw new InvalidArgumentError('ring: peers must be an iterable of strings (not a string)');
  }
  const list = [...peers];
  checkPeers(list);
  return [...new Set(list)].sort(compareMembers);
}

/** sameMembers tells whether `sorted` (sorted, distinct) lists exactly `current`. */
export function sameMembers(current: readonly string[], sorted: readonly string[]): boolean {
  return current.length === sorted.length && current.every((p, i) => p === sorted[i]);
}

/**
 * nextOwner walks the owners of the points after `start` (wrapping around), in
 * ring order, and returns the index of the first member that is not the owner
 * of `start` and that `accept` takes; each member is offered once, and the walk
 * stops once every member has been. -1 when none is taken.
 */
export function nextOwner(
  owners: Uint32Array,
  start: number,
  memberCount: number,
  accept: (member: number) => boolean,
): number {
  const n = owners.length;
  const seen = new Uint8Array(memberCount);
  seen[owners[start]!] = 1;
  let left = memberCount - 1;
  for (let step = 1; step < n && left > 0; step++) {
    const m = owners[(start + step) % n]!;
    if (seen[m] === 1) continue;
    seen[m] = 1;
    left--;
    if (accept(m)) return m;
  }
  return -1;
}

/**
 * arcShares gives each member the fraction of the ring it owns: point `j`
 * owns the arc from the point before it (exclusive) to itself, `arc(j)` long
 * (for `j` = 0, from the last point around the wrap), in units of `space`,
 * the size of the whole hash space.
 */
export function arcShares(
  members: readonly string[],
  owners: Uint32Array,
  arc: (j: number) => number,
  space: number,
): Map<string, number> {
  const sums = new Float64Array(members.length);
  for (let j = 0; j < owners.length; j++) sums[owners[j]!]! += arc(j);
  const shares = new Map<string, number>();
  for (let m = 0; m < members.length; m++) shares.set(members[m]!, sums[m]! / space);
  return shares;
}

/** replicasOption checks a ring's points-per-peer option: an integer >= 1, default 50. */
export function replicasOption(replicas: unknown = 50): number {
  if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 1) {
    throw new InvalidArgumentError(
      `ring: replicas must be an integer >= 1, got ${String(replicas)}`,
    );
  }
  return replicas;
}
