// lib.ts: shared helpers for the benchmarks: measure with mitata, print a table
// of nanoseconds per operation and ratios against the anchor of the same run.
import { run } from 'mitata';

/** Row is one measured line of a benchmark table. */
export interface Row {
  name: string;
  nsPerOp: number;
  /** Name of the row this one is compared with (the anchor), if any. */
  vs?: string;
  /** Target ratio, printed beside the measured one. */
  target?: number;
}

/**
 * measure runs every `bench()` registered so far with mitata (quietly) and
 * returns the average ns per call of each, by name. `perCall` divides, for
 * benches that loop over a batch inside one call.
 */
export async function measure(perCall: Record<string, number> = {}): Promise<Map<string, number>> {
  const result = await run({ format: 'quiet' } as Parameters<typeof run>[0]);
  const out = new Map<string, number>();
  for (const b of result.benchmarks) {
    const avg = b.runs[0]?.stats?.avg;
    if (avg === undefined) continue;
    out.set(b.alias, avg / (perCall[b.alias] ?? 1));
  }
  return out;
}

/** printTable prints rows as ns/op with a ratio column against each row's anchor. */
export function printTable(title: string, rows: Row[]): void {
  const byName = new Map(rows.map((r) => [r.name, r]));
  console.log(`\n## ${title}\n`);
  console.log('| benchmark | ns/op | ops/s | ratio | target |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const anchor = r.vs ? byName.get(r.vs) : undefined;
    const ratio = anchor ? `${(r.nsPerOp / anchor.nsPerOp).toFixed(2)}× ${r.vs}` : 'anchor';
    const target = r.target ? `≤ ${r.target}×` : '';
    const ops = Math.round(1e9 / r.nsPerOp).toLocaleString('en-US');
    console.log(`| ${r.name} | ${r.nsPerOp.toFixed(1)} | ${ops} | ${ratio} | ${target} |`);
  }
}
