// lru.bench.ts: the LRU of src/lru against lru-cache 11 (the anchor): hits on
// 100k keys, and adds that each force one eviction.
import { LRUCache } from 'lru-cache';
import { bench, do_not_optimize } from 'mitata';
import { LRU } from '../src/lru/lru.js';
import { measure, printTable } from './lib.js';

const n = 100_000;
/** Operations per bench call, so that harness overhead does not dominate. */
const batch = 1000;
const valueBytes = 100;

/** NaiveLRU is the textbook Map LRU (delete + set on every hit), for reference. */
class NaiveLRU<V> {
  readonly #map = new Map<string, V>();
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
  }
}

async function main(): Promise<void> {
  // 2n distinct keys: the first n fill the caches; adding keys n.. evicts them,
  // and cycling through all 2n keeps every add a miss.
  const keys = Array.from({ length: 2 * n }, (_, i) => `key:${i.toString(36)}:${i * 7919}`);
  const values = keys.map(() => new Uint8Array(valueBytes));
  const sizeOf = (key: string) => key.length + valueBytes;
  const budget = keys.slice(0, n).reduce((s, k) => s + sizeOf(k), 0);

  // Hits: read the n resident keys in a scattered order (stride prime to n).
  const ours = new LRU<Uint8Array>({ maxBytes: budget });
  const theirs = new LRUCache<string, Uint8Array>({ max: n });
  const naive = new NaiveLRU<Uint8Array>();
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    ours.add(k, values[i]!, sizeOf(k));
    theirs.set(k, values[i]!);
    naive.set(k, values[i]!);
  }
  if (ours.len() !== n) throw new Error(`setup: ${ours.len()} entries, want ${n}`);
  // Each bench has its own loop, so every call site sees one cache class.
  const stride = 7919;
  let j = 0;
  bench('lru-cache get (hit)', () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(theirs.get(keys[j]!));
    }
  });
  bench('LRU get (hit)', () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(ours.get(keys[j]!));
    }
  });
  bench('naive Map LRU get (hit)', () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(naive.get(keys[j]!));
    }
  });

  // Adds with one eviction each: full caches, fresh keys every time.
  const oursAdd = new LRU<Uint8Array>({ maxBytes: budget });
  const theirsSet = new LRUCache<string, Uint8Array>({
    maxSize: budget,
    sizeCalculation: (v, k) => k.length + v.length,
  });
  const theirsSetMax = new LRUCache<string, Uint8Array>({
    max: n + 1,
    maxSize: budget,
    sizeCalculation: (v, k) => k.length + v.length,
  });
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    oursAdd.add(k, values[i]!, sizeOf(k));
    theirsSet.set(k, values[i]!);
    theirsSetMax.set(k, values[i]!);
  }
  // Cycle through all 2n keys so that every add is a new key.
  const step = (i: number) => (i + 1 === 2 * n ? 0 : i + 1);
  let a = n;
  let c = n;
  let d = n;
  bench('lru-cache set, maxSize (evicts)', () => {
    for (let b = 0; b < batch; b++) {
      theirsSet.set(keys[a]!, values[a]!);
      a = step(a);
    }
  });
  bench('lru-cache set, max + maxSize (evicts)', () => {
    for (let b = 0; b < batch; b++) {
      theirsSetMax.set(keys[c]!, values[c]!);
      c = step(c);
    }
  });
  bench('LRU add (evicts)', () => {
    for (let b = 0; b < batch; b++) {
      const k = keys[d]!;
      const v = values[d]!;
      oursAdd.add(k, v, k.length + v.length);
      d = step(d);
    }
  });

  const names = [
    'lru-cache get (hit)',
    'LRU get (hit)',
    'naive Map LRU get (hit)',
    'lru-cache set, maxSize (evicts)',
    'lru-cache set, max + maxSize (evicts)',
    'LRU add (evicts)',
  ];
  const ns = await measure(Object.fromEntries(names.map((name) => [name, batch])));
  const at = (name: string) => ns.get(name) ?? Number.NaN;
  if (oursAdd.len() > n || oursAdd.bytes > budget) throw new Error('LRU add: over budget');
  if (theirsSet.size > n) throw new Error('lru-cache set: over budget');

  printTable(`LRU, ${n.toLocaleString('en-US')} keys, ${valueBytes}-byte values`, [
    { name: 'lru-cache get (hit)', nsPerOp: at('lru-cache get (hit)') },
    {
      name: 'LRU get (hit)',
      nsPerOp: at('LRU get (hit)'),
      vs: 'lru-cache get (hit)',
      target: 1.2,
    },
    {
      name: 'naive Map LRU get (hit)',
      nsPerOp: at('naive Map LRU get (hit)'),
      vs: 'lru-cache get (hit)',
    },
    { name: 'lru-cache set, maxSize (evicts)', nsPerOp: at('lru-cache set, maxSize (evicts)') },
    {
      name: 'lru-cache set, max + maxSize (evicts)',
      nsPerOp: at('lru-cache set, max + maxSize (evicts)'),
      vs: 'lru-cache set, maxSize (evicts)',
    },
    {
      name: 'LRU add (evicts)',
      nsPerOp: at('LRU add (evicts)'),
      vs: 'lru-cache set, maxSize (evicts)',
      target: 1.2,
    },
  ]);
}

await main();
