// getmany.bench.ts: many keys at once over tcp: `getMany` of 100 cached keys (one GET_MANY
// frame per owner) against 100 concurrent `get`s of the same keys (the anchor), from a
// client-only node to a 3-node cluster in this process; and how many requests and loader
// calls a cold batch makes with `loadMany`.
import { performance } from 'node:perf_hooks';
import type { Group } from '../src/core/group.js';
import { createNode } from '../src/node/node.js';
import { tcpTransport } from '../src/transport/tcp/index.js';
import type { PeerTransport } from '../src/transport/transport.js';
import { freePorts } from '../test/support/process.js';
import { headline, times } from './support/report.js';

const KEYS = 100;
const ROUNDS = 7;
const BATCHES_PER_ROUND = 300;
const BATCH_MAX = 100;

async function main(): Promise<void> {
  const ports = await freePorts(3);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  let loadManyCalls = 0;
  // Requests the members were sent for the group: a server looks a request's group up once.
  let requests = 0;
  const counting = (base: PeerTransport): PeerTransport => ({
    name: base.name,
    client: (url, o) => base.client(url, o),
    serve: (groups, o) =>
      base.serve(
        {
          getGroup: (name) => {
            if (name === 'rows') requests++;
            return groups.getGroup(name);
          },
        },
        o,
      ),
    close: () => base.close(),
  });
  const nodes = urls.map((self) =>
    createNode({ self, peers: urls, transport: counting(tcpTransport()) }),
  );
  for (const node of nodes) {
    node.newGroup('rows', {
      cacheBytes: 64 << 20,
      batchMax: BATCH_MAX,
      loadMany: (keys) => {
        loadManyCalls++;
        return new Map(keys.map((k) => [k, `row ${k}`.padEnd(100, '.')]));
      },
    });
  }
  const client = createNode({ peers: urls, member: false, transport: tcpTransport() });
  const group = client.newGroup('rows', { cacheBytes: 64 << 20, hotCacheChance: 0 }) as Group;
  try {
    await Promise.all(nodes.map((n) => n.listen()));
    await client.start();

    // A cold batch: how many loader calls for 3 owners.
    const cold = Array.from({ length: 300 }, (_, i) => `cold-${i}`);
    const before = loadManyCalls;
    requests = 0;
    const got = await group.getMany(cold);
    const coldCalls = loadManyCalls - before;
    const coldRequests = requests;
    if (got.size !== cold.length) throw new Error(`cold batch: ${got.size} of ${cold.length}`);

    const keys = Array.from({ length: KEYS }, (_, i) => `warm-${i}`);
    await group.getMany(keys);
    const manyRates: number[] = [];
    const getRates: number[] = [];
    const time = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < BATCHES_PER_ROUND; i++) await fn();
      return (BATCHES_PER_ROUND * KEYS) / ((performance.now() - t0) / 1000);
    };
    for (let r = 0; r < ROUNDS; r++) {
      // Taken in turn, the order swapped each round.
      const many = () => group.getMany(keys);
      const gets = () => Promise.all(keys.map((k) => group.get(k)));
      if (r % 2 === 0) {
        manyRates.push(await time(many));
        getRates.push(await time(gets));
      } else {
        getRates.push(await time(gets));
        manyRates.push(await time(many));
      }
    }
    const median = (xs: number[]) =>
      [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const m = median(manyRates);
    const g = median(getRates);
    console.log('\n## getMany over tcp\n');
    console.log('| benchmark | keys/s | ratio |');
    console.log('|---|---:|---:|');
    console.log(
      `| 100 concurrent get (anchor) | ${Math.round(g).toLocaleString('en-US')} | anchor |`,
    );
    console.log(
      `| getMany(100 keys) | ${Math.round(m).toLocaleString('en-US')} | ${times(m / g)} |`,
    );
    console.log(
      `\ncold batch of ${cold.length} keys over 3 owners: ${coldRequests} requests, ${coldCalls} loadMany calls (batchMax ${BATCH_MAX})`,
    );
    headline({
      item: 14,
      name: 'getMany(100 keys) vs 100 concurrent get, tcp, keys/s',
      measured: times(m / g),
      target: '',
      note: `cold batch of ${cold.length} keys: ${coldRequests} requests, ${coldCalls} loadMany calls over 3 owners`,
    });
  } finally {
    await client.close();
    await Promise.all(nodes.map((n) => n.close()));
  }
}

await main();
