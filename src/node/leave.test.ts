// leave.test.ts: a node that leaves its cluster, on a memory network: readiness, its peers
// told at once, its keys loaded once by their next owners, writes sent on to them, and its
// return at the same address.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import { LEAVE_NOTICE_GROUP } from '../core/leave.js';
import { MemoryNetwork } from '../transport/memory/network.js';
import { memoryTransport } from '../transport/memory/transport.js';
import { type CacheNode, createNode, type NodeOptions } from './node.js';

const A = 'http://a:8001';
const B = 'http://b:8001';
const C = 'http://c:8001';

interface Cluster {
  nodes: Record<string, CacheNode>;
  /** loads lists `node key` for each loader call, in order. */
  loads: string[];
  network: MemoryNetwork;
  clock: ManualClock;
  start(self: string, peers: readonly string[], options?: NodeOptions): Promise<CacheNode>;
  close(): Promise<void>;
}

function cluster(): Cluster {
  const network = new MemoryNetwork();
  // Near the real time: deadlines travel to the memory servers, which read Date.now().
  const clock = new ManualClock(Date.now());
  const loads: string[] = [];
  const nodes: Record<string, CacheNode> = {};
  const all = new Set<CacheNode>();
  return {
    nodes,
    loads,
    network,
    clock,
    async start(self, peers, options = {}) {
      const node = createNode({
        self,
        peers,
        transport: memoryTransport(network),
        clock,
        ...options,
      });
      node.newGroup('g', {
        cacheBytes: 1 << 20,
        hotCacheChance: 0,
        load: (key) => {
          loads.push(`${self} ${key}`);
          return `value of ${key}`;
        },
      });
      await node.listen();
      nodes[self] = node;
      all.add(node);
      return node;
    },
    async close() {
      await Promise.all([...all].map((n) => n.close()));
    },
  };
}

/** keysOf returns `count` keys `node` owns. */
function keysOf(node: CacheNode, owner: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (node.ownerOf(`k${i}`) === owner) keys.push(`k${i}`);
  }
  return keys;
}

describe('a node that leaves', () => {
  test('is ready once it serves peers and has members, and not from the moment it leaves', async () => {
    const c = cluster();
    try {
      const a = createNode({ self: A, peers: [A, B], transport: memoryTransport(c.network) });
      assert.equal(a.state, 'starting');
      const listening = a.listen();
      assert.equal(a.ready, false);
      await listening;
      assert.equal(a.state, 'ready');
      const leaving = a.leave();
      assert.equal(a.state, 'leaving');
      assert.equal(a.ready, false);
      await leaving;
      await a.close();
      assert.equal(a.state, 'closed');
    } finally {
      await c.close();
    }
  });

  test('a client-only node is ready once started with a member set', async () => {
    const c = cluster();
    try {
      const gateway = createNode({
        member: false,
        peers: [A],
        transport: memoryTransport(c.network),
      });
      assert.equal(gateway.state, 'starting');
      await gateway.start();
      assert.equal(gateway.state, 'ready');
      await gateway.close();
      assert.equal(gateway.state, 'closed');
    } finally {
      await c.close();
    }
  });

  test('tells its peers, whose gets of its keys go to the next owners and load each key once', async () => {
    const c = cluster();
    try {
      const a = await c.start(A, [A, B, C]);
      const b = await c.start(B, [A, B, C]);
      await c.start(C, [A, B, C]);
      const keys = keysOf(b, A, 20);
      for (const k of keys)
        assert.equal((await b.getGroup('g')?.get(k))?.toString(), `value of ${k}`);
      assert.equal(c.loads.length, 20);
      assert.ok(c.loads.every((l) => l.startsWith(A)));
      c.loads.length = 0;

      await a.leave();
      assert.deepEqual(b.peers().departed, [A]);
      assert.deepEqual(c.nodes[C]?.peers().departed, [A]);
      assert.deepEqual(a.peers().departed, [A], 'the leaving node owns nothing either');
      assert.equal(b.peers().unhealthyPeers[A]?.reason, 'leaving the cluster');
      // Through every node, the leaving one included: each key loaded once, by its next owner.
      for (const via of [b, c.nodes[C] as CacheNode, a, b]) {
        for (const k of keys) {
          assert.equal((await via.getGroup('g')?.get(k))?.toString(), `value of ${k}`);
        }
      }
      assert.equal(c.loads.length, 20, c.loads.join('\n'));
      for (const l of c.loads) {
        const [node, key] = l.split(' ') as [string, string];
        assert.equal(node, b.ownerOf(key), `${key} loaded on its next owner`);
        assert.notEqual(node, A);
      }
    } finally {
      await c.close();
    }
  });

  test('answers a write from a peer it did not tell with "leaving"; the write goes to the next owner', async () => {
    const c = cluster();
    try {
      // A does not know B, so B is not told: B learns when A refuses its write.
      const a = await c.start(A, [A, C]);
      const b = await c.start(B, [A, B, C]);
      await c.start(C, [A, B, C]);
      const [key] = keysOf(b, A, 1) as [string];
      await a.leave();
      assert.deepEqual(b.peers().departed, []);
      await b.getGroup('g')?.set(key, 'written');
      assert.deepEqual(b.peers().departed, [A]);
      const next = b.ownerOf(key);
      assert.notEqual(next, A);
      assert.equal((await c.nodes[next]?.getGroup('g')?.get(key))?.toString(), 'written');
      assert.equal((await b.getGroup('g')?.get(key))?.toString(), 'written');
      assert.deepEqual(c.loads, [], 'the written value is served, nothing loaded');
    } finally {
      await c.close();
    }
  });

  test('answers a get from a peer it did not tell with "leaving"; the next owner loads the key as its owner', async () => {
    const c = cluster();
    try {
      const a = await c.start(A, [A, C]);
      const b = await c.start(B, [A, B, C]);
      const cc = await c.start(C, [A, B, C]);
      const keys = keysOf(b, A, 10);
      await a.leave();
      for (const k of keys) {
        assert.equal((await b.getGroup('g')?.get(k))?.toString(), `value of ${k}`);
      }
      assert.deepEqual(b.peers().departed, [A]);
      assert.equal(c.loads.length, 10, c.loads.join('\n'));
      // Each kept in its next owner's main cache, as its own: not a fallback copy.
      const inMain = (n: CacheNode) => n.getGroup('g')?.cacheStats('main').items ?? 0;
      const onB = keys.filter((k) => b.ownerOf(k) === B).length;
      assert.equal(inMain(b), onB);
      assert.equal(inMain(cc), keys.length - onB);
      assert.equal(b.getGroup('g')?.stats.peerErrors, 0, 'a leaving owner is not a peer error');
    } finally {
      await c.close();
    }
  });

  test('a peer told a node is about to leave keeps the keys it is then asked for as their owner, and still routes to the node', async () => {
    const c = cluster();
    try {
      await c.start(A, [A, B, C]);
      const b = await c.start(B, [A, B, C]);
      await c.start(C, [A, B, C]);
      const [key] = keysOf(b, A, 50).filter((k) => {
        // A key whose next owner, with A gone, is B.
        const ring = createNode({ self: B, peers: [B, C] });
        return ring.ownerOf(k) === B;
      }) as [string];
      const wire = memoryTransport(c.network);
      await wire.client(B).get(LEAVE_NOTICE_GROUP, A);
      assert.deepEqual(b.peers().departed, [], 'B still routes to A');
      assert.equal(b.ownerOf(key), A);
      // Asked by a peer already told that A left: B keeps the value as the key's owner.
      const got = await wire.client(B).get('g', key);
      assert.equal(Buffer.from(got.value).toString(), `value of ${key}`);
      assert.equal(b.getGroup('g')?.cacheStats('main').items, 1);
      assert.deepEqual(c.loads, [`${B} ${key}`]);
      await wire.close();
    } finally {
      await c.close();
    }
  });

  test('keeps serving for drainMs, then closes; a node started again at its address owns its keys again', async () => {
    const c = cluster();
    try {
      const a = await c.start(A, [A, B], { drainMs: 5_000 });
      const b = await c.start(B, [A, B]);
      const [key] = keysOf(b, A, 1) as [string];
      let closed = false;
      const closing = a.close().then(() => {
        closed = true;
      });
      await settle();
      assert.equal(a.state, 'leaving');
      assert.deepEqual(b.peers().departed, [A]);
      await c.clock.advance(4_999);
      assert.equal(closed, false, 'still draining');
      assert.equal((await a.getGroup('g')?.get(key))?.toString(), `value of ${key}`);
      await c.clock.advance(1);
      await closing;
      assert.equal(a.state, 'closed');
      assert.deepEqual(c.loads, [`${B} ${key}`]);

      // Started again at the same address: B's next probe finds it, and it owns its keys again.
      const again = await c.start(A, [A, B]);
      await c.clock.advance(1_000);
      assert.deepEqual(b.peers().departed, []);
      assert.equal(b.ownerOf(key), A);
      const [other] = keysOf(b, A, 2).slice(1) as [string];
      assert.equal((await b.getGroup('g')?.get(other))?.toString(), `value of ${other}`);
      assert.equal((await again.getGroup('g')?.get(key))?.toString(), `value of ${key}`);
      assert.deepEqual(c.loads, [`${B} ${key}`, `${A} ${other}`, `${A} ${key}`]);
    } finally {
      await c.close();
    }
  });
});
