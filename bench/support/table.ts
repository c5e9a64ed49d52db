// table.ts: prints a throughput table (ops/s, ratio to an anchor row, p50/p99 latency),
// the counterpart of lib.ts's ns/op table for benchmarks that measure rates.

/** RateRow is one measured line of a throughput table. */
export interface RateRow {
  name: string;
  /** Successful operations per second; undefined when the row was skipped. */
  opsPerSec?: number;
  p50Us?: number;
  p99Us?: number;
  /** Failed operations during the measurement. Default: 0. */
  errors?: number;
  /** Name of the row this one's rate is divided by (the anchor), if any. */
  vs?: string;
  /**
   * The anchor's rate to divide by, when it was measured beside this row (in
   * interleaved rounds) rather than once for the table. Default: the `vs` row's.
   */
  anchorOpsPerSec?: number;
  /** Target rate ratio (at least this many times the anchor's), printed beside it. */
  target?: number;
  /** Why the row was not measured, printed instead of numbers. */
  skipped?: string;
}

function us(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? '' : `${v.toFixed(0)} µs`;
}

/** printRateTable prints rows as ops/s with a ratio column (row rate / anchor rate). */
export function printRateTable(title: string, rows: readonly RateRow[]): void {
  const byName = new Map(rows.map((r) => [r.name, r]));
  console.log(`\n## ${title}\n`);
  console.log('| benchmark | ops/s | ratio | target | p50 | p99 | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const target = r.target ? `≥ ${r.target}×` : '';
    if (r.opsPerSec === undefined) {
      console.log(`| ${r.name} | skipped: ${r.skipped ?? 'not measured'} | | ${target} | | | |`);
      continue;
    }
    const anchor = r.vs ? byName.get(r.vs) : undefined;
    let ratio = rows.some((o) => o.vs === r.name) ? 'anchor' : '';
    if (r.vs) {
      const anchorOps = r.anchorOpsPerSec ?? anchor?.opsPerSec;
      ratio = anchorOps
        ? `${(r.opsPerSec / anchorOps).toFixed(2)}× ${r.vs}`
        : `n/a (${r.vs} not measured)`;
    }
    const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
    const row = [r.name, ops, ratio, target, us(r.p50Us), us(r.p99Us), String(r.errors ?? 0)];
    console.log(`| ${row.join(' | ')} |`);
  }
}
