// node.test.ts: CacheNode wiring: three nodes in one process over real HTTP on
// loopback, membership, lifecycle and bad options.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import { httpTransport } from '../transport/http/transport.js';
import { type CacheNode, createNode, type NodeOptions } from './node.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('a 3-node cluster over HTTP in one process', async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const loads: Record<string, string[]> = {};
  const nodes: CacheNode[] = [];
  for (const self of urls) {
    // The subject here is routing, not health: on a busy machine peer health could take a
    // slow answer for a dead peer and send its keys to their fallback owner.
    const node = createNode({ self, peers: urls, peerHealth: { enabled: false } });
    loads[self] = [];
    node.newGroup('g', {
      cacheBytes: 1 << 20,
      hotCacheChance: 0,
      load: (key) => {
        loads[self]?.push(key);
        return key.startsWith('missing') ? null : `value of ${key}`;
      },
    });
    await node.listen();
    nodes.push(node);
  }
  after(() => Promise.all(nodes.map((n) => n.close())));

  test('every key is loaded once, on its owner, whichever node is asked', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `k ${i}/+%é`);
    for (const node of nodes) {
      const got = await Promise.all(keys.map((k) => node.getGroup('g')?.get(k)));
      for (const [i, v] of got.entries()) assert.equal(v?.toString(), `value of ${keys[i]}`);
    }
    for (const k of keys) {
      const owner = nodes[0]?.ownerOf(k) as string;
      for (const n of nodes) assert.equal(n.ownerOf(k), owner);
      assert.deepEqual(
        urls.filter((u) => loads[u]?.includes(k)),
        [owner],
      );
    }
    assert.ok(nodes.every((n) => (n.getGroup('g')?.stats.peerLoads ?? 0) > 0));
  });

  test('not found from the owner is NOT_FOUND on the asker', async () => {
    const asker = nodes[0] as CacheNode;
    const key = Array.from({ length: 100 }, (_, i) => `missing${i}`).find(
      (k) => asker.ownerOf(k) !== asker.self,
    ) as string;
    await assert.rejects(asker.getGroup('g')?.get(key) as Promise<unknown>, { code: 'NOT_FOUND' });
    assert.equal(loads[asker.self]?.includes(key), false);
  });

  test('peers() reports the ring', () => {
    const info = nodes[1]?.peers();
    assert.equal(info?.self, urls[1]);
    assert.deepEqual(info?.peers, [...urls].sort());
    assert.equal(info?.source, 'static');
    assert.equal(info?.member, true);
  });

  test('metrics count peer requests', async () => {
    const text = await nodes[0]?.metrics.registry.metrics();
    assert.match(text ?? '', /peercache_peer_request_duration_seconds_count\{peer="http:\/\/127/);
    assert.match(text ?? '', /peercache_group_gets_total\{group="g"\} \d+/);
    assert.match(text ?? '', /peercache_ring_members 3/);
  });
});

describe('node lifecycle and options', () => {
  test('a node without peers is a local cache and needs no network', async () => {
    const node = createNode();
    const g = node.newGroup('local', { cacheBytes: 1024, load: (k) => k.toUpperCase() });
    assert.equal((await g.get('abc')).toString(), 'ABC');
    assert.equal(node.ownerOf('abc'), 'local');
    await assert.rejects(node.listen(), { code: 'INVALID_ARGUMENT' });
    await node.close();
    await node.close();
  });

  test('close is graceful and idempotent; listen after close fails', async () => {
    const port = await freePort();
    const node = createNode({ self: `http://127.0.0.1:${port}` });
    await node.listen();
    await assert.rejects(node.listen(), { code: 'INVALID_ARGUMENT' });
    const first = node.close();
    assert.equal(node.close(), first);
    await first;
    await assert.rejects(node.listen(), { code: 'UNAVAILABLE' });
  });

  test('membership sets the ring, and close leaves the membership first', async () => {
    const events: string[] = [];
    let apply: ((peers: readonly string[]) => void) | undefined;
    const membership: Membership = {
      name: 'fake',
      async start(a) {
        events.push('start');
        apply = a;
      },
      async close() {
        events.push('close');
      },
      status: () => ({ connected: true }),
    };
    const port = await freePort();
    const self = `http://127.0.0.1:${port}`;
    const node = createNode({ self, membership });
    await node.listen();
    assert.deepEqual(events, ['start']);
    apply?.([self, 'http://127.0.0.1:1']);
    assert.deepEqual(node.peers().peers, ['http://127.0.0.1:1', self].sort());
    assert.equal(node.peers().source, 'fake');
    assert.deepEqual(node.peers().membership, { connected: true });
    await node.close();
    assert.deepEqual(events, ['start', 'close']);
  });

  test('a client-only node is never on the ring', () => {
    const node = createNode({
      self: 'http://127.0.0.1:9',
      member: false,
      peers: ['http://127.0.0.1:7', 'http://127.0.0.1:8'],
    });
    assert.deepEqual(node.peers().peers, ['http://127.0.0.1:7', 'http://127.0.0.1:8']);
    for (let i = 0; i < 50; i++) assert.notEqual(node.ownerOf(`k${i}`), node.self);
  });

  test('bad options are InvalidArgumentErrors', () => {
    assert.throws(() => createNode({ self: 'not a url' }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => createNode({ self: 'http://h:1/' }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => createNode({ self: 'ftp://h:1' }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => createNode({ peers: ['http://h:1'] }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => createNode({ self: 'http://h:1', peers: ['http://h:2/x'] }), {
      code: 'INVALID_ARGUMENT',
    });
    assert.throws(() => createNode({ self: 'http://h:1', listen: 'nope' }), {
      code: 'INVALID_ARGUMENT',
    });
  });

  test("a transport's options given to createNode are refused, not silently dropped", () => {
    for (const name of ['tls', 'peerSecret', 'basePath', 'http', 'maxKeyBytes', 'maxValueBytes']) {
      const options = { self: 'http://h:1', [name]: name === 'tls' ? {} : 'x' } as NodeOptions;
      assert.throws(() => createNode(options), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(`^${name}: options of the transport's factory`),
      });
    }
  });

  test("the HTTP transport's handler mounts a node in a server of your own", async () => {
    const transport = httpTransport();
    const node = createNode({ self: 'http://127.0.0.1:1', transport });
    node.newGroup('m', { cacheBytes: 1024, load: (k) => `m:${k}` });
    const server = createServer(transport.handler(node));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/_groupcache/m/key`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    await new Promise((r) => server.close(r));
    await node.close();
  });

  test('a handler refused for its options leaves its node unmounted: not ready until one is made', async () => {
    // Options the transport checks only when it makes a server or a handler.
    const refused = httpTransport({ maxKeyBytes: 0 });
    const self = `http://127.0.0.1:${await freePort()}`;
    const transport = httpTransport();
    const node = createNode({ self, peers: [self], transport });
    try {
      assert.throws(() => refused.handler(node), InvalidArgumentError);
      await node.start();
      assert.equal(node.state, 'starting', 'no handler serves its peers, and it has no server');
      transport.handler(node);
      assert.equal(node.state, 'ready', 'a handler made: it serves its peers');
    } finally {
      await node.close();
    }
  });

  /**
   * mountedPair is node `a`, served by a handler mounted in an HTTP server of the test's
   * own, and node `b` with a server of its own (not yet listening), both members of one
   * ring; `loads` lists `node key` for each load; `closeServer` closes the test's server.
   */
  async function mountedPair() {
    const transport = httpTransport();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const b = `http://127.0.0.1:${await freePort()}`;
    const mounted = createNode({ self: a, peers: [a, b], transport });
    server.on('request', transport.handler(mounted));
    const other = createNode({ self: b, peers: [a, b], transport: httpTransport() });
    const loads: string[] = [];
    for (const node of [mounted, other]) {
      node.newGroup('m', {
        cacheBytes: 1024,
        load: (k) => {
          loads.push(`${node.self} ${k}`);
          return `m:${k}`;
        },
      });
    }
    let open = true;
    const closeServer = async () => {
      if (open) await new Promise((r) => server.close(r));
      open = false;
    };
    /** keyOf is a key `node` counts as `owner`'s. */
    const keyOf = (node: CacheNode, owner: string) => {
      let key = 'k0';
      for (let i = 1; node.ownerOf(key) !== owner; i++) key = `k${i}`;
      return key;
    };
    return { a, b, mounted, other, loads, closeServer, keyOf };
  }

  test('a mounted handler takes the leave notices of peers, so their keys move at once', async () => {
    const { a, b, mounted, other: leaving, loads, closeServer, keyOf } = await mountedPair();
    try {
      await mounted.start();
      await leaving.listen();
      const key = keyOf(mounted, b);
      await leaving.close(); // tells its peers it leaves, then stops serving
      const group = mounted.getGroup('m')!;
      assert.equal((await group.get(key)).toString(), `m:${key}`);
      assert.deepEqual(loads, [`${a} ${key}`]);
      assert.equal(group.stats.peerErrors, 0, 'the departed peer was not asked');
    } finally {
      await mounted.close();
      await closeServer();
    }
  });

  test('a node served only through a mounted handler tells its peers when it leaves', async () => {
    const { a, b, mounted, other: peer, loads, closeServer, keyOf } = await mountedPair();
    try {
      await peer.listen();
      await mounted.start();
      assert.equal(mounted.state, 'ready', 'its handler serves peers');
      const key = keyOf(peer, a);
      await mounted.close(); // tells its peers it leaves, as a node with its own server does
      await closeServer();
      assert.deepEqual(peer.peers().departed, [a], 'the peer took it off its routing');
      assert.equal(peer.ownerOf(key), b);
      const group = peer.getGroup('m')!;
      assert.equal((await group.get(key)).toString(), `m:${key}`);
      assert.deepEqual(loads, [`${b} ${key}`], 'loaded by its next owner');
      assert.equal(group.stats.peerErrors, 0, 'the departed node was not asked');
    } finally {
      await mounted.close();
      await peer.close();
      await closeServer();
    }
  });

  test("a mounted handler's requests end when the node closes", async () => {
    const transport = httpTransport();
    const node = createNode({ self: 'http://127.0.0.1:1', transport });
    let started!: () => void;
    const loading = new Promise<void>((r) => {
      started = r;
    });
    node.newGroup('m', {
      cacheBytes: 1024,
      load: () => {
        started();
        return new Promise<string>(() => {});
      },
    });
    const server = createServer(transport.handler(node));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const answer = fetch(`http://127.0.0.1:${port}/_groupcache/m/key`);
    await loading;
    assert.equal(node.shutdownSignal.aborted, false);
    await node.close();
    assert.equal(node.shutdownSignal.aborted, true);
    const res = await answer;
    assert.equal(res.status, 503);
    await res.body?.cancel();
    await new Promise((r) => server.close(r));
  });
});

test('a client-only node needs no self nor loader, and refuses a get, set or remove when no node owns the key', async () => {
  const node = createNode({ member: false });
  const g = node.newGroup('gw', { cacheBytes: 0 });
  await assert.rejects(g.get('k'), { code: 'UNAVAILABLE' });
  await assert.rejects(g.set('k', 'v'), { code: 'UNAVAILABLE' });
  await assert.rejects(g.remove('k'), { code: 'UNAVAILABLE' });
  assert.throws(() => createNode().newGroup('g', { cacheBytes: 0 }), {
    code: 'INVALID_ARGUMENT',
    message: /give a loader: load, getter or loadMany/,
  });
  const withPeers = createNode({ member: false, peers: ['http://127.0.0.1:7'] });
  assert.deepEqual(withPeers.peers().peers, ['http://127.0.0.1:7']);
  await node.close();
  await withPeers.close();
});
