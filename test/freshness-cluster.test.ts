// freshness-cluster.test.ts: refreshAhead and graceMs across a 3-node cluster on the memory
// transport: a key near expiry is reloaded once in the whole cluster, on its owner, and an
// owner whose loader fails within grace answers the other nodes with the stale value.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { GroupOptions, LoadFn } from '../src/core/group.js';
import { type CacheNode, createNode } from '../src/node/node.js';
import { MemoryNetwork, memoryTransport } from '../src/transport/memory/index.js';

let t = 1_000_000;
const now = () => t;
/** Lets the work queued so far (promise callbacks, the memory transport's turns) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function cluster(load: LoadFn, options: Partial<GroupOptions>): Promise<CacheNode[]> {
  const network = new MemoryNetwork();
  const urls = [1, 2, 3].map((i) => `http://10.0.0.${i}:8000`);
  const nodes = urls.map((self) =>
    createNode({ self, peers: urls, transport: memoryTransport(network) }),
  );
  for (const node of nodes) {
    node.newGroup('g', { cacheBytes: 1 << 20, load, ttlMs: 1_000, now, ...options });
  }
  await Promise.all(nodes.map((n) => n.listen()));
  return nodes;
}

describe('freshness across a cluster', () => {
  const started: CacheNode[] = [];
  after(() => Promise.all(started.map((n) => n.close())));

  test('hits near expiry on every node reload the key once, on its owner', async () => {
    const calls: string[] = [];
    let version = 1;
    // Reloads wait at the gate until the test opens it: the hits meanwhile must not wait.
    let open: () => void = () => {};
    let gate: Promise<void> = Promise.resolve();
    const nodes = await cluster(
      async (key) => {
        calls.push(key);
        const v = version;
        await gate;
        return `${key}@${v}`;
      },
      { refreshAhead: 0.3, hotCacheChance: 1 },
    );
    started.push(...nodes);
    const key = 'popular';
    const owner = nodes.find((n) => n.ownerOf(key) === n.self) as CacheNode;
    const others = nodes.filter((n) => n !== owner);
    for (const n of nodes) assert.equal((await n.getGroup('g')?.get(key))?.toString(), 'popular@1');
    assert.equal(calls.length, 1);

    version = 2;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    t += 800; // 200 ms left of 1,000: inside the last 30% everywhere.
    for (let round = 0; round < 3; round++) {
      for (const n of nodes) {
        assert.equal((await n.getGroup('g')?.get(key))?.toString(), 'popular@1', 'no caller waits');
      }
    }
    assert.equal(calls.length, 2, 'one reload in the whole cluster');
    open();
    await settle();
    await settle();
    assert.equal(owner.getGroup('g')?.stats.localLoads, 2, 'on the owner');
    for (const n of others) assert.equal(n.getGroup('g')?.stats.localLoads, 0);

    // The owner has the new value; the others' next hit in their window fetches it from it.
    assert.equal((await owner.getGroup('g')?.get(key))?.toString(), 'popular@2', 'owner');
    for (const n of others) await n.getGroup('g')?.get(key);
    await settle();
    await settle();
    for (const n of others)
      assert.equal((await n.getGroup('g')?.get(key))?.toString(), 'popular@2');
    assert.equal(calls.length, 2);
  });

  test('an owner whose loader fails within grace answers the others with the stale value', async () => {
    let fail = false;
    const nodes = await cluster(
      (key) => {
        if (fail) throw new Error('database down');
        return `${key}@1`;
      },
      { graceMs: 10_000, hotCacheChance: 0 },
    );
    started.push(...nodes);
    const key = 'k';
    const owner = nodes.find((n) => n.ownerOf(key) === n.self) as CacheNode;
    const other = nodes.find((n) => n !== owner) as CacheNode;
    assert.equal((await other.getGroup('g')?.get(key))?.toString(), 'k@1');
    fail = true;
    t += 5_000;
    assert.equal((await other.getGroup('g')?.get(key))?.toString(), 'k@1');
    assert.equal(owner.getGroup('g')?.stats.staleHits, 1);
    t += 6_000; // past the grace
    await assert.rejects(other.getGroup('g')?.get(key) as Promise<unknown>, /database down/);
  });
});
