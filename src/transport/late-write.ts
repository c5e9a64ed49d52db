// late-write.ts: lateWrite, the check a peer server makes before it applies a set or a remove.
import { DeadlineExceededError } from '../errors.js';

/**
 * lateWrite returns the error a peer server answers a set or a remove with
 * when the request's deadline (ms since the epoch) has passed by `now`
 * (default `Date.now()`): such a write is not applied, because its sender has
 * stopped waiting and counts it as failed. It returns undefined for a write
 * that is in time or came without a deadline.
 */
export function lateWrite(
  op: 'set' | 'remove',
  deadline: number | undefined,
  now: number = Date.now(),
): DeadlineExceededError | undefined {
  if (deadline === undefined || deadline > now) return undefined;
  return new DeadlineExceededError(
    `peer request: ${op} arrived ${Math.max(0, now - deadline)} ms past its deadline; not applied`,
  );
}
