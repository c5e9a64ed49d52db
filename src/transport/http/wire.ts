// wire.ts: facts of the groupcache HTTP wire shared by client and server: defaults and expiry units.

/** DEFAULT_BASE_PATH is the URL path prefix of peer requests, as in golang/groupcache. */
export const DEFAULT_BASE_PATH = '/_groupcache/';

/**
 * STATS_PATH is the path, under the base path, of peercache's stats call:
 * `GET {basePath}_peercache/stats[?group=G&key=K]`, answered with the node's
 * NodeStats as JSON. A golang/groupcache peer takes `_peercache` for a group
 * name and answers 404 `no such group`; a peercache group of that name is
 * shadowed on this one path.
 */
export const STATS_PATH = '_peercache/stats';

/**
 * TIMEOUT_HEADER carries the time the client will still wait for an answer, in
 * whole milliseconds (1 to 8 digits), so the owner stops waiting when the caller
 * does. Go groupcache peers ignore it, as they ignore every unknown header.
 */
export const TIMEOUT_HEADER = 'peercache-timeout';

/** MAX_TIMEOUT_HEADER_MS is the largest value {@link TIMEOUT_HEADER} carries (8 digits). */
export const MAX_TIMEOUT_HEADER_MS = 99_999_999;

const nanosPerMilli = 1_000_000n;

/**
 * nanosFromExpireAt turns an expiry in milliseconds since the Unix epoch (0 =
 * never) into the wire's int64 Unix nanoseconds (0 = never). Fractions of a
 * millisecond are dropped; an expiry before 1 ms after the epoch (long past) is
 * sent as 1 ms, never as 0. Infinity and NaN mean never.
 */
export function nanosFromExpireAt(expireAt: number): bigint {
  if (expireAt === 0 || !Number.isFinite(expireAt)) return 0n;
  const ms = Math.floor(expireAt);
  return BigInt(ms > 0 ? ms : 1) * nanosPerMilli;
}

/**
 * expireAtFromNanos turns the wire's Unix nanoseconds (0 = never) into
 * milliseconds since the epoch, rounding down so a value never outlives its
 * owner's copy. A nonzero expiry at or before the epoch becomes 1 (long
 * expired), never 0, which would mean "never expires".
 */
export function expireAtFromNanos(expire: bigint): number {
  if (expire === 0n) return 0;
  const ms = Number(expire / nanosPerMilli);
  return ms > 0 ? ms : 1;
}
