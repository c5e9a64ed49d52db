// drain.ts: the drain of `peercache node` on SIGTERM: the API keeps serving until its
// clients have gone quiet (a load balancer took the node out of rotation), at most --drain-ms.
import type { Clock } from '../util/clock.js';

/** DRAIN_QUIET_MS is how long the API must go without a request for the drain to end early. */
export const DRAIN_QUIET_MS = 1_000;

/** Activity is what the drain watches: when the last request came, and whether any is running. */
export interface Activity {
  /** lastRequestAt is when the last counted request arrived (ms since the epoch), 0 for none. */
  readonly lastRequestAt: number;
  /** inFlight counts the requests not yet answered. */
  readonly inFlight: number;
}

/**
 * drain resolves once `activity` has had no request running and none arriving for
 * `quietMs` (counted from the drain's start at the earliest), or once `maxMs` has
 * passed, whichever comes first; at once when `maxMs` is 0. Without `activity` (no
 * API) it waits `quietMs`: time for peers that were not told (gateways, golang/groupcache
 * peers) to hear the "leaving" answer. One timer per check, driven by `clock`.
 */
export function drain(
  activity: Activity | undefined,
  maxMs: number,
  clock: Clock,
  quietMs = DRAIN_QUIET_MS,
): Promise<void> {
  if (maxMs <= 0) return Promise.resolve();
  const start = clock.now();
  const end = start + maxMs;
  return new Promise<void>((resolve) => {
    const check = () => {
      const now = clock.now();
      if (now >= end) return resolve();
      const since = Math.max(start, activity?.lastRequestAt ?? 0);
      const quietFor = now - since;
      if ((activity?.inFlight ?? 0) === 0 && quietFor >= quietMs) return resolve();
      clock.setTimeout(check, Math.min(Math.max(1, quietMs - quietFor), end - now));
    };
    check();
  });
}
