// runs.ts: the settings every property-based fuzz test shares: how many cases a property runs
// (scaled up by the fuzz bench) and the seed, so that a failing run can be replayed.
import type { Parameters } from 'fast-check';

/** SCALE_ENV names the variable that multiplies every property's number of cases. Default 1. */
export const SCALE_ENV = 'FUZZ_SCALE';
/** SEED_ENV names the variable that fixes the seed (fast-check prints it on failure). */
export const SEED_ENV = 'FUZZ_SEED';
/** PATH_ENV names the variable that replays one failing case (fast-check prints it too). */
export const PATH_ENV = 'FUZZ_PATH';

/** fuzzScale is the multiplier from {@link SCALE_ENV}: a positive number, default 1. */
export function fuzzScale(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[SCALE_ENV];
  if (raw === undefined || raw === '') return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new TypeError(`${SCALE_ENV} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return scale;
}

/**
 * fuzzSeed is the seed of this run: {@link SEED_ENV} when set, else a fresh one.
 * Test titles show it, so a failure can be replayed with `FUZZ_SEED=...`.
 */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[SEED_ENV];
  if (raw === undefined || raw === '') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`${SEED_ENV} must be an integer, got ${JSON.stringify(raw)}`);
  }
  return seed | 0;
}

/**
 * fuzzRuns returns fast-check parameters for a property of `runs` cases in
 * `npm test`: the count times {@link fuzzScale}, the seed of {@link fuzzSeed}
 * (one per test file, passed in) and, with {@link PATH_ENV}, the one case to replay.
 */
export function fuzzRuns<T = void>(
  runs: number,
  seed: number,
  env: NodeJS.ProcessEnv = process.env,
): Parameters<T> {
  const path = env[PATH_ENV];
  return {
    numRuns: Math.max(1, Math.round(runs * fuzzScale(env))),
    seed,
    ...(path === undefined || path === '' ? {} : { path }),
  };
}

/**
 * fuzzTimeout is a test's time limit of `ms` in `npm test`, grown with
 * {@link fuzzScale} so that a bench run of many more cases is not cut short.
 */
export function fuzzTimeout(ms: number, env: NodeJS.ProcessEnv = process.env): number {
  return Math.round(ms * Math.max(1, fuzzScale(env)));
}
