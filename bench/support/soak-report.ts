// soak-report.ts: the soak benchmark's report: the operations and their failures, the
// growth of each node's memory over a window (least squares), the nodes' own counters,
// and the samples as CSV.
import { writeFileSync } from 'node:fs';
import type { CacheStats, GroupStats } from '../../src/core/stats.js';
import type { MemorySample } from './memory-probe.js';
import { leastSquaresSlope } from './slope.js';
import { ms, type OpCounts, type OpKind, type SoakClient, TIMELINE_MS } from './soak-client.js';

const MiB = 2 ** 20;

/** Causes of a failed operation: its owner was the hung node, or a node on its way out. */
export const HUNG_OWNER = 'hung owner';
export const OWNER_LEAVING = 'owner leaving or gone';

/** Fit is the growth of one node's memory over a window (slopes in MiB per minute, levels in MiB). */
export interface Fit {
  rss: number;
  heapUsed: number;
  rssAtStart: number;
  rssAtEnd: number;
  rssPeak: number;
  heapUsedAtEnd: number;
  fdsAtStart: number;
  fdsAtEnd: number;
  samples: number;
}

/** fitFrom fits the samples taken from `fromMs` on. */
export function fitFrom(samples: readonly MemorySample[], fromMs: number): Fit {
  const after = samples.filter((s) => s.t >= fromMs);
  const perMinute = (pick: (s: MemorySample) => number | undefined) =>
    leastSquaresSlope(
      after.flatMap((s) => {
        const v = pick(s);
        return v === undefined ? [] : [{ t: s.t / 60_000, v: v / MiB }];
      }),
    );
  const heap = after.filter((s) => s.heapUsed !== undefined);
  return {
    rss: perMinute((s) => s.rss),
    heapUsed: perMinute((s) => s.heapUsed),
    rssAtStart: (after[0]?.rss ?? Number.NaN) / MiB,
    rssAtEnd: (after.at(-1)?.rss ?? Number.NaN) / MiB,
    rssPeak: after.length === 0 ? Number.NaN : Math.max(...after.map((s) => s.rss)) / MiB,
    heapUsedAtEnd: (heap.at(-1)?.heapUsed ?? Number.NaN) / MiB,
    fdsAtStart: after[0]?.fds ?? Number.NaN,
    fdsAtEnd: after.at(-1)?.fds ?? Number.NaN,
    samples: after.length,
  };
}

/** mib formats a level in MiB; `–` for none. */
export const mib = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(1));
/** slope formats a slope in MiB/min with its sign; `–` for none. */
export const slope = (v: number) => (Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
/** count formats a count with thousands separators. */
export const count = (n: number) => n.toLocaleString('en-US');

/** by is the number of `c`'s failures of `cause`. */
export function by(c: OpCounts, cause: string): number {
  return c.causes.get(cause) ?? 0;
}

/** writes adds up the failed sets and removes of `cause`. */
export function writes(counts: Record<OpKind, OpCounts>, cause: string): number {
  return by(counts.set, cause) + by(counts.remove, cause);
}

/** opsRow renders one kind of operation as a row of the operations table. */
function opsRow(kind: OpKind, c: OpCounts): string {
  const cells = [
    kind,
    count(c.sent),
    count(c.ok),
    count(c.failed),
    count(by(c, HUNG_OWNER)),
    count(by(c, OWNER_LEAVING)),
    count(by(c, 'other')),
    ms(c.latency.percentile(50)),
    ms(c.latency.percentile(99)),
    ms(c.latency.max),
  ];
  return `| ${cells.join(' | ')} |`;
}

/**
 * printOperations prints the table of operations (sent, failed by cause, latency), the
 * failures of each kind by reason with the first of each cause, the failures by
 * interval, and what the client did not send.
 */
export function printOperations(load: SoakClient, maxInFlight: number): void {
  console.log(
    '| op | sent | ok | failed | hung owner | owner leaving or gone | other | p50 (ms) | p99 (ms) | max (ms) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const kind of ['get', 'set', 'remove'] as const)
    console.log(opsRow(kind, load.counts[kind]));
  for (const [kind, cnt] of Object.entries(load.counts)) {
    if (cnt.failed === 0) continue;
    const reasons = [...cnt.reasons].map(([r, n]) => `${r} × ${n}`).join(', ');
    console.log(`\n${kind} failures: ${reasons}. The first of each cause:`);
    for (const [cause, first] of cnt.firstByCause) console.log(`- ${cause}: ${first}`);
  }
  if (load.timeline.size > 0) {
    console.log(
      `\nFailures by ${TIMELINE_MS / 1000}-second interval (from the start of the load):`,
    );
    for (const [slot, what] of [...load.timeline].sort((x, y) => x[0] - y[0])) {
      const from = (slot * TIMELINE_MS) / 1000;
      const list = [...what].map(([w, n]) => `${w} × ${n}`).join(', ');
      console.log(`- ${from}–${from + TIMELINE_MS / 1000} s: ${list}`);
    }
  }
  console.log(
    `\nNot sent: ${load.skippedAtBound} at the client's bound of ${maxInFlight} in flight, ` +
      `${load.skippedNoTarget} with no node to send to; at most ${load.peakInFlight} in flight.`,
  );
}

/** Sampled is a node of the run as the report sees it: a name and its memory samples. */
export interface Sampled {
  readonly name: string;
  readonly samples: readonly MemorySample[];
}

/** FitWindow is a window of the run, from `fromMs` to the end, named for the report. */
export interface FitWindow {
  name: string;
  fromMs: number;
}

/** printMemory prints, per window and node, the memory levels and their slopes (`fits[window][node]`). */
export function printMemory(
  nodes: readonly Sampled[],
  windows: readonly FitWindow[],
  fitsBy: readonly (readonly Fit[])[],
  sampleSeconds: number,
): void {
  console.log(
    `\nMemory (a sample every ${sampleSeconds.toFixed(0)} s; slopes by least squares, MiB/min; ` +
      `${windows.map((w) => `${w.name} from ${(w.fromMs / 1000).toFixed(0)} s`).join(', ')}):\n`,
  );
  console.log(
    '| node | window | samples | RSS at start (MiB) | RSS at end | RSS peak | RSS slope | heap used at end (MiB) | heap used slope | open files |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  windows.forEach((w, wi) => {
    nodes.forEach((m, i) => {
      const f = (fitsBy[wi] as Fit[])[i] as Fit;
      console.log(
        `| ${m.name} | ${w.name} | ${f.samples} | ${mib(f.rssAtStart)} | ${mib(f.rssAtEnd)} | ` +
          `${mib(f.rssPeak)} | ${slope(f.rss)} | ${mib(f.heapUsedAtEnd)} | ${slope(f.heapUsed)} | ` +
          `${f.samples === 0 ? '–' : `${f.fdsAtStart} → ${f.fdsAtEnd}`} |`,
      );
    });
  });
}

/** NodeReport is what a node's API says of it at the end. */
export interface NodeReport {
  stats: GroupStats;
  main: CacheStats;
  hot: CacheStats;
  /** Membership updates from etcd applied to its ring. */
  changes: number;
}

/** printNodes prints each node's group counters and caches, in the order of `nodes`. */
export function printNodes(nodes: readonly Sampled[], reports: readonly NodeReport[]): void {
  console.log(
    '\n| node | gets | hits | peer loads | peer errors | local loads | main MiB | main items | evictions | hot MiB | etcd ring updates |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  nodes.forEach((m, i) => {
    const r = reports[i] as NodeReport;
    const s = r.stats;
    console.log(
      `| ${m.name} | ${count(s.gets)} | ${count(s.cacheHits)} | ${count(s.peerLoads)} | ` +
        `${count(s.peerErrors)} | ${count(s.localLoads)} | ${mib(r.main.bytes / MiB)} | ` +
        `${count(r.main.items)} | ${count(r.main.evictions)} | ${mib(r.hot.bytes / MiB)} | ${r.changes} |`,
    );
  });
}

/** writeSamplesCsv writes every node's samples to `file`, one line each. */
export function writeSamplesCsv(file: string, nodes: readonly Sampled[]): void {
  const csv = ['t_s,node,rss_bytes,heap_used_bytes,heap_total_bytes,open_files'];
  for (const m of nodes) {
    for (const s of m.samples) {
      csv.push(
        `${(s.t / 1000).toFixed(1)},${m.name},${s.rss},${s.heapUsed ?? ''},${s.heapTotal ?? ''},${s.fds}`,
      );
    }
  }
  writeFileSync(file, `${csv.join('\n')}\n`);
}
