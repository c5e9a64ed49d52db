// clear.test.ts: Group.clear on a cluster of nodes on a memory network: every node emptied,
// loads in flight kept from storing, a lost notice that cannot bring old values back, and
// the background retry; time driven by a manual clock.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { losingClears } from '../../test/support/lost-clear.js';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import { VersionedSource } from '../../test/support/versioned-source.js';
import { ClearIncompleteError } from '../errors.js';
import { type CacheNode, createNode } from '../node/node.js';
import { MemoryNetwork } from '../transport/memory/network.js';
import { memoryTransport } from '../transport/memory/transport.js';
import { Group } from './group.js';
import type { PeerClient, PeerPicker, PeerValue } from './peers.js';

const A = 'http://a:8001';
const B = 'http://b:8001';
const C = 'http://c:8001';
const ALL = [A, B, C];

interface Cluster {
  nodes: Record<string, CacheNode>;
  network: MemoryNetwork;
  clock: ManualClock;
  /** The source of truth every node loads from. */
  source: VersionedSource;
  /** Clear notices from A to these URLs are lost. */
  cut: Set<string>;
  /** The URL of every clear notice A sent, lost or not. */
  sent: string[];
}

let opened: CacheNode[] = [];
afterEach(async () => {
  await Promise.all(opened.map((n) => n.close()));
  opened = [];
});

async function cluster(): Promise<Cluster> {
  const network = new MemoryNetwork();
  const clock = new ManualClock(Date.now());
  const source = new VersionedSource();
  const cut = new Set<string>();
  const sent: string[] = [];
  const nodes: Record<string, CacheNode> = {};
  for (const self of ALL) {
    const base = memoryTransport(network, { clock });
    const node = createNode({
      self,
      peers: ALL,
      clock,
      transport: self === A ? losingClears(base, cut, sent) : base,
    });
    node.newGroup('g', {
      cacheBytes: 1 << 20,
      hotCacheChance: 1,
      load: source.load,
    });
    await node.listen();
    nodes[self] = node;
    opened.push(node);
  }
  return { nodes, network, clock, source, cut, sent };
}

function group(node: CacheNode | undefined): Group {
  return node?.getGroup('g') as Group;
}

/** keyOwnedBy finds a key with `prefix` that `owner` owns. */
function keyOwnedBy(node: CacheNode, owner: string, prefix = 'k'): string {
  for (let i = 0; ; i++) if (node.ownerOf(`${prefix}${i}`) === owner) return `${prefix}${i}`;
}

/** held lists what each node's caches hold of `key`, as `url:tier=value`. */
function held(c: Cluster, key: string): string[] {
  const out: string[] = [];
  for (const url of ALL) {
    const seen = group(c.nodes[url]).inspect(key);
    for (const tier of ['main', 'hot'] as const) {
      const entry = seen[tier];
      if (entry !== undefined) out.push(`${url}:${tier}=${entry.view?.toString()}`);
    }
  }
  return out;
}

describe('Group.clear', () => {
  test('empties the group on every node; the next gets load again from the source', async () => {
    const c = await cluster();
    const keys = ALL.map((owner) => keyOwnedBy(c.nodes[A] as CacheNode, owner));
    // Every node gets every key: owners hold them in main, the others in hot.
    for (const url of ALL) for (const key of keys) await group(c.nodes[url]).get(key);
    for (const key of keys) assert.equal(held(c, key).length, 3, `${key} is on every node`);

    c.source.version = 2;
    const result = await group(c.nodes[B]).clear();
    assert.deepEqual(result.unsupported, []);
    for (const url of ALL) {
      assert.equal(group(c.nodes[url]).generation, result.generation, `${url} took it`);
    }
    for (const key of keys) assert.deepEqual(held(c, key), [], `${key} is gone everywhere`);
    for (const url of ALL) {
      for (const key of keys) {
        assert.equal((await group(c.nodes[url]).get(key)).toString(), `${key}@2`);
      }
    }
    for (const key of keys) assert.equal(c.source.loads.get(key), 2, `${key} loaded once more`);
    // A second clear takes a higher generation.
    const again = await group(c.nodes[C]).clear();
    assert.ok(again.generation > result.generation);
  });

  test('a load in flight when the group is cleared answers its callers but is not kept', async () => {
    const c = await cluster();
    const key = keyOwnedBy(c.nodes[A] as CacheNode, B, 'hold');
    const fromA = group(c.nodes[A]).get(key);
    const fromB = group(c.nodes[B]).get(key);
    await settle();
    assert.equal(c.source.loads.get(key), 1, 'one load, at the owner');
    await group(c.nodes[A]).clear();
    c.source.release();
    // Their gets began before the clear: the old value is a right answer for them.
    assert.equal((await fromA).toString(), `${key}@1`);
    assert.equal((await fromB).toString(), `${key}@1`);
    assert.deepEqual(held(c, key), [], 'the value found before the clear is kept nowhere');
    c.source.version = 2;
    assert.equal((await group(c.nodes[C]).get(key)).toString(), `${key}@2`);
  });

  test('a node that missed the notice clears itself at its first exchange, and its old values reach no one', async () => {
    const c = await cluster();
    const atC = keyOwnedBy(c.nodes[A] as CacheNode, C);
    const atC2 = keyOwnedBy(c.nodes[A] as CacheNode, C, 'x');
    const atA = keyOwnedBy(c.nodes[A] as CacheNode, A);
    for (const key of [atC, atC2, atA]) await group(c.nodes[C]).get(key);
    c.cut.add(C);
    c.source.version = 2;
    const err = await group(c.nodes[A])
      .clear()
      .then(
        () => assert.fail('clear resolved without telling C'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ClearIncompleteError);
    assert.deepEqual(err.peers, [C]);
    assert.match(err.message, /http:\/\/c:8001 could not be told/);
    assert.equal(group(c.nodes[B]).generation, err.generation, 'B was told');
    assert.equal(group(c.nodes[C]).generation, 0, 'C was not');
    assert.deepEqual(group(c.nodes[A]).clearPending, [C]);
    assert.deepEqual(held(c, atC), [`${C}:main=${atC}@1`], 'C still holds its old value');

    // B asks C for a key C owns: the request carries B's generation, so C clears itself
    // before it answers, and loads the key anew.
    assert.equal((await group(c.nodes[B]).get(atC)).toString(), `${atC}@2`);
    assert.equal(group(c.nodes[C]).generation, err.generation, 'C caught up');
    assert.deepEqual(held(c, atC2), [], "C's other old values went with it");
    for (const entry of held(c, atC)) assert.match(entry, /@2$/);

    // The notice reaches C once it can: the retry after a second.
    c.cut.delete(C);
    await c.clock.advance(1_000);
    assert.deepEqual(group(c.nodes[A]).clearPending, []);
  });

  test('a node behind catches up from an answer, and keeps the answer', async () => {
    const c = await cluster();
    const atB = keyOwnedBy(c.nodes[A] as CacheNode, B);
    const atA = keyOwnedBy(c.nodes[A] as CacheNode, A);
    await group(c.nodes[C]).get(atA);
    c.cut.add(C);
    await group(c.nodes[A])
      .clear()
      .catch(() => {});
    c.source.version = 2;
    // C asks B (up to date): B's answer carries the generation; C clears, then keeps it.
    assert.equal((await group(c.nodes[C]).get(atB)).toString(), `${atB}@2`);
    assert.equal(group(c.nodes[C]).generation, group(c.nodes[A]).generation);
    assert.deepEqual(held(c, atA), [], "C's old copy of A's key is gone");
    assert.ok(held(c, atB).includes(`${C}:hot=${atB}@2`), 'the fresh answer is kept');
  });

  test('a node that joins after a clear serves at once and takes the generation at its first exchange', async () => {
    const c = await cluster();
    const { generation } = await group(c.nodes[A]).clear();
    c.source.version = 2;
    const D = 'http://d:8001';
    const late = createNode({
      self: D,
      peers: [...ALL, D],
      clock: c.clock,
      transport: memoryTransport(c.network, { clock: c.clock }),
    });
    opened.push(late);
    late.newGroup('g', { cacheBytes: 1 << 20, hotCacheChance: 1, load: (key) => `${key}@d` });
    await late.listen();
    for (const url of ALL) c.nodes[url]?.setPeers([...ALL, D]);
    assert.equal(group(late).generation, 0, 'it starts at 0');
    const atA = keyOwnedBy(late, A);
    assert.equal((await group(late).get(atA)).toString(), `${atA}@2`);
    assert.equal(group(late).generation, generation, 'caught up from the answer');
    assert.ok(group(late).inspect(atA).hot !== undefined, 'and kept the fresh value');
  });

  test('a node that closes stops telling the peers it owes a notice', async () => {
    const c = await cluster();
    c.cut.add(C);
    await group(c.nodes[A])
      .clear()
      .catch(() => {});
    await c.nodes[A]?.close();
    assert.deepEqual(group(c.nodes[A]).clearPending, []);
    const before = c.sent.length;
    await c.clock.advance(60_000);
    assert.equal(c.sent.length, before, 'no notice was sent after the close');
  });

  test('the retry stops for a peer that left the ring', async () => {
    const c = await cluster();
    c.cut.add(C);
    await group(c.nodes[A])
      .clear()
      .catch(() => {});
    c.nodes[A]?.setPeers([A, B]);
    await c.clock.advance(1_000);
    assert.deepEqual(group(c.nodes[A]).clearPending, []);
  });
});

describe('Group generations with a peer that knows none', () => {
  /** A peer that answers `old` and ignores generations, as a Go groupcache peer does. */
  function goLike(answer: Partial<PeerValue> = {}): PeerClient {
    return {
      url: 'http://go:8080',
      get: async () => ({ value: Buffer.from('old'), expireAt: 0, minuteQps: 0, ...answer }),
      set: async () => {},
      remove: async () => {},
    };
  }
  const picker = (peer: PeerClient): PeerPicker => ({
    pickPeer: () => peer,
    otherPeers: () => [peer],
  });

  test('its answers are served but not kept once the group was cleared; clear names it as not told', async () => {
    const peer = goLike();
    const g = new Group('g', { cacheBytes: 1 << 20, hotCacheChance: 1, load: () => 'x' }, () =>
      picker(peer),
    );
    await g.get('k');
    assert.ok(g.inspect('k').hot !== undefined, 'kept before any clear');
    const result = await g.clear();
    assert.deepEqual(result.unsupported, [peer.url]);
    assert.equal((await g.get('k')).toString(), 'old');
    assert.equal(g.inspect('k').hot, undefined, 'an answer with no generation is not kept');
  });

  test('an answer with a higher generation clears the group first', async () => {
    const ahead = Date.now() + 60_000;
    const peer = goLike({ generation: ahead });
    const g = new Group('g', { cacheBytes: 1 << 20, hotCacheChance: 1, load: () => 'x' }, () =>
      picker(peer),
    );
    g.setFromPeer('mine', Buffer.from('kept?'), 0);
    await g.get('k');
    assert.equal(g.generation, ahead);
    assert.equal(g.inspect('mine').main, undefined, 'cleared');
    assert.ok(g.inspect('k').hot !== undefined, 'the newer answer is kept');
  });

  test('clearFromPeer refuses a generation that is not a positive whole number', () => {
    const g = new Group('g', { cacheBytes: 1 << 20, load: () => 'x' }, () => picker(goLike()));
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => g.clearFromPeer(bad), { code: 'INVALID_ARGUMENT' });
    }
    g.clearFromPeer(5);
    assert.equal(g.generation, 5);
    g.clearFromPeer(3);
    assert.equal(g.generation, 5, 'a lower generation changes nothing');
  });
});
