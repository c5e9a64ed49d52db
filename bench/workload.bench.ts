// workload.bench.ts: an application's workload on four caches. Three app processes per
// system, each keeping 64 requests in flight over 100k keys of Zipf(1.1) popularity (1 KiB
// values, 5% writes), loading misses from a "database" that takes 5 ms and counts its
// reads: (a) cache-aside on Redis with ioredis, (b) bentocache with a memory L1, a Redis
// L2 and its Redis bus, (c) peercache with the app processes as a cluster over tcp (and
// (c′) the same with `hotCacheChance` 1), (d) peercache client-only nodes of a 3-node
// `peercache node` cluster. Same loader, keys and TTL (60 s). After a warm-up of each, 4 rounds of 5 s per system, the systems taken
// in turn. `--quick` runs 2 rounds of 1 s after 1 s of warm-up; `--write-docs` writes the
// table into docs/benchmarks.md and the chart to docs/workload.svg; `--systems=redis,peercache`
// runs only the systems named.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessRegistry } from '../test/support/process.js';
import { stopOnInterrupt } from './support/interrupt.js';
import { ensureRedisServer } from './support/redis.js';
import { headline, times } from './support/report.js';
import type { SystemName } from './support/workload-apps.js';
import { runWorkload, type SystemResult } from './support/workload-harness.js';
import {
  readsPerKey,
  replaceBetweenMarkers,
  workloadChartSvg,
  workloadGoals,
  workloadTable,
} from './support/workload-report.js';

const quick = process.argv.includes('--quick');
const writeDocs = process.argv.includes('--write-docs');
const timing = quick
  ? { warmupMs: 1000, rounds: 2, roundMs: 1000 }
  : { warmupMs: 5000, rounds: 4, roundMs: 5000 };

const missing = ensureRedisServer();
const every: SystemName[] = missing
  ? ['peercache', 'peercache-hot', 'gateway']
  : ['redis', 'bentocache', 'peercache', 'peercache-hot', 'gateway'];
if (missing) console.error(`(a) and (b) skipped: ${missing}`);
// `--systems=redis,peercache` runs only those (of redis, bentocache, peercache, peercache-hot, gateway).
const chosen = process.argv
  .find((a) => a.startsWith('--systems='))
  ?.slice('--systems='.length)
  .split(',');
const systems = chosen === undefined ? every : every.filter((s) => chosen.includes(s));

const registry = stopOnInterrupt(new ProcessRegistry());
let results: SystemResult[];
try {
  results = await runWorkload({
    systems,
    registry,
    ...timing,
    log: (line) => console.error(line),
  });
} finally {
  await registry.stopAll();
}

const date = new Date().toISOString().slice(0, 10);
const title = `Workload: 3 app processes, Zipf(1.1) over 100k keys, 1 KiB values, 5% writes, 64 in flight each; ${timing.rounds} × ${timing.roundMs / 1000} s per system`;
const table = workloadTable(results);
const goals = workloadGoals(results);
console.log(`\n## ${title}\n\n${table}\n`);
for (const g of goals) console.log(`- ${g.met ? 'met' : 'NOT met'}: ${g.text}`);
for (const r of results)
  if (r.firstError) console.error(`${r.label}: first error: ${r.firstError}`);
for (const r of results) {
  const n = r.counters;
  if (n.gets === undefined || n.gets === 0) continue;
  const share = (v = 0) => `${((100 * v) / n.gets!).toFixed(1)}%`;
  console.log(
    `${r.label}, gets of the whole run: ${share(n.mainHits)} main hits, ${share(n.hotHits)} hot hits, ${share(n.peerLoads)} from the owner, ${share(n.localLoads)} loaded here; ${Math.round((n.hotItems ?? 0) / 3).toLocaleString('en-US')} keys in each hot cache`,
  );
}

// What competes with the answers in the app processes: the event loop's delay and GC.
for (const r of results) {
  const pct = (share: number) => `${(100 * share).toFixed(1)}%`;
  console.log(
    `${r.label}, app processes: event-loop delay p99 ${r.loopDelayP99Ms.toFixed(1)} ms (median of each process's rounds); GC ${pct(r.gcShare)} of the time, ${r.majorPerSec.toFixed(1)} major collections a second per process (${pct(r.majorShare)} of the time)`,
  );
}

const c = results.find((r) => r.system === 'peercache');
for (const other of results.filter((r) => r.system === 'redis' || r.system === 'bentocache')) {
  if (c === undefined) break;
  const ratio = c.getsPerSec / other.getsPerSec;
  headline({
    item: 18,
    name: `Workload gets/s, peercache cluster vs ${other.label.replace(/^\(.\) /, '')}`,
    measured: `${times(ratio)}`,
    target: '≥ 1.5×',
    met: ratio >= 1.5,
    chart: { ratio, target: 1.5, higherIsBetter: true },
    note: `CPU per get ${Math.round(c.cpuUsPerGet)} vs ${Math.round(other.cpuUsPerGet)} µs; DB reads per key ${readsPerKey(c).toFixed(2)} vs ${readsPerKey(other).toFixed(2)}; p99 ${(c.p99Us / 1000).toFixed(1)} vs ${(other.p99Us / 1000).toFixed(1)} ms`,
  });
}

if (writeDocs) {
  const docs = fileURLToPath(new URL('../docs/', import.meta.url));
  writeFileSync(`${docs}workload.svg`, workloadChartSvg(results, `${title} (${date})`));
  const verdicts = goals.map((g) => `- ${g.met ? 'Met' : '**Not met**'}: ${g.text}.`).join('\n');
  const body = `${table}\n\n${verdicts}`;
  const path = `${docs}benchmarks.md`;
  writeFileSync(path, replaceBetweenMarkers(readFileSync(path, 'utf8'), body));
  console.log('written: docs/benchmarks.md (workload table), docs/workload.svg');
}
process.exit(0);
