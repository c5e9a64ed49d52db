// routing.test.ts: how groups route through peers, with three nodes in one
// process joined by the in-memory transport.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError } from '../errors.js';
import { MemoryNetwork } from '../transport/memory/network.js';
import { memoryTransport } from '../transport/memory/transport.js';
import type { LoadFn } from './group.js';
import { noopLogger } from './logger.js';
import type { PeerClient } from './peers.js';
import { GroupRegistry } from './registry.js';
import { RingPicker } from './ring-picker.js';

const urls = ['http://n1', 'http://n2', 'http://n3'];

async function cluster(options: { hotCacheChance?: number; load?: LoadFn } = {}) {
  const network = new MemoryNetwork();
  const loads: Record<string, string[]> = {};
  const nodes = urls.map(async (self) => {
    const registry = new GroupRegistry();
    const transport = memoryTransport(network);
    const picker = new RingPicker({ self, clientFor: (u) => transport.client(u) });
    picker.setPeers(urls);
    registry.setPeerPicker(picker);
    loads[self] = [];
    const group = registry.newGroup('g', {
      cacheBytes: 1 << 20,
      hotCacheChance: options.hotCacheChance ?? 0,
      load: (key, ctx) => {
        loads[self]?.push(key);
        return options.load ? options.load(key, ctx) : `v:${key}`;
      },
    });
    const { hostname, port } = new URL(self);
    const server = await transport.serve(registry, {
      host: hostname,
      port: port === '' ? 80 : Number(port),
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    return { self, registry, picker, group, transport, detach: () => server.close(0) };
  });
  const all = await Promise.all(nodes);
  /** served counts the peer requests the node at `url` has answered. */
  const served = (url: string) => all.find((n) => n.self === url)?.group.stats.serverRequests ?? 0;
  return { nodes: all, loads, served };
}

describe('routing through the owner', () => {
  test('each key is loaded once, on its owner, whichever node is asked', async () => {
    const { nodes, loads } = await cluster();
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    for (const n of nodes)
      for (const k of keys) assert.equal((await n.group.get(k)).toString(), `v:${k}`);
    for (const k of keys) {
      const owner = nodes[0]?.picker.ownerOf(k);
      for (const n of nodes) assert.equal(n.picker.ownerOf(k), owner, 'nodes agree on the owner');
      const where = urls.filter((u) => loads[u]?.includes(k));
      assert.deepEqual(where, [owner], `${k} loaded once, on its owner`);
    }
    const total = Object.values(loads).reduce((s, l) => s + l.length, 0);
    assert.equal(total, keys.length);
  });

  test('values fetched from the owner go to the hot cache as the chance says', async () => {
    const { nodes, served } = await cluster({ hotCacheChance: 1 });
    const [a] = nodes;
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => a?.picker.pickPeer(k));
    assert.ok(key && a);
    const owner = a.picker.ownerOf(key);
    await a.group.get(key);
    const before = served(owner);
    await a.group.get(key);
    assert.equal(served(owner), before, 'second get served from the hot cache');
    assert.equal(a.group.cacheStats('hot').items, 1);
    assert.equal(a.group.stats.peerLoads, 1);
  });

  test('with hotCacheChance 0 every get of a remote key asks the owner', async () => {
    const { nodes, served } = await cluster({ hotCacheChance: 0 });
    const [a] = nodes;
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => a?.picker.pickPeer(k));
    assert.ok(key && a);
    await a.group.get(key);
    await a.group.get(key);
    assert.equal(served(a.picker.ownerOf(key)), 2);
    assert.equal(a.group.cacheStats('hot').items, 0);
  });

  test('a failed owner means a local load and a peer error; a not-found does not', async () => {
    const { nodes, loads } = await cluster({
      load: (k) => (k.startsWith('missing') ? null : `v:${k}`),
    });
    const [a, b] = nodes;
    assert.ok(a && b);
    const keyOfB = Array.from({ length: 200 }, (_, i) => `x${i}`).find(
      (k) => a.picker.ownerOf(k) === b.self,
    );
    const missingOfB = Array.from({ length: 200 }, (_, i) => `missing${i}`).find(
      (k) => a.picker.ownerOf(k) === b.self,
    );
    assert.ok(keyOfB && missingOfB);
    await assert.rejects(a.group.get(missingOfB), { code: 'NOT_FOUND' });
    assert.deepEqual(loads[a.self], [], 'not-found from the owner is final');
    assert.equal(a.group.stats.peerErrors, 0);
    await b.detach();
    assert.equal((await a.group.get(keyOfB)).toString(), `v:${keyOfB}`);
    assert.deepEqual(loads[a.self], [keyOfB]);
    assert.equal(a.group.stats.peerErrors, 1);
  });

  test('a peer-served get never goes on to another peer', async () => {
    const { nodes, loads, served } = await cluster();
    const [a, b] = nodes;
    assert.ok(a && b);
    // A key owned by c, asked of b as if a peer (with a different ring) sent it there.
    const keyOfC = Array.from({ length: 200 }, (_, i) => `y${i}`).find(
      (k) => b.picker.ownerOf(k) === urls[2],
    );
    assert.ok(keyOfC);
    const got = await a.transport.client(b.self).get('g', keyOfC);
    assert.equal(new TextDecoder().decode(got.value), `v:${keyOfC}`);
    assert.deepEqual(loads[b.self], [keyOfC]);
    assert.equal(served(urls[2] as string), 0);
    assert.equal(b.group.stats.serverRequests, 1);
  });

  test('set goes to the owner and remove clears the owner and the hot copies', async () => {
    const { nodes, loads } = await cluster({ hotCacheChance: 1 });
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    const key = Array.from({ length: 200 }, (_, i) => `z${i}`).find(
      (k) => a.picker.ownerOf(k) === b.self,
    );
    assert.ok(key);
    await a.group.set(key, 'written');
    assert.equal(b.group.peek(key)?.toString(), 'written', 'stored on the owner');
    assert.equal((await c.group.get(key)).toString(), 'written');
    assert.equal(c.group.cacheStats('hot').items, 1, 'c holds a hot copy');
    await a.group.remove(key);
    assert.equal(b.group.peek(key), undefined);
    assert.equal(c.group.peek(key), undefined, 'hot copy dropped too');
    assert.equal((await c.group.get(key)).toString(), `v:${key}`);
    assert.deepEqual(loads[b.self], [key]);
  });

  test('set fails when the owner cannot be reached, and changes nothing here', async () => {
    const { nodes } = await cluster();
    const [a, b] = nodes;
    assert.ok(a && b);
    const key = Array.from({ length: 200 }, (_, i) => `w${i}`).find(
      (k) => a.picker.ownerOf(k) === b.self,
    );
    assert.ok(key);
    await b.detach();
    await assert.rejects(a.group.set(key, 'lost'), UnavailableError);
    assert.equal(a.group.peek(key), undefined);
  });

  test('concurrent gets on one node for a remote key make one request to the owner', async () => {
    let calls = 0;
    const slow: PeerClient = {
      url: 'http://slow',
      async get() {
        calls++;
        await new Promise((r) => setTimeout(r, 5));
        return { value: new TextEncoder().encode('remote'), expireAt: 0, minuteQps: 0 };
      },
      async set() {},
      async remove() {},
    };
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => slow, otherPeers: () => [slow] });
    const g = registry.newGroup('g', {
      cacheBytes: 1 << 20,
      load: () => 'local',
      hotCacheChance: 0,
    });
    const got = await Promise.all(Array.from({ length: 50 }, () => g.get('k')));
    assert.ok(got.every((v) => v.toString() === 'remote'));
    assert.equal(calls, 1);
  });

  test('a caller deadline travels to the owner, capped by loadTimeoutMs, and ends the wait', async () => {
    const seen: (number | undefined)[] = [];
    let release: (() => void) | undefined;
    const owner: PeerClient = {
      url: 'http://owner',
      get(_g, _k, options) {
        seen.push(options?.deadline);
        return new Promise((resolve) => {
          release = () =>
            resolve({ value: new TextEncoder().encode('v'), expireAt: 0, minuteQps: 0 });
        });
      },
      async set() {},
      async remove() {},
    };
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => owner, otherPeers: () => [owner] });
    const g = registry.newGroup('g', {
      cacheBytes: 1 << 20,
      load: () => 'local',
      loadTimeoutMs: 60_000,
    });
    const before = Date.now();
    const deadline = before + 30;
    const keepAlive = setTimeout(() => {}, 1_000);
    await assert.rejects(g.get('k', { deadline }), { code: 'DEADLINE_EXCEEDED' });
    clearTimeout(keepAlive);
    assert.equal(seen[0], deadline, 'the caller deadline reached the owner');
    release?.();
    const far = Date.now() + 10 * 60_000;
    const pending = g.get('k2', { deadline: far });
    await new Promise((r) => setImmediate(r));
    const sent = seen[1] ?? Number.POSITIVE_INFINITY;
    assert.ok(sent <= Date.now() + 60_000, 'capped by loadTimeoutMs');
    release?.();
    assert.equal((await pending).toString(), 'v');
  });

  test('a peer client that throws instead of rejecting is a peer error, and the key loads here', async () => {
    const owner: PeerClient = {
      url: 'http://owner',
      get() {
        throw new UnavailableError('socket gone');
      },
      async set() {},
      async remove() {},
    };
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => owner, otherPeers: () => [owner] });
    const loaded: string[] = [];
    const g = registry.newGroup('g', {
      cacheBytes: 1 << 20,
      load: (key) => {
        loaded.push(key);
        return `local:${key}`;
      },
    });
    const [first, second] = await Promise.all([g.get('k'), g.get('k')]);
    assert.equal(first.toString(), 'local:k');
    assert.equal(second.toString(), 'local:k');
    assert.deepEqual(loaded, ['k'], 'both callers shared one local load');
    assert.equal(g.stats.peerErrors, 1);
  });
});
