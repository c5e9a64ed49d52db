// owned-keys.ts: keys chosen by their owner, so a test that needs every node to own some keys
// holds whatever ports (and so ring positions) its nodes were given.

/**
 * `perOwner` keys `${prefix}${i}` owned by each of `owners`, in the order of `owners`.
 * @param ownerOf the ring's owner of a key
 * @param makeKey turns an index into a key; `${prefix}${i}` by default
 */
export function keysPerOwner(
  owners: readonly string[],
  ownerOf: (key: string) => string | undefined,
  perOwner: number,
  makeKey: (i: number) => string,
): string[] {
  const picked = new Map<string, string[]>(owners.map((o) => [o, []]));
  let left = owners.length * perOwner;
  for (let i = 0; left > 0; i++) {
    if (i > 1_000_000) throw new Error(`no ${perOwner} keys for each of ${owners.join(', ')}`);
    const key = makeKey(i);
    const mine = picked.get(ownerOf(key) ?? '');
    if (mine && mine.length < perOwner) {
      mine.push(key);
      left--;
    }
  }
  return owners.flatMap((o) => picked.get(o)!);
}
