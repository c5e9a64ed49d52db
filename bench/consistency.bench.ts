// consistency.bench.ts: a large recorded history of writes racing loads in flight on
// three in-process nodes (http and tcp), checked read by read: how many reads that
// began after a write's ack returned an older value (the target is none).
import { describeViolation } from '../test/support/history.js';
import { type HistoryRun, runHistory } from '../test/support/history-cluster.js';
import { headline } from './support/report.js';

const WRITES = 2_000;
const KEYS = 4;
const READERS_PER_NODE = 3;
const TTL_MS = 40;
const MAX_LOAD_MS = 8;

const runs: [string, HistoryRun, number][] = [];
for (const transport of ['http', 'tcp'] as const) {
  const started = performance.now();
  const run = await runHistory({
    transport,
    writes: WRITES,
    keys: KEYS,
    readersPerNode: READERS_PER_NODE,
    ttlMs: TTL_MS,
    maxLoadMs: MAX_LOAD_MS,
    seed: 2026,
  });
  runs.push([transport, run, performance.now() - started]);
}

console.log(
  `\n## Consistency: ${WRITES.toLocaleString('en-US')} sets and removes over ${KEYS} keys through ` +
    `random nodes, ${READERS_PER_NODE} readers per node, 3 nodes, loader up to ${MAX_LOAD_MS} ms, ` +
    `ttl ${TTL_MS} ms, hot cache on\n`,
);
console.log(
  '| transport | writes | reads | reads after an ack | loads | owner answers | read errors | write errors | stale reads | time (s) |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [transport, { result: r, peerLoads }, ms] of runs) {
  console.log(
    `| ${transport} | ${r.writes} | ${r.reads} | ${r.readsAfterWrites} | ${r.loads} | ${peerLoads} | ` +
      `${r.readErrors} | ${r.writeErrors} | ${r.violations.length} | ${(ms / 1000).toFixed(1)} |`,
  );
}
for (const [transport, { result }] of runs) {
  for (const v of result.violations.slice(0, 5))
    console.error(`${transport}: ${describeViolation(v)}`);
}

const stale = runs.reduce((s, [, run]) => s + run.result.violations.length, 0);
const checked = runs.reduce((s, [, run]) => s + run.result.readsAfterWrites, 0);
const errors = runs.reduce((s, [, run]) => s + run.result.readErrors + run.result.writeErrors, 0);
headline({
  item: 8,
  name: `Writes racing loads in flight: stale reads after an ack (3 nodes, http + tcp)`,
  measured: `${stale} of ${checked.toLocaleString('en-US')} reads`,
  target: '= 0',
  met: stale === 0 && errors === 0,
  note:
    `${runs.map(([t, run]) => `${t}: ${run.result.writes} writes, ${run.result.loads} loads`).join('; ')}; ` +
    `${errors} failed operations`,
});
