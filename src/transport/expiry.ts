// expiry.ts: expiry times between milliseconds and the int64 Unix nanoseconds that the
// groupcache protobuf messages carry, for every transport that sends them.

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

/** wholeMillis is an expiry as a wire of whole milliseconds carries it: 0 for never or none. */
export function wholeMillis(expireAt: number): number {
  return expireAt > 0 && Number.isFinite(expireAt) ? Math.floor(expireAt) : 0;
}
