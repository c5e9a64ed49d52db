// slope.ts: the least-squares slope of a series of samples, for telling steady memory
// from growth in a soak run.

/** Point is one sample: `t` in any unit of time, `v` the value measured then. */
export interface Point {
  t: number;
  v: number;
}

/**
 * leastSquaresSlope is the slope of the line that fits `points` best (ordinary least
 * squares, in units of v per unit of t); NaN for fewer than two distinct times.
 */
export function leastSquaresSlope(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let st = 0;
  let sv = 0;
  for (const p of points) {
    st += p.t;
    sv += p.v;
  }
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}
