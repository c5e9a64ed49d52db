// group.bench.ts: a local hit through Group against lru-cache 11 on the same
// keys (the anchor). Group.get is a Promise API, so it is also compared with
// lru-cache behind the same `await`, which is what an async caller pays anyway.
import { LRUCache } from 'lru-cache';
import { bench, do_not_optimize } from 'mitata';
import { GroupRegistry } from '../src/core/registry.js';
import { measure, printTable } from './lib.js';
import { headline, times } from './support/report.js';

const n = 100_000;
const batch = 1000;
const value = 'x'.repeat(100);

async function main(): Promise<void> {
  const keys = Array.from({ length: n }, (_, i) => `key:${i.toString(36)}:${i * 7919}`);
  const lru = new LRUCache<string, string>({ max: n });
  const group = new GroupRegistry().newGroup('bench', { cacheBytes: 1 << 30, load: () => value });
  // The same group without its hot-key sketch: what the sketch costs a local hit.
  const plain = new GroupRegistry().newGroup('bench', {
    cacheBytes: 1 << 30,
    load: () => value,
    hotKeyCapacity: 0,
  });
  for (const k of keys) {
    lru.set(k, value);
    await group.get(k);
    await plain.get(k);
  }
  if (group.cacheStats('main').items !== n) throw new Error('setup: group did not cache every key');
  const stride = 7919;
  let j = 0;
  bench('lru-cache get', () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(lru.get(keys[j]!));
    }
  });
  bench('Group.peek (sync hit)', () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(group.peek(keys[j]!));
    }
  });
  bench('Group.peek, no hot-key sketch', () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(plain.peek(keys[j]!));
    }
  });
  bench('await Group.get, no hot-key sketch', async () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(await plain.get(keys[j]!));
    }
  });
  bench('await lru-cache get', async () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(await Promise.resolve(lru.get(keys[j]!)));
    }
  });
  bench('await Group.get (hit)', async () => {
    for (let b = 0; b < batch; b++) {
      j = (j + stride) % n;
      do_not_optimize(await group.get(keys[j]!));
    }
  });
  const per = Object.fromEntries(
    [
      'lru-cache get',
      'Group.peek (sync hit)',
      'await lru-cache get',
      'await Group.get (hit)',
      'Group.peek, no hot-key sketch',
      'await Group.get, no hot-key sketch',
    ].map((k) => [k, batch]),
  );
  const ns = await measure(per);
  const at = (name: string) => ns.get(name) ?? Number.NaN;
  printTable(`Local hit, ${n.toLocaleString('en-US')} keys, 100-byte values`, [
    { name: 'lru-cache get', nsPerOp: at('lru-cache get') },
    {
      name: 'Group.peek (sync hit)',
      nsPerOp: at('Group.peek (sync hit)'),
      vs: 'lru-cache get',
      target: 1.5,
    },
    { name: 'await lru-cache get', nsPerOp: at('await lru-cache get'), vs: 'lru-cache get' },
    {
      name: 'await Group.get (hit)',
      nsPerOp: at('await Group.get (hit)'),
      vs: 'await lru-cache get',
      target: 1.5,
    },
  ]);
  printTable('What the hot-key sketch costs a local hit', [
    { name: 'Group.peek, no hot-key sketch', nsPerOp: at('Group.peek, no hot-key sketch') },
    {
      name: 'Group.peek (sync hit)',
      nsPerOp: at('Group.peek (sync hit)'),
      vs: 'Group.peek, no hot-key sketch',
      target: 1.05,
    },
    {
      name: 'await Group.get, no hot-key sketch',
      nsPerOp: at('await Group.get, no hot-key sketch'),
    },
    {
      name: 'await Group.get (hit)',
      nsPerOp: at('await Group.get (hit)'),
      vs: 'await Group.get, no hot-key sketch',
      target: 1.05,
    },
  ]);
  const ratio = at('await Group.get (hit)') / at('await lru-cache get');
  headline({
    item: 1,
    name: 'Local hit, await Group.get vs await lru-cache get',
    measured: times(ratio),
    target: '≤ 1.5×',
    met: ratio <= 1.5,
    chart: { ratio, target: 1.5, higherIsBetter: false },
  });
  const raw = at('await Group.get (hit)') / at('lru-cache get');
  console.log(
    `\nawait Group.get vs sync lru-cache get: ${raw.toFixed(2)}× (the await alone is most of it)`,
  );
}

await main();
