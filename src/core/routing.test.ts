// routing.test.ts: how groups route through peers, with three nodes in one
// process joined by the in-memory transport.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError } from '../errors.js';
import { MemoryNetwork } from '../transport/memory/network.js';
import { memoryTransport } from '../transport/memory/transport.js';
import type { LoadFn } from './group.js';
import { noopLogger } from './logger.js';
import { HealthCheckedPeer, type HealthClock } from './peer-health.js';
import type { PeerClient } from './peers.js';
import { GroupRegistry } from './registry.js';
import { RingPicker } from './ring-picker.js';

const urls = ['http://n1', 'http://n2', 'http://n3'];

interface ClusterOptions {
  hotCacheChance?: number;
  load?: LoadFn;
  /** Each node's view of which peers are unhealthy (by URL). Default: all healthy. */
  down?: Record<string, Set<string>>;
  /**
   * Wrap each peer client in a real HealthCheckedPeer that marks its peer unhealthy
   * at the first failure to reach it (its clock never fires: no probe ever runs).
   */
  health?: boolean;
}

/** As a health-checked client does: calls to a peer seen as unhealthy fail at once, unsent. */
function avoiding(client: PeerClient, down: Set<string>): PeerClient {
  const refuse = () => Promise.reject(new UnavailableError(`peer ${client.url} is unhealthy`));
  return {
    url: client.url,
    get: (g, k, o) => (down.has(client.url) ? refuse() : client.get(g, k, o)),
    set: (g, k, v, e, o) => (down.has(client.url) ? refuse() : client.set(g, k, v, e, o)),
    remove: (g, k, o) => (down.has(client.url) ? refuse() : client.remove(g, k, o)),
  };
}

/**
 * A clock whose timers never fire: a peer marked unhealthy stays so. It reads the
 * real time, since the deadlines it puts on requests travel to the transport.
 */
const frozenClock: HealthClock = {
  now: () => Date.now(),
  setTimeout: () => 0,
  clearTimeout: () => {},
};

/** counting wraps a client so that the test can count what is sent to its peer. */
function counting(client: PeerClient, calls: Map<string, number>): PeerClient {
  const count = () => calls.set(client.url, (calls.get(client.url) ?? 0) + 1);
  return {
    url: client.url,
    get: (g, k, o) => {
      count();
      return client.get(g, k, o);
    },
    set: (g, k, v, e, o) => {
      count();
      return client.set(g, k, v, e, o);
    },
    remove: (g, k, o) => {
      count();
      return client.remove(g, k, o);
    },
  };
}

async function cluster(options: ClusterOptions = {}) {
  const network = new MemoryNetwork();
  /** Requests sent to each peer, by URL, from every node. */
  const calls = new Map<string, number>();
  const loads: Record<string, string[]> = {};
  const nodes = urls.map(async (self) => {
    const registry = new GroupRegistry();
    const transport = memoryTransport(network);
    const down = options.down?.[self];
    const clientOf = (u: string) => counting(transport.client(u), calls);
    const picker = new RingPicker({
      self,
      clientFor: (u) =>
        options.health === true
          ? new HealthCheckedPeer(clientOf(u), { failureThreshold: 1, clock: frozenClock })
          : down === undefined
            ? clientOf(u)
            : avoiding(clientOf(u), down),
      ...(down === undefined ? {} : { healthy: (peer: PeerClient) => !down.has(peer.url) }),
    });
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
  const first = all[0];
  assert.ok(first);
  /** net asks a peer directly, as a transport client of the first node. */
  const net = { calls, client: (url: string) => counting(first.transport.client(url), calls) };
  return { net, nodes: all, loads };
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
    const { nodes, net } = await cluster({ hotCacheChance: 1 });
    const [a] = nodes;
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => a?.picker.pickPeer(k));
    assert.ok(key && a);
    const owner = a.picker.ownerOf(key);
    await a.group.get(key);
    const before = net.calls.get(owner);
    await a.group.get(key);
    assert.equal(net.calls.get(owner), before, 'second get served from the hot cache');
    assert.equal(a.group.cacheStats('hot').items, 1);
    assert.equal(a.group.stats.peerLoads, 1);
  });

  test('with hotCacheChance 0 every get of a remote key asks the owner', async () => {
    const { nodes, net } = await cluster({ hotCacheChance: 0 });
    const [a] = nodes;
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => a?.picker.pickPeer(k));
    assert.ok(key && a);
    await a.group.get(key);
    await a.group.get(key);
    assert.equal(net.calls.get(a.picker.ownerOf(key)), 2);
    assert.equal(a.group.cacheStats('hot').items, 0);
  });

  test('an unreachable owner: its fallback owner loads the key, and a peer error; a not-found does not', async () => {
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
    const fallback = a.picker.fallbackOf(keyOfB);
    assert.ok(fallback !== undefined && fallback !== b.self);
    const where = urls.filter((u) => loads[u]?.includes(keyOfB));
    assert.deepEqual(where, [fallback], 'loaded once, by the fallback owner');
    assert.equal(a.group.stats.peerErrors, 1);
    assert.equal(a.group.stats.loadsDeduped, 2, 'one per get that missed: the not-found and this');
  });

  test('a peer-served get never goes on to another peer', async () => {
    const { nodes, loads, net } = await cluster();
    const [a, b] = nodes;
    assert.ok(a && b);
    // A key owned by c, asked of b as if a peer (with a different ring) sent it there.
    const keyOfC = Array.from({ length: 200 }, (_, i) => `y${i}`).find(
      (k) => b.picker.ownerOf(k) === urls[2],
    );
    assert.ok(keyOfC);
    const got = await net.client(b.self).get('g', keyOfC);
    assert.equal(new TextDecoder().decode(got.value), `v:${keyOfC}`);
    assert.deepEqual(loads[b.self], [keyOfC]);
    assert.equal(net.calls.get(urls[2] as string) ?? 0, 0);
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
        // Answer on a later turn, after all 50 gets have been made.
        await new Promise((r) => setImmediate(r));
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

/** `count` keys `${prefix}${i}` that `url` owns on the ring of `picker`. */
function keysOwnedBy(picker: RingPicker, url: string, prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (picker.ownerOf(`${prefix}${i}`) === url) keys.push(`${prefix}${i}`);
  }
  return keys;
}

/** The nodes that loaded `key`, in the order of `urls`, once per load. */
function loadedBy(loads: Record<string, string[]>, key: string): string[] {
  return urls.flatMap((u) => (loads[u] ?? []).filter((k) => k === key).map(() => u));
}

describe('the fallback owner of an unreachable owner’s keys', () => {
  test('every node sends an unhealthy owner’s key to the same fallback owner: one load in the cluster', async () => {
    const { nodes, loads, net } = await cluster({ health: true });
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    await c.detach();
    const keys = keysOwnedBy(a.picker, c.self, 'k', 40);
    // The first get on each node finds c unreachable (and marks it unhealthy).
    for (const n of [a, b]) await n.group.get(keys[0] as string);
    const sent = net.calls.get(c.self);
    for (const key of keys) {
      const fallback: string | undefined = a.picker.fallbackOf(key);
      assert.equal(b.picker.fallbackOf(key), fallback, `${key}: the nodes agree`);
      assert.ok(fallback === a.self || fallback === b.self, `${key}: a healthy member`);
    }
    const gets = keys.flatMap((key) => [a, b, a].map((n) => ({ key, got: n.group.get(key) })));
    for (const { key, got } of gets) assert.equal((await got).toString(), `v:${key}`);
    for (const key of keys) {
      assert.deepEqual(loadedBy(loads, key), [a.picker.fallbackOf(key)], `${key}: loaded once`);
    }
    assert.equal(net.calls.get(c.self), sent, 'nothing more was sent to the unhealthy owner');
    for (const n of [a, b]) {
      assert.equal(n.group.cacheStats('main').items, 0, `${n.self}: fallback copies never in main`);
      assert.equal(n.group.cacheStats('hot').items, loads[n.self]?.length, `${n.self}: in hot`);
    }
  });

  test('a node that is the fallback owner loads the key itself; the other asks it', async () => {
    const { nodes, loads, net } = await cluster({
      down: { 'http://n1': new Set(['http://n3']), 'http://n2': new Set(['http://n3']) },
    });
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    await c.detach();
    const key = keysOwnedBy(a.picker, c.self, 's', 40).find(
      (k) => a.picker.fallbackOf(k) === a.self,
    );
    assert.ok(key, 'a key of c whose fallback owner is a');
    assert.equal((await a.group.get(key)).toString(), `v:${key}`);
    assert.deepEqual(loadedBy(loads, key), [a.self], 'self as fallback: a local load');
    const askedA = net.calls.get(a.self) ?? 0;
    assert.equal((await b.group.get(key)).toString(), `v:${key}`);
    assert.equal(net.calls.get(a.self), askedA + 1, 'b asked a');
    assert.deepEqual(loadedBy(loads, key), [a.self], 'a answered from its fallback copy');
    assert.equal(a.group.stats.loadsDeduped, 1);
    assert.equal(b.group.stats.loadsDeduped, 1, 'b’s get counted once, not again on a');
  });

  test('when the fallback owner cannot be reached either, the asker loads the key itself', async () => {
    const { nodes, loads } = await cluster();
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    const key = keysOwnedBy(a.picker, c.self, 'f', 40).find(
      (k) => b.picker.fallbackOf(k) === a.self,
    );
    assert.ok(key, 'a key of c whose fallback owner is a');
    await c.detach();
    await a.detach();
    assert.equal((await b.group.get(key)).toString(), `v:${key}`);
    assert.deepEqual(loadedBy(loads, key), [b.self], 'the last resort: a local load');
    assert.equal(b.group.stats.peerErrors, 2, 'the owner and the fallback owner');
    assert.equal(b.group.stats.loadsDeduped, 1, 'one load, counted once');
    assert.equal(b.group.stats.localLoads, 1);
    assert.equal(b.group.cacheStats('main').items, 0);
    assert.equal(b.group.cacheStats('hot').items, 1);
  });

  test('the fallback owner’s answer is final: its not-found is not loaded again here', async () => {
    const { nodes, loads } = await cluster({ load: () => null });
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    const key = keysOwnedBy(a.picker, c.self, 'missing', 40).find(
      (k) => b.picker.fallbackOf(k) === a.self,
    );
    assert.ok(key);
    await c.detach();
    await assert.rejects(b.group.get(key), { code: 'NOT_FOUND' });
    assert.deepEqual(loadedBy(loads, key), [a.self]);
  });

  test('nodes that see the owner differently cost one extra load each, no more', async () => {
    // b sees c unhealthy, a does not: b's gets go to the fallback owner a, which loads
    // them as a fallback copy, while a's own gets still go to c.
    const { nodes, loads } = await cluster({ down: { 'http://n2': new Set(['http://n3']) } });
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    const key = keysOwnedBy(a.picker, c.self, 'v', 40).find(
      (k) => b.picker.fallbackOf(k) === a.self,
    );
    assert.ok(key);
    for (let i = 0; i < 3; i++) {
      assert.equal((await a.group.get(key)).toString(), `v:${key}`);
      assert.equal((await b.group.get(key)).toString(), `v:${key}`);
    }
    // c loads it for a; a loads it again for b, as a fallback copy, and answers
    // every later get of either from that copy.
    assert.deepEqual(loadedBy(loads, key), [a.self, c.self]);
    assert.equal(a.group.cacheStats('main').items, 0, 'a keeps only a fallback copy');
  });
});

describe('a client-only node never loads', () => {
  function gateway(net: { client(url: string): PeerClient }, peers: readonly string[]) {
    const registry = new GroupRegistry();
    const picker = new RingPicker({
      self: 'http://gateway',
      member: false,
      clientFor: (u) => net.client(u),
    });
    picker.setPeers(peers);
    registry.setPeerPicker(picker);
    const loaded: string[] = [];
    const group = registry.newGroup('g', {
      cacheBytes: 0,
      load: (key) => {
        loaded.push(key);
        return 'gateway';
      },
    });
    return { picker, group, loaded };
  }

  test('an unreachable owner’s key is answered by its fallback owner, never here', async () => {
    const { net, nodes, loads } = await cluster();
    const [, , c] = nodes;
    assert.ok(c);
    const gw = gateway(net, urls);
    const key = keysOwnedBy(gw.picker, c.self, 'g', 1)[0] as string;
    await c.detach();
    assert.equal((await gw.group.get(key)).toString(), `v:${key}`);
    assert.deepEqual(loadedBy(loads, key), [gw.picker.fallbackOf(key)]);
    assert.deepEqual(gw.loaded, []);
  });

  test('with the owner and its fallback owner unreachable, a get fails naming the owner', async () => {
    const { net, nodes } = await cluster();
    const [a, b, c] = nodes;
    assert.ok(a && b && c);
    const gw = gateway(net, urls);
    const key = keysOwnedBy(gw.picker, c.self, 'u', 1)[0] as string;
    const fallbackUrl: string | undefined = gw.picker.fallbackOf(key);
    const fallback = nodes.find((n) => n.self === fallbackUrl);
    assert.ok(fallback);
    await c.detach();
    await fallback.detach();
    await assert.rejects(gw.group.get(key), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.match(err.message, new RegExp(`its owner ${c.self} could not be reached`));
      assert.match(err.message, /a client-only node never loads/);
      return true;
    });
    assert.deepEqual(gw.loaded, []);
    assert.equal(gw.group.stats.loadsDeduped, 1, 'the get’s one flight, counted once');
  });

  test('with no node known, get, set and remove fail UNAVAILABLE, and it serves no peer load', async () => {
    const gw = gateway(memoryTransport(new MemoryNetwork()), []);
    await assert.rejects(gw.group.get('k'), { code: 'UNAVAILABLE', message: /ring is empty/ });
    await assert.rejects(gw.group.set('k', 'v'), { code: 'UNAVAILABLE' });
    await assert.rejects(gw.group.remove('k'), { code: 'UNAVAILABLE' });
    await assert.rejects(Promise.resolve(gw.group.getForPeer('k')), {
      code: 'UNAVAILABLE',
      message: /client-only node never loads/,
    });
    assert.deepEqual(gw.loaded, []);
  });
});
