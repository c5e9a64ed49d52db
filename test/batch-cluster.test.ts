// batch-cluster.test.ts: batch loads across a cluster: 1,000 concurrent gets of cold keys
// through 3 nodes make at most ceil(keys the owner loads / batchMax) loadMany calls on each
// owner, every caller gets its value, and getMany gathers keys from every owner.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type CacheNode, createNode } from '../src/node/node.js';
import { MemoryNetwork, memoryTransport } from '../src/transport/memory/index.js';
import { tcpTransport } from '../src/transport/tcp/index.js';
import type { PeerTransport } from '../src/transport/transport.js';
import { freePorts } from './support/process.js';

const BATCH_MAX = 50;

async function cluster(transport: () => PeerTransport, urls: string[]) {
  const calls = new Map<string, string[][]>();
  const nodes = urls.map((self) => {
    const node = createNode({ self, peers: urls, transport: transport() });
    calls.set(self, []);
    node.newGroup('rows', {
      cacheBytes: 1 << 22,
      batchMax: BATCH_MAX,
      loadMany: (keys) => {
        calls.get(self)?.push(keys);
        return new Map(keys.map((k) => [k, `row ${k}`]));
      },
    });
    return node;
  });
  await Promise.all(nodes.map((n) => n.listen()));
  return { nodes, calls };
}

for (const name of ['memory', 'tcp'] as const) {
  describe(`batch loads over ${name}`, () => {
    const open: CacheNode[] = [];
    after(() => Promise.all(open.map((n) => n.close())));

    async function start() {
      if (name === 'memory') {
        const network = new MemoryNetwork();
        return cluster(
          () => memoryTransport(network),
          [1, 2, 3].map((i) => `http://10.0.0.${i}:80`),
        );
      }
      const ports = await freePorts(3);
      return cluster(
        () => tcpTransport(),
        ports.map((p) => `http://127.0.0.1:${p}`),
      );
    }

    test('1,000 concurrent gets of cold keys: few loadMany calls per owner, every caller answered', async () => {
      const { nodes, calls } = await start();
      open.push(...nodes);
      const keys = Array.from({ length: 1_000 }, (_, i) => `key-${i}`);
      const got = await Promise.all(
        keys.map((k, i) => nodes[i % 3]?.getGroup('rows')?.get(k) as Promise<unknown>),
      );
      assert.deepEqual(
        got.map(String),
        keys.map((k) => `row ${k}`),
      );
      for (const node of nodes) {
        const owned = keys.filter((k) => node.ownerOf(k) === node.self).length;
        const made = calls.get(node.self) ?? [];
        const loaded = made.flat();
        assert.equal(loaded.length, owned, `${node.self} loads each of its keys once`);
        assert.equal(new Set(loaded).size, owned);
        // In one process the gets reach the owner together: only full batches, and the
        // rest. Over sockets they arrive over several turns, so a batch may go out early:
        // still far fewer calls than keys.
        const bound =
          name === 'memory' ? Math.ceil(owned / BATCH_MAX) : Math.ceil(owned / (BATCH_MAX / 5));
        assert.ok(
          made.length <= bound,
          `${node.self}: ${made.length} loadMany calls for ${owned} keys (batchMax ${BATCH_MAX})`,
        );
      }
    });

    test('getMany through one node gathers keys of every owner', async () => {
      const { nodes, calls } = await start();
      open.push(...nodes);
      const keys = Array.from({ length: 120 }, (_, i) => `many-${i}`);
      const result = await nodes[0]?.getGroup('rows')?.getMany(keys);
      assert.deepEqual([...(result?.keys() ?? [])], keys);
      assert.equal(result?.errors.size, 0);
      const total = [...calls.values()].reduce((n, c) => n + c.length, 0);
      assert.ok(total <= 3 * Math.ceil(keys.length / BATCH_MAX), `${total} loadMany calls`);
    });
  });
}
