// group-latency.test.ts: a node reports its gets from peers per group (count, p50, p99) in
// its stats, beside the figure of all groups together.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryNetwork, memoryTransport } from '../transport/memory/index.js';
import { createNode } from './node.js';

test("each group's gets from peers are counted and timed apart in the node's stats", async () => {
  const network = new MemoryNetwork();
  const urls = ['http://10.2.0.1:80', 'http://10.2.0.2:80'];
  const [a, b] = urls.map((self) =>
    createNode({ self, peers: urls, transport: memoryTransport(network) }),
  ) as [ReturnType<typeof createNode>, ReturnType<typeof createNode>];
  for (const node of [a, b]) {
    node.newGroup('users', { cacheBytes: 1 << 20, hotCacheChance: 0, load: (k) => `u:${k}` });
    node.newGroup('orders', { cacheBytes: 1 << 20, hotCacheChance: 0, load: (k) => `o:${k}` });
  }
  await Promise.all([a.listen(), b.listen()]);
  try {
    const remote = Array.from({ length: 200 }, (_, i) => `k${i}`).filter(
      (k) => a.ownerOf(k) === b.self,
    );
    const users = remote.slice(0, 7);
    const orders = remote.slice(7, 10);
    for (const k of users) await a.getGroup('users')?.get(k);
    for (const k of orders) await a.getGroup('orders')?.get(k);
    const stats = a.nodeStats();
    assert.equal(stats.groups.users?.peerGets?.count, users.length);
    assert.equal(stats.groups.orders?.peerGets?.count, orders.length);
    assert.equal(stats.peerGets?.count, users.length + orders.length);
    assert.equal(typeof stats.groups.users?.peerGets?.p50Ms, 'number');
    assert.equal(typeof stats.groups.users?.peerGets?.p99Ms, 'number');
    // The owner asked no one: its groups have no gets from peers.
    assert.equal(b.nodeStats().groups.users?.peerGets?.count, 0);
    assert.equal(b.nodeStats().groups.users?.peerGets?.p50Ms, null);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
