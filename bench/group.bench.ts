// group.bench.ts: a local hit through Group against lru-cache 11 on the same
// keys (the anchor). Group.get is a Promise API, so it is also compared with
// lru-cache behind the same `await`, which is what an async caller pays anyway.
// The headline is the median ratio of interleaved rounds (the order swapped each
// round), which cancels the machine's drift that moves single runs by 2×.
import { LRUCache } from 'lru-cache';
import { bench, do_not_optimize } from 'mitata';
import { GroupRegistry } from '../src/core/registry.js';
import { measure, printTable } from './lib.js';
import { headline, times } from './support/report.js';

const n = 100_000;
const batch = 1000;
const value = 'x'.repeat(100);
const TARGET = 1.2;
const ROUNDS = 31;
const PER_ROUND = 100_000;

/** interleaved times `a` and `b` in turn, ROUNDS times, and returns the median ratio a/b and ns each. */
async function interleaved(
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
): Promise<{ ratio: number; aNs: number; bNs: number }> {
  const time = async (fn: (i: number) => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) do_not_optimize(await fn(i));
    return Number(process.hrtime.bigint() - t0) / PER_ROUND;
  };
  for (let w = 0; w < 3; w++) {
    await time(a);
    await time(b);
  }
  const ratios: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let ta: number;
    let tb: number;
    if (r % 2 === 0) {
      ta = await time(a);
      tb = await time(b);
    } else {
      tb = await time(b);
      ta = await time(a);
    }
    ratios.push(ta / tb);
    as.push(ta);
    bs.push(tb);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
  return { ratio: median(ratios), aNs: median(as), bNs: median(bs) };
}

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
  const order = keys.map((_, i) => keys[(i * 7919) % n] as string);
  const pair = await interleaved(
    (i) => group.get(order[i % n] as string),
    async (i) => lru.get(order[i % n] as string),
  );
  console.log(
    `\nInterleaved (${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en-US')}, median): await Group.get ${pair.aNs.toFixed(0)} ns, await lru-cache get ${pair.bNs.toFixed(0)} ns, ${times(pair.ratio)}`,
  );
  headline({
    item: 1,
    name: 'Local hit, await Group.get vs await lru-cache get',
    measured: times(pair.ratio),
    target: `≤ ${TARGET}×`,
    met: pair.ratio <= TARGET,
    chart: { ratio: pair.ratio, target: TARGET, higherIsBetter: false },
    note: `median of ${ROUNDS} interleaved rounds; ${pair.aNs.toFixed(0)} ns vs ${pair.bNs.toFixed(0)} ns`,
  });
  const raw = at('await Group.get (hit)') / at('lru-cache get');
  console.log(
    `\nawait Group.get vs sync lru-cache get: ${raw.toFixed(2)}× (the await alone is most of it)`,
  );
}

await main();
