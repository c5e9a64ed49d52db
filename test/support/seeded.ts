// seeded.ts: a small seeded random generator for tests, fuzzing and simulations, so a run
// that fails can be repeated exactly.

/**
 * seededRandom returns a generator of numbers in [0, 1) for `seed` (mulberry32):
 * the same seed gives the same sequence. Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
