// seeded.ts: a small seeded random generator (mulberry32), for tests and benches that must
// draw the same inputs on every run so that a failure can be replayed.

/** seeded returns a generator of numbers in [0, 1) determined by `seed` (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
