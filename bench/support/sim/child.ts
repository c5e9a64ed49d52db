// child.ts: one run of the simulation benchmark in a process of its own (a clean heap to
// measure), printing its result as one JSON line. Run with --expose-gc:
//   node --expose-gc --import tsx child.ts cluster <nodes> <seconds> [ring]
//   node --expose-gc --import tsx child.ts cost <peers> [ring]
import { nodeCost } from './node-cost.js';
import { type RingKind, runSimulation } from './simulation.js';

const gc = globalThis.gc;
if (gc === undefined) throw new Error('run with --expose-gc');
/** heapBytes is the JS heap plus array buffers after two full collections. */
const heapBytes = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const [mode, size, ...rest] = process.argv.slice(2);
/** ringOf is the ring kind named on the command line, checked by createNode; '' for its default. */
const ringOf = (name: string | undefined) => (name ? (name as RingKind) : undefined);
const cpu0 = process.cpuUsage();
if (mode === 'cluster') {
  const [seconds, ring] = rest;
  const result = await runSimulation({
    nodes: Number(size),
    seconds: Number(seconds),
    ring: ringOf(ring),
    heapBytes,
    log: (line) => console.error(`  ${line}`),
  });
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000 }));
} else if (mode === 'cost') {
  const [ring] = rest;
  console.log(JSON.stringify(await nodeCost(Number(size), heapBytes, { ring: ringOf(ring) })));
} else {
  throw new Error(`usage: child.ts cluster <nodes> <seconds> [ring] | cost <peers> [ring]`);
}
