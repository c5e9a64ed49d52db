// sketch.bench.ts: what the hot-key sketch costs a local hit: two groups holding the same
// 100,000 keys, one with the sketch (the default) and one without (hotKeyCapacity 0), hit in
// interleaved rounds of 100,000 peeks and 100,000 awaited gets, the order swapped each
// round; each figure is the median of the rounds' ratios, so the machine's drift cancels.
import type { Group } from '../src/core/group.js';
import { GroupRegistry } from '../src/core/registry.js';
import { headline, times } from './support/report.js';

const KEYS = 100_000;
const PER_ROUND = 100_000;
const ROUNDS = 30;
const TARGET = 1.05;

const registry = new GroupRegistry();
const group = (name: string, hotKeyCapacity: number): Group =>
  registry.newGroup(name, {
    cacheBytes: 64 << 20,
    load: (key) => `${'x'.repeat(100)}${key}`,
    hotKeyCapacity,
  });
const without = group('without', 0);
const withSketch = group('with', 256);
const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
for (const key of keys) {
  await without.get(key);
  await withSketch.get(key);
}
// A scattered order, as a cache sees it.
const order = keys.map((_, i) => keys[(i * 7919) % KEYS] as string);

function peeks(g: Group): number {
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) bytes += g.peek(order[i % KEYS] as string)?.length ?? 0;
  const ns = Number(process.hrtime.bigint() - t0) / PER_ROUND;
  if (bytes < 0) console.log(bytes);
  return ns;
}

async function gets(g: Group): Promise<number> {
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) bytes += (await g.get(order[i % KEYS] as string)).length;
  const ns = Number(process.hrtime.bigint() - t0) / PER_ROUND;
  if (bytes < 0) console.log(bytes);
  return ns;
}

// Warm-up: every path compiled before any is timed.
for (let i = 0; i < 5; i++) {
  peeks(without);
  peeks(withSketch);
  await gets(without);
  await gets(withSketch);
}
const peekRatios: number[] = [];
const getRatios: number[] = [];
const ns = { peek: [[], []] as number[][], get: [[], []] as number[][] };
for (let round = 0; round < ROUNDS; round++) {
  // The order swapped each round: neither group always runs first.
  let p0: number;
  let p1: number;
  let g0: number;
  let g1: number;
  if (round % 2 === 1) {
    p0 = peeks(without);
    p1 = peeks(withSketch);
    g0 = await gets(without);
    g1 = await gets(withSketch);
  } else {
    p1 = peeks(withSketch);
    p0 = peeks(without);
    g1 = await gets(withSketch);
    g0 = await gets(without);
  }
  peekRatios.push(p1 / p0);
  getRatios.push(g1 / g0);
  ns.peek[0]?.push(p0);
  ns.peek[1]?.push(p1);
  ns.get[0]?.push(g0);
  ns.get[1]?.push(g1);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log('\n## The hot-key sketch on a local hit (interleaved rounds)\n');
console.log('| hit | no sketch, ns | with the sketch, ns | ratio (median of rounds) | target |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, r, pair] of [
  ['Group.peek', peekRatios, ns.peek],
  ['await Group.get', getRatios, ns.get],
] as const) {
  console.log(
    `| ${name} | ${median(pair[0] as number[]).toFixed(0)} | ${median(pair[1] as number[]).toFixed(0)} | ${times(median(r))} | ≤ ${TARGET}× |`,
  );
}
// The local hit of the summary is the awaited get; peek, the synchronous one, for reference.
headline({
  item: 17,
  name: 'Hot-key sketch on a local hit (await Group.get), with vs without',
  measured: times(median(getRatios)),
  target: `≤ ${TARGET}×`,
  met: median(getRatios) <= TARGET,
  note: `Group.peek ${times(median(peekRatios))}; median of ${ROUNDS} interleaved rounds of ${PER_ROUND.toLocaleString('en-US')} hits over ${KEYS.toLocaleString('en-US')} keys`,
});
