// ring.bench.ts: cost of picking a key's owner on the ring (one CRC-32 and a
// binary search) at 8 to 512 peers, against a Map lookup of the same key.
import { bench, do_not_optimize } from 'mitata';
import { Ring } from '../src/ring/ring.js';
import { measure, printTable, type Row } from './lib.js';

const peerCounts = [8, 32, 128, 512];
const targetNs = 1_000;

// Keys of a realistic shape; a batch per call so the loop overhead is shared.
const keys = Array.from({ length: 1_024 }, (_, i) => `user:${(i * 2654435761) % 1_000_003}`);
const batch = keys.length;

const rings = new Map<number, Ring>();
for (const n of peerCounts) {
  const ring = new Ring({ replicas: 50 });
  ring.add(...Array.from({ length: n }, (_, i) => `http://10.${i >> 8}.${i & 255}.1:8080`));
  rings.set(n, ring);
}
const owners = new Map(keys.map((k) => [k, rings.get(8)!.get(k)!]));

const anchor = 'Map.get (same keys)';
bench(anchor, () => {
  for (let i = 0; i < batch; i++) do_not_optimize(owners.get(keys[i]!));
});
for (const n of peerCounts) {
  const ring = rings.get(n)!;
  bench(`ring.get, ${n} peers`, () => {
    for (let i = 0; i < batch; i++) do_not_optimize(ring.get(keys[i]!));
  });
}

const names = [anchor, ...peerCounts.map((n) => `ring.get, ${n} peers`)];
const ns = await measure(Object.fromEntries(names.map((name) => [name, batch])));
const rows: Row[] = names.map((name) => ({
  name,
  nsPerOp: ns.get(name) ?? Number.NaN,
  ...(name === anchor ? {} : { vs: anchor }),
}));
printTable('ring: owner of a key (50 replicas, 1,024 keys per batch)', rows);

const at512 = ns.get(`ring.get, ${peerCounts.at(-1)} peers`) ?? Number.NaN;
const verdict = at512 < targetNs ? 'met' : 'MISSED';
console.log(
  `\ntarget: ring.get < ${targetNs} ns at 512 peers (25,600 points): ${at512.toFixed(1)} ns, ${verdict}`,
);
