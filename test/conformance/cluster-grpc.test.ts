// cluster-grpc.test.ts: three in-process nodes talking gRPC on loopback pass the cluster tests:
// one load per key cluster-wide, a herd of 300 gets loaded once, set/remove, a closed node.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CacheNode, createNode } from '../../src/node/node.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { keysPerOwner } from '../support/owned-keys.js';
import { freePorts } from '../support/process.js';

/** Keys starting with `slow` take this long to load, so a herd has a window to pile up. */
const SLOW_MS = 300;

describe('a 3-node cluster over gRPC', { timeout: 60_000 }, () => {
  let nodes: CacheNode[] = [];
  let urls: string[] = [];
  /** loads[url][key] counts the loads of `key` on the node at `url`. */
  const loads: Record<string, Record<string, number>> = {};

  before(async () => {
    const ports = await freePorts(3);
    urls = ports.map((port) => `http://127.0.0.1:${port}`);
    nodes = urls.map((self) => {
      const node = createNode({ self, peers: urls, transport: grpcTransport() });
      const mine: Record<string, number> = {};
      loads[self] = mine;
      node.newGroup('g', {
        cacheBytes: 1 << 20,
        hotCacheChance: 0,
        load: async (key) => {
          mine[key] = (mine[key] ?? 0) + 1;
          if (key.startsWith('slow')) await sleep(SLOW_MS);
          return `value of ${key}`;
        },
      });
      return node;
    });
    await Promise.all(nodes.map((n) => n.listen()));
  });
  after(() => Promise.all(nodes.map((n) => n.close())));

  const get = async (node: CacheNode, key: string) =>
    (await node.getGroup('g')!.get(key)).toString();
  const loadsOf = (key: string) => urls.map((u) => loads[u]![key] ?? 0);
  const total = (key: string) => loadsOf(key).reduce((a, b) => a + b, 0);

  it('uses the gRPC transport on every node', () => {
    for (const node of nodes) assert.equal(node.transport.name, 'grpc');
  });

  it('loads each key once in the cluster, on its owner, whichever node is asked', async () => {
    const keys = keysPerOwner(
      urls,
      (k) => nodes[0]!.ownerOf(k),
      10,
      (i) => `once ${i}/+%😀`,
    );
    const answers = await Promise.all(
      keys.flatMap((key) => nodes.map(async (node) => ({ key, got: await get(node, key) }))),
    );
    for (const { key, got } of answers) assert.equal(got, `value of ${key}`);
    for (const key of keys) {
      const owner = nodes[0]!.ownerOf(key);
      assert.deepEqual(
        loadsOf(key),
        urls.map((u) => (u === owner ? 1 : 0)),
        `loads of ${key} (owner ${owner})`,
      );
    }
    assert.ok(nodes.every((n) => n.getGroup('g')!.stats.peerLoads > 0));
  });

  it('300 concurrent gets of one cold key over the 3 nodes load it exactly once', async () => {
    const key = 'slow-herd';
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => get(nodes[i % 3]!, key)),
    );
    for (const got of answers) assert.equal(got, `value of ${key}`);
    assert.equal(total(key), 1);
    assert.equal(loads[nodes[0]!.ownerOf(key)]![key], 1, 'loaded on its owner');
  });

  it('set through one node lands on the owner; remove removes it everywhere', async () => {
    const [a, , c] = nodes as [CacheNode, CacheNode, CacheNode];
    const key = Array.from({ length: 100 }, (_, i) => `set-${i}`).find(
      (k) => a.ownerOf(k) !== a.self && a.ownerOf(k) !== c.self,
    )!;
    await a.getGroup('g')!.set(key, Uint8Array.of(0, 1, 255));
    for (const node of nodes) {
      assert.deepEqual((await node.getGroup('g')!.get(key)).byteSlice(), Uint8Array.of(0, 1, 255));
    }
    assert.equal(total(key), 0, 'a set value is not loaded');
    await c.getGroup('g')!.remove(key);
    for (const node of nodes) assert.equal(await get(node, key), `value of ${key}`);
    assert.equal(total(key), 1);
    assert.equal(loads[a.ownerOf(key)]![key], 1, 'reloaded once, on its owner');
  });

  // Last: it closes a node of the shared cluster.
  it('a closed node: gets of its keys still succeed on the others, loaded once by them', async () => {
    const victim = nodes[2]!;
    const survivors = nodes.slice(0, 2);
    const orphans = Array.from({ length: 200 }, (_, i) => `orphan-${i}`)
      .filter((k) => victim.ownerOf(k) === victim.self)
      .slice(0, 10);
    assert.equal(orphans.length, 10);
    const errorsBefore = survivors.map((n) => n.getGroup('g')!.stats.peerErrors);
    await victim.close();
    for (const node of survivors) {
      for (const key of orphans) assert.equal(await get(node, key), `value of ${key}`);
    }
    for (const key of orphans) {
      assert.equal(loads[victim.self]![key] ?? 0, 0, `${key} was not loaded on the closed node`);
    }
    // It told them it left: they sent its keys straight to their next owners, with no
    // request to it that could fail.
    survivors.forEach((node, i) => {
      assert.deepEqual(node.peers().departed, [victim.self], `${node.self} was told`);
      assert.equal(
        node.getGroup('g')!.stats.peerErrors,
        errorsBefore[i],
        `${node.self} peer errors`,
      );
    });
    for (const key of orphans) assert.equal(total(key), 1, `${key} loaded once, by its next owner`);
    // Keys the survivors own are unaffected.
    const kept = Array.from({ length: 50 }, (_, i) => `kept-${i}`).filter(
      (k) => victim.ownerOf(k) !== victim.self,
    );
    for (const key of kept) assert.equal(await get(survivors[0]!, key), `value of ${key}`);
    for (const key of kept) assert.equal(total(key), 1, `loads of ${key}`);
  });
});
