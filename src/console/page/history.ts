// history.ts: the rates the console derives from successive counter snapshots, and the
// last five minutes of them for the charts.
import type { NodeStats } from '../../core/node-stats.js';

/** WINDOW_MS is how far back the charts go. */
export const WINDOW_MS = 5 * 60_000;

interface Snapshot {
  at: number;
  gets: number;
  loads: number;
}

/** Rates are one node's rates for a group, per second. */
export interface Rates {
  gets: number | null;
  loads: number | null;
}

/**
 * History keeps each node's last counters per group to turn them into rates,
 * and the cluster's rates and hit ratio over the last five minutes.
 */
export class History {
  readonly #last = new Map<string, Snapshot>();
  /** Samples per group: time (s), cluster gets/s, cluster hit ratio. */
  readonly #samples = new Map<
    string,
    { t: number[]; gets: (number | null)[]; ratio: (number | null)[] }
  >();

  /** rates updates `node`'s snapshot of `group` with `stats` and returns its rates since the last one. */
  rates(node: string, group: string, stats: NodeStats): Rates {
    const g = stats.groups[group];
    if (g === undefined) return { gets: null, loads: null };
    const id = `${node} ${group}`;
    const now: Snapshot = { at: stats.now, gets: g.stats.gets, loads: g.stats.loads };
    const before = this.#last.get(id);
    this.#last.set(id, now);
    if (before === undefined || now.at <= before.at || now.gets < before.gets) {
      return { gets: null, loads: null };
    }
    const secs = (now.at - before.at) / 1000;
    return { gets: (now.gets - before.gets) / secs, loads: (now.loads - before.loads) / secs };
  }

  /** record adds the cluster's sample of `group` at `at` (ms) and drops those past the window. */
  record(group: string, at: number, gets: number | null, ratio: number | null): void {
    let s = this.#samples.get(group);
    if (s === undefined) {
      s = { t: [], gets: [], ratio: [] };
      this.#samples.set(group, s);
    }
    s.t.push(at / 1000);
    s.gets.push(gets);
    s.ratio.push(ratio);
    while (s.t.length > 0 && (s.t[0] as number) < (at - WINDOW_MS) / 1000) {
      s.t.shift();
      s.gets.shift();
      s.ratio.shift();
    }
  }

  /** samples returns `group`'s chart data: times, gets/s, hit ratio. */
  samples(group: string): [number[], (number | null)[], (number | null)[]] {
    const s = this.#samples.get(group);
    return s === undefined ? [[], [], []] : [s.t, s.gets, s.ratio];
  }
}
