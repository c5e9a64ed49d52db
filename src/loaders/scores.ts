// scores.ts: the demo loader, the seed's slow "database" of scores for the group `scores`.
import type { LoadFn } from '../core/group.js';
import { type Clock, holdOpen, systemClock } from '../util/clock.js';

/** DEMO_SCORES is the seed's demo table, served for the group `scores`. */
export const DEMO_SCORES: Readonly<Record<string, string>> = Object.freeze({
  Tom: '630',
  Jack: '589',
  Sam: '567',
  Peter: '999',
});

/** ScoresLoaderOptions configure {@link createScoresLoader}. */
export interface ScoresLoaderOptions {
  /** table maps keys to values. Default {@link DEMO_SCORES}. */
  table?: Readonly<Record<string, string>>;
  /** group is the only group the table answers for; others get not-found. Default `scores`. */
  group?: string;
  /** delayMs is the artificial latency of each load, like a slow database. Default 50. */
  delayMs?: number;
  /** clock times the latency. Default {@link systemClock}. */
  clock?: Clock;
}

/**
 * createScoresLoader returns the demo loader: after `delayMs` it answers keys
 * of `table` for the group `group`, and not-found (null) for anything else.
 * It honours the load's signal while it waits.
 */
export function createScoresLoader(options: ScoresLoaderOptions = {}): LoadFn {
  const table = options.table ?? DEMO_SCORES;
  const only = options.group ?? 'scores';
  const delayMs = options.delayMs ?? 50;
  const clock = options.clock ?? systemClock;
  return async (key, { group, signal }) => {
    if (delayMs > 0) await wait(clock, delayMs, signal);
    if (group !== only || !Object.hasOwn(table, key)) return null;
    return table[key];
  };
}

/**
 * wait resolves after `ms` on `clock`, or rejects with an AbortError (its cause
 * the signal's reason) as soon as `signal` aborts, as `timers/promises` does.
 */
function wait(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  const aborted = () =>
    Object.assign(new DOMException('The operation was aborted', 'AbortError'), {
      cause: signal.reason,
    });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(aborted());
    };
    const timer = holdOpen(
      clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
