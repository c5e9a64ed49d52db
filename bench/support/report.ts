// report.ts: the headline results of each benchmark script, gathered by run.ts into
// one summary table and chart. A script calls `headline()` for each figure it was
// asked to prove; when run by run.ts the figures go, one JSON line each, to the file
// named by PEERCACHE_BENCH_RESULTS; run alone, they are only printed.
import { appendFileSync } from 'node:fs';

/** Environment variable naming the file where headline results are appended. */
export const RESULTS_ENV = 'PEERCACHE_BENCH_RESULTS';

/** Headline is one figure of the summary: what was measured, against what, and the target. */
export interface Headline {
  /** Item of the suite (1–8), for ordering the summary. */
  item: number;
  /** What was measured, e.g. "Remote get, tcp vs ioredis GET". */
  name: string;
  /** The measured figure as printed, e.g. "1.08× Redis" or "312 MiB". */
  measured: string;
  /** The target as printed, e.g. "≥ 1.0×"; empty when the row is for reference. */
  target: string;
  /** Whether the target was met; undefined for reference rows. */
  met?: boolean | undefined;
  /**
   * For the chart: the measured ratio and the target ratio it is held to, as
   * numbers on one scale (1.0 = the anchor). Rows without it are not charted.
   */
  chart?: { ratio: number; target?: number | undefined; higherIsBetter: boolean } | undefined;
  /** A short note printed beside the figure (anchor values, loads counted...). */
  note?: string | undefined;
}

/** headline records one summary figure: printed now, and appended to the run's results file. */
export function headline(h: Headline): void {
  const verdict = h.met === undefined ? '' : h.met ? ' (met)' : ' (NOT met)';
  console.log(
    `headline ${h.item}: ${h.name}: ${h.measured}${h.target ? ` target ${h.target}` : ''}${verdict}`,
  );
  const file = process.env[RESULTS_ENV];
  if (file) appendFileSync(file, `${JSON.stringify(h)}\n`);
}

/** ratio formats a ratio as "1.23×". */
export function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}
