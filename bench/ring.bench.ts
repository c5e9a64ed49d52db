// ring.bench.ts: the ring kinds measured against the balanced ring's targets: the busiest
// member's share over random clusters of 3 to 1,000 nodes, the keys that move when one joins,
// the cost of picking a key's owner, and of a rebuild.
import { bench, do_not_optimize } from 'mitata';
import { createRing, type OwnerRing, type RingKind } from '../src/ring/owner-ring.js';
import { seeded as prng } from '../test/support/seeded.js';
import { measure, printTable, type Row } from './lib.js';

const sizes = [3, 10, 30, 100, 300, 1_000];
const kinds: RingKind[] = ['golang', 'groupcache-go', 'balanced'];
/** Random clusters per size and address kind: 100 for the balanced ring, fewer for the Go ones (for comparison only). */
const clustersOf = (kind: RingKind): number => (kind === 'balanced' ? 100 : 20);
const targets = { maxOverMean: 1.1, moved: 1.1, pickNs: 1_000, rebuildMs: 10 };

type Addresses = 'loopback ports' | 'random addresses';

/** cluster draws `n` distinct peer URLs: consecutive loopback ports from a random base, or random 10.x hosts and ports. */
function cluster(n: number, addresses: Addresses, random: () => number): string[] {
  const urls = new Set<string>();
  const base = 1_024 + Math.floor(random() * 60_000);
  while (urls.size < n) {
    if (addresses === 'loopback ports') urls.add(`http://127.0.0.1:${base + urls.size}`);
    else {
      const octet = () => Math.floor(random() * 256);
      const port = 1_024 + Math.floor(random() * 64_000);
      urls.add(`http://10.${octet()}.${octet()}.${octet()}:${port}`);
    }
  }
  return [...urls];
}

function ringOf(kind: RingKind, peers: string[]): OwnerRing {
  const ring = createRing({ kind });
  ring.set(peers);
  return ring;
}

const p99 = (values: number[]): number => {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
};
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT MET');

// 1. Balance: the busiest member's share of the hash space over the mean (exact, from shares()).
console.log(
  '\n## ring: busiest member’s share ÷ mean share (p99 and worst over random clusters)\n',
);
console.log(`| ring | addresses | clusters | ${sizes.map((n) => `${n} nodes`).join(' | ')} |`);
console.log(`|---|---|---:|${sizes.map(() => '---:').join('|')}|`);
let balanceMet = true;
for (const kind of kinds) {
  for (const addresses of ['loopback ports', 'random addresses'] as const) {
    const cells: string[] = [];
    for (const n of sizes) {
      const random = prng(n * 7 + addresses.length);
      const ratios: number[] = [];
      for (let c = 0; c < clustersOf(kind); c++) {
        const shares = ringOf(kind, cluster(n, addresses, random)).shares();
        ratios.push(Math.max(...shares.values()) * n);
      }
      const at = p99(ratios);
      if (kind === 'balanced' && at > targets.maxOverMean) balanceMet = false;
      cells.push(`${at.toFixed(3)} (${Math.max(...ratios).toFixed(3)})`);
    }
    console.log(`| ${kind} | ${addresses} | ${clustersOf(kind)} | ${cells.join(' | ')} |`);
  }
}

// 2. A node joins N nodes: the keys that move, as a multiple of 1/(N+1), and where they go.
console.log('\n## balanced ring: one node joins N (100 random clusters per N)\n');
console.log('| N | moved × (N+1), p99 | worst | keys moved to an old member (of 20,000 sampled) |');
console.log('|---:|---:|---:|---:|');
let movedMet = true;
const sample = Array.from({ length: 20_000 }, (_, i) => `user:${(i * 2654435761) % 1_000_003}`);
for (const n of sizes) {
  const random = prng(n * 13);
  const moved: number[] = [];
  let strays = 0;
  for (let c = 0; c < 100; c++) {
    const [joiner, ...peers] = cluster(
      n + 1,
      c % 2 === 0 ? 'loopback ports' : 'random addresses',
      random,
    ) as [string, ...string[]];
    const before = ringOf('balanced', peers);
    const after = ringOf('balanced', [...peers, joiner]);
    // Keys move only to the joiner (checked on the sample below), so the moved
    // fraction is exactly the joiner's share.
    moved.push(after.shares().get(joiner)! * (n + 1));
    if (c < 10) {
      for (const key of sample) {
        const owner = after.get(key);
        if (owner !== joiner && owner !== before.get(key)) strays++;
      }
    }
  }
  const at = p99(moved);
  if (at > targets.moved || strays > 0) movedMet = false;
  console.log(`| ${n} | ${at.toFixed(3)} | ${Math.max(...moved).toFixed(3)} | ${strays} |`);
}

/**
 * cpuMs runs `fn` and returns the CPU time this process spent in it (user +
 * system), in ms, and the wall time: on a machine shared with other work the
 * wall time counts the time others had the CPU, the CPU time does not.
 */
function cpuMs(fn: () => void): { cpu: number; wall: number } {
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  fn();
  const used = process.cpuUsage(cpu);
  return {
    cpu: (used.user + used.system) / 1e3,
    wall: Number(process.hrtime.bigint() - wall) / 1e6,
  };
}

// 3. Rebuild: a fresh ring of 1,000 members, as a membership change makes.
console.log('\n## ring rebuild, 1,000 members (mean of 20, after 3 discarded)\n');
console.log('| ring | CPU ms | wall ms |');
console.log('|---|---:|---:|');
const thousand = cluster(1_000, 'random addresses', prng(1));
const rebuildMs = new Map<RingKind, number>();
for (const kind of ['golang', 'mailgun', 'groupcache-go', 'balanced'] as const) {
  for (let i = 0; i < 3; i++) ringOf(kind, thousand);
  const { cpu, wall } = cpuMs(() => {
    for (let i = 0; i < 20; i++) ringOf(kind, i % 2 === 0 ? thousand : thousand.slice(1));
  });
  rebuildMs.set(kind, cpu / 20);
  console.log(`| ${kind} | ${(cpu / 20).toFixed(2)} | ${(wall / 20).toFixed(2)} |`);
}

// 4. Picking an owner: every kind at 8 to 1,000 peers, against a Map lookup of the same key.
const pickSizes = [8, 100, 1_000];
const keys = Array.from({ length: 1_024 }, (_, i) => `user:${(i * 2654435761) % 1_000_003}`);
const batch = keys.length;
const anchor = 'Map.get (same keys)';
const owners = new Map(keys.map((k) => [k, k]));
bench(anchor, () => {
  for (let i = 0; i < batch; i++) do_not_optimize(owners.get(keys[i]!));
});
const pickNames: string[] = [];
for (const kind of ['golang', 'mailgun', 'groupcache-go', 'balanced'] as const) {
  for (const n of pickSizes) {
    const ring = ringOf(kind, cluster(n, 'random addresses', prng(n)));
    const name = `${kind}.get, ${n} peers`;
    pickNames.push(name);
    bench(name, () => {
      for (let i = 0; i < batch; i++) do_not_optimize(ring.get(keys[i]!));
    });
  }
}
const names = [anchor, ...pickNames];
const ns = await measure(Object.fromEntries(names.map((name) => [name, batch])));
const rows: Row[] = names.map((name) => ({
  name,
  nsPerOp: ns.get(name) ?? Number.NaN,
  ...(name === anchor ? {} : { vs: anchor }),
}));
printTable('ring: owner of a key (1,024 keys per batch)', rows);

// The same picks timed by CPU time, 200 batches each, for the verdict.
const cpuPick = (kind: RingKind): number => {
  const ring = ringOf(kind, cluster(1_000, 'random addresses', prng(1_000)));
  let sink = 0;
  const { cpu } = cpuMs(() => {
    for (let r = 0; r < 200; r++)
      for (let i = 0; i < batch; i++) if (ring.get(keys[i]!) === '') sink++;
  });
  do_not_optimize(sink);
  return (cpu * 1e6) / (200 * batch);
};
const golangPick = cpuPick('golang');
const pick = cpuPick('balanced');
const pickWall = ns.get('balanced.get, 1000 peers') ?? Number.NaN;
console.log(
  `\nCPU time per pick at 1,000 peers: golang ${golangPick.toFixed(1)} ns, balanced ${pick.toFixed(1)} ns`,
);
const rebuild = rebuildMs.get('balanced') ?? Number.NaN;
console.log('\n## balanced ring: targets\n');
console.log(
  `- busiest node ≤ ${targets.maxOverMean}× mean, p99 over 100 clusters, 3 to 1,000 nodes: ${verdict(balanceMet)}`,
);
console.log(
  `- a join moves ≤ ${targets.moved} × 1/(N+1) of keys (p99), only to the new node: ${verdict(movedMet)}`,
);
console.log(
  `- owner pick < ${targets.pickNs} ns at 1,000 nodes: ${pick.toFixed(1)} ns CPU, ${pickWall.toFixed(1)} ns wall (${(pick / golangPick).toFixed(2)}× golang's CPU time in this run), ${verdict(pick < targets.pickNs)}`,
);
console.log(
  `- rebuild < ${targets.rebuildMs} ms at 1,000 nodes: ${rebuild.toFixed(2)} ms CPU, ${verdict(rebuild < targets.rebuildMs)}`,
);
