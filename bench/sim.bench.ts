// sim.bench.ts: a simulated cluster of 100 and 300 real CacheNodes in one process (the memory
// transport, a Zipf workload, a join, leave or hang every 3 simulated seconds), and what one
// node costs at 100 to 1,000 peers. Each run is a child process of its own (support/sim/child.ts).
// Flags (with `=`, as run.ts passes on only the arguments that start with `--`):
// --nodes=1000 (cluster sizes, comma-separated), --seconds=10, --ring=<kind> (passed to
// createNode), --cost=100,300,1000 (peer counts of the node-cost runs).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { headline, times } from './support/report.js';
import type { NodeCost } from './support/sim/node-cost.js';
import type { SimulationResult } from './support/sim/simulation.js';

const CHILD = fileURLToPath(new URL('./support/sim/child.ts', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    nodes: { type: 'string' },
    seconds: { type: 'string' },
    ring: { type: 'string' },
    cost: { type: 'string' },
  },
  strict: false,
});
const list = (v: unknown, fallback: number[]) =>
  typeof v === 'string' ? v.split(',').map(Number) : fallback;
/** Cluster sizes, each with its simulated seconds: the larger, the shorter (each change costs N rebuilds). */
const sizes = list(flags.nodes, [100, 300]);
const secondsOf = (n: number) =>
  typeof flags.seconds === 'string' ? Number(flags.seconds) : n <= 100 ? 30 : 15;
const costPeers = list(flags.cost, [100, 300, 1_000]);
const ring = typeof flags.ring === 'string' ? flags.ring : '';
const KiB = 1024;

/** child runs one measurement in a fresh process with room for its heap, and parses its JSON line. */
function child<T>(args: string[]): T {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=16384', '--import', 'tsx', CHILD, ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
  );
  if (r.status !== 0)
    throw new Error(`child ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as T;
}

console.log(
  `\n## Simulated cluster (memory transport, one process${ring ? `, ring ${ring}` : ''})\n`,
);
const runs: { n: number; r: SimulationResult & { cpuMs: number } }[] = [];
for (const n of sizes) {
  console.log(`${n} nodes, ${secondsOf(n)} simulated seconds...`);
  runs.push({ n, r: child(['cluster', String(n), String(secondsOf(n)), ring]) });
}
console.log(
  '\n| nodes | gets | failed | loads / ownership period | duplicate loads | fallback reloads | hot-cache share, top 100 keys | requests max/mean | ring keys max/mean | heap / node | change / node | wall (CPU) |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const { n, r } of runs) {
  const e = r.nodes;
  console.log(
    `| ${n} (+${e.joined} −${e.left} hung ${e.hung}) | ${r.gets.toLocaleString('en-US')} | ${r.failedGets} | ${r.loadsPerPeriod.toFixed(3)} (${(r.loads - r.fallbackReloads).toLocaleString('en-US')} / ${r.periods.toLocaleString('en-US')}) | ${r.duplicateLoads} | ${r.fallbackReloads} | ${(r.hot.share * 100).toFixed(0)}% of ${r.hot.gets.toLocaleString('en-US')} | ${times(r.requests.balance)} | ${times(r.ringBalance)} | ${((r.memory?.perNodeAtSetup ?? Number.NaN) / KiB).toFixed(0)} KiB (${((r.memory?.perNodeAtEnd ?? Number.NaN) / KiB).toFixed(0)} KiB at the end) | ${r.changeMsPerNode.toFixed(1)} ms | ${(r.wallMs / 1000).toFixed(0)} s (${(r.cpuMs / 1000).toFixed(0)} s) |`,
  );
  if (r.failures.length > 0) console.log(`  failures at ${n}: ${r.failures.join('; ')}`);
}

console.log('\n## One node at N peers (8 nodes told of N members)\n');
const costs = costPeers.map((p) => child<NodeCost>(['cost', String(p), ring]));
const anchor = costs[0] as NodeCost;
console.log(
  `| peers | heap / node | per peer | heap vs ${anchor.peers} peers | set up (ring + clients) | one change (rebuild) |`,
);
console.log('|---:|---:|---:|---:|---:|---:|');
for (const c of costs) {
  console.log(
    `| ${c.peers.toLocaleString('en-US')} | ${(c.heapPerNode / KiB / KiB).toFixed(2)} MiB | ${(c.heapPerPeer / KiB).toFixed(1)} KiB | ${times(c.heapPerNode / anchor.heapPerNode)} | ${c.setupMs.toFixed(1)} ms | ${c.changeMs.toFixed(1)} ms |`,
  );
}

const largest = runs.at(-1);
if (largest !== undefined) {
  const { n, r } = largest;
  headline({
    item: 13,
    name: `Simulated cluster of ${n} nodes ${r.nodes.joined + r.nodes.left + r.nodes.hung > 0 ? 'with' : 'without'} churn: failed gets, loads per key per ownership period`,
    measured: `${r.failedGets} failed, ${r.loadsPerPeriod.toFixed(3)} loads/period (max ${r.maxLoadsInAPeriod})`,
    target: '0 failed, ≤ 1 load per key per period',
    met: r.failedGets === 0 && r.maxLoadsInAPeriod <= 1,
    note: `${r.duplicateLoads} duplicate loads, ${r.fallbackReloads} fallback reloads; requests max/mean ${times(r.requests.balance)}; hot caches answered ${(r.hot.share * 100).toFixed(0)}% of the top ${r.hot.keys} keys' gets`,
  });
}
const widest = costs.at(-1);
if (widest !== undefined) {
  headline({
    item: 13,
    name: `One node at ${widest.peers.toLocaleString('en-US')} peers: heap, and one membership change`,
    measured: `${(widest.heapPerNode / KiB / KiB).toFixed(1)} MiB, ${widest.changeMs.toFixed(0)} ms`,
    target: '',
    note: `${(widest.heapPerPeer / KiB).toFixed(1)} KiB per peer; ${times(widest.heapPerNode / anchor.heapPerNode)} the heap at ${anchor.peers} peers`,
  });
}
