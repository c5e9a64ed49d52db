// memory.test.ts: what the memory transport adds to the conformance suite: createNode clusters
// in one process without ports, bytes copied across, remote answers, addresses and closing.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { noopLogger } from '../../core/logger.js';
import { HealthCheckedPeer } from '../../core/peer-health.js';
import type { PeerServedGroup } from '../../core/peers.js';
import { GroupRegistry } from '../../core/registry.js';
import { InvalidArgumentError, isCacheError } from '../../errors.js';
import { MAX_BATCH_KEYS } from '../../limits.js';
import { type CacheNode, createNode } from '../../node/node.js';
import type { ServeOptions } from '../transport.js';
import { MemoryNetwork } from './network.js';
import { memoryTransport } from './transport.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** serveOn is the ServeOptions of a server on `host:port` that is never told to shut down. */
function serveOn(host: string, port: number): ServeOptions {
  return { host, port, signal: new AbortController().signal, logger: noopLogger };
}

/** registry is a group `g` whose loader answers `v:<key>`, `missing…` → not found, `fail…` → throws. */
function registry(onLoad: (key: string, signal: AbortSignal) => void = () => {}) {
  const r = new GroupRegistry();
  r.newGroup('g', {
    cacheBytes: 1 << 20,
    load: (key, { signal }) => {
      onLoad(key, signal);
      if (key.startsWith('missing')) return null;
      if (key.startsWith('fail')) throw new Error(`boom: ${key}`);
      if (key.startsWith('hold')) return new Promise(() => {});
      return `v:${key}`;
    },
  });
  return r;
}

describe('a createNode cluster on a memory network', () => {
  test('three nodes reach each other by URL, with no port, and load each key once on its owner', async () => {
    const network = new MemoryNetwork();
    const urls = ['http://a:8001', 'http://b:8001', 'http://c:8001'];
    const loads: Record<string, string[]> = {};
    const nodes: CacheNode[] = urls.map((self) => {
      const node = createNode({ self, peers: urls, transport: memoryTransport(network) });
      loads[self] = [];
      node.newGroup('g', {
        cacheBytes: 1 << 20,
        hotCacheChance: 0,
        load: async (key) => {
          loads[self]?.push(key);
          // A slow key settles a turn later, once every call of a herd (delivered in
          // microtasks) has piled up behind its load.
          if (key.startsWith('slow')) await new Promise((r) => setImmediate(r));
          return `v:${key}`;
        },
      });
      return node;
    });
    try {
      const addresses = await Promise.all(nodes.map((n) => n.listen()));
      assert.deepEqual(
        addresses.map((a) => `${a.address}:${a.port}`),
        ['a:8001', 'b:8001', 'c:8001'],
      );
      assert.deepEqual(network.addresses().sort(), ['a:8001', 'b:8001', 'c:8001']);
      const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
      for (const node of nodes) {
        assert.equal(node.transport.name, 'memory');
        for (const key of keys)
          assert.equal((await node.getGroup('g')?.get(key))?.toString(), `v:${key}`);
      }
      for (const key of keys) {
        const owner = nodes[0]?.ownerOf(key) ?? '';
        assert.deepEqual(
          urls.filter((u) => loads[u]?.includes(key)),
          [owner],
          `${key} loaded once, on ${owner}`,
        );
      }
      assert.ok(nodes.every((n) => (n.getGroup('g')?.stats.peerLoads ?? 0) > 0));

      // A herd of 300 gets of one cold key over the three nodes: one load, on its owner.
      const herd = await Promise.all(
        Array.from({ length: 300 }, (_, i) => nodes[i % 3]?.getGroup('g')?.get('slow-herd')),
      );
      assert.ok(herd.every((v) => v?.toString() === 'v:slow-herd'));
      assert.deepEqual(
        urls.map((u) => loads[u]?.filter((k) => k === 'slow-herd').length),
        urls.map((u) => (u === nodes[0]?.ownerOf('slow-herd') ? 1 : 0)),
      );

      // Many gets in flight at one owner at once: no listener piles up on a signal they
      // share (Node warns past 10).
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      const spread = Array.from({ length: 120 }, (_, i) => `slow-${i}`).filter(
        (k) => nodes[0]?.ownerOf(k) === urls[1],
      );
      assert.ok(spread.length > 20);
      await Promise.all(spread.map((k) => nodes[0]?.getGroup('g')?.get(k)));
      await new Promise((r) => setImmediate(r));
      process.off('warning', onWarning);
      assert.deepEqual(warnings, []);

      // A closed node leaves its address: its keys are loaded once, by a node still there
      // (the key's fallback owner).
      const [a, , c] = nodes as [CacheNode, CacheNode, CacheNode];
      const orphan = Array.from({ length: 200 }, (_, i) => `orphan-${i}`).find(
        (k) => a.ownerOf(k) === c.self,
      ) as string;
      await c.close();
      assert.deepEqual(network.addresses().sort(), ['a:8001', 'b:8001']);
      assert.equal((await a.getGroup('g')?.get(orphan))?.toString(), `v:${orphan}`);
      const loadedAt = urls.filter((u) => loads[u]?.includes(orphan));
      assert.equal(loadedAt.length, 1, `${orphan} loaded once: ${loadedAt}`);
      assert.notEqual(loadedAt[0], c.self);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

describe('a batch answer of values found under different generations', () => {
  /**
   * A node at generation 9 asks an owner that answers `old…` keys as found under
   * generation 4 and the others under 9, in one getMany: whatever a batch holds, its
   * answer is no newer than its oldest value.
   */
  async function askOwner(keys: (owned: string[]) => string[]) {
    const network = new MemoryNetwork();
    const owner = 'http://owner:8001';
    const served: PeerServedGroup = {
      name: 'g',
      getForPeer: (key) => ({
        value: utf8(`v:${key}`),
        expireAt: 0,
        minuteQps: 0,
        generation: key.startsWith('old') ? 4 : 9,
      }),
      setFromPeer() {},
      removeFromPeer() {},
    };
    const ownerTransport = memoryTransport(network);
    const server = await ownerTransport.serve(
      { getGroup: (name) => (name === 'g' ? served : undefined) },
      serveOn('owner', 8001),
    );
    const node = createNode({
      self: 'http://asker:8001',
      peers: ['http://asker:8001', owner],
      transport: memoryTransport(network),
    });
    const group = node.newGroup('g', { cacheBytes: 1 << 20, hotCacheChance: 1, load: () => '' });
    group.clearFromPeer(9);
    try {
      const names = (prefix: string) =>
        Array.from({ length: 100 }, (_, i) => `${prefix}${i}`).filter(
          (k) => node.ownerOf(k) === owner,
        );
      const asked = keys([...names('new').slice(0, 2), ...names('old').slice(0, 1)]);
      const answer = await group.getMany(asked);
      for (const key of asked) assert.equal(answer.get(key)?.toString(), `v:${key}`);
      return {
        asked,
        hot: asked.filter((k) => group.inspect(k).hot !== undefined),
        generation: group.generation,
      };
    } finally {
      await node.close();
      await server.close(0);
      await ownerTransport.close();
    }
  }

  test('the asker keeps none of them: the newer values come in a batch as old as its oldest', async () => {
    const { asked, hot, generation } = await askOwner((owned) => owned);
    assert.equal(asked.length, 3);
    assert.deepEqual(hot, [], 'no value of the batch is kept as if the batch were new');
    assert.equal(generation, 9);
  });

  test('a batch of values all found under its generation is kept', async () => {
    const { asked, hot } = await askOwner((owned) => owned.filter((k) => !k.startsWith('old')));
    assert.equal(asked.length, 2);
    assert.deepEqual(hot, asked);
  });
});

describe('the memory transport', () => {
  test('bytes are copied across: neither side sees the other change them', async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const server = await transport.serve(registry(), serveOn('127.0.0.1', 0));
    const client = transport.client(`http://127.0.0.1:${server.address.port}`);
    try {
      const sent = utf8('original');
      const setting = client.set('g', 'k', sent, 0);
      sent.fill(0x21); // the caller reuses its buffer before the set has arrived
      await setting;
      const got = await client.get('g', 'k');
      assert.equal(text(got.value), 'original');
      got.value.fill(0x21); // the caller scribbles on the answer
      assert.equal(text((await client.get('g', 'k')).value), 'original');
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test('a set or remove handed over past its deadline is DEADLINE_EXCEEDED and not applied', async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const server = await transport.serve(registry(), serveOn('n1', 80));
    const client = transport.client('http://n1');
    try {
      await client.set('g', 'k', utf8('kept'), 0);
      const endpoint = network.dial('n1', 80);
      assert.ok(endpoint !== undefined);
      // What a client would hand over if it got to the server only after its deadline.
      const late = { signal: new AbortController().signal, deadline: Date.now() - 1 };
      const writes = [
        endpoint.exchange(
          { op: 'set', group: 'g', key: 'k', value: utf8('late'), expireAt: 0 },
          late,
        ),
        endpoint.exchange({ op: 'remove', group: 'g', key: 'k' }, late),
      ];
      for (const write of writes) {
        await assert.rejects(write, (err) => {
          assert.ok(isCacheError(err, 'DEADLINE_EXCEEDED'));
          assert.match(err.message, /past its deadline; not applied/);
          return true;
        });
      }
      assert.equal(text((await client.get('g', 'k')).value), 'kept');
      // In time, the same writes are applied.
      const inTime = { signal: new AbortController().signal, deadline: Date.now() + 60_000 };
      await endpoint.exchange({ op: 'remove', group: 'g', key: 'k' }, inTime);
      assert.equal(text((await client.get('g', 'k')).value), 'v:k');
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test("the peer's answers are remote; failing to reach it is not", async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const server = await transport.serve(registry(), serveOn('n1', 80));
    const client = transport.client('http://n1');
    try {
      const answers = await Promise.allSettled([
        client.get('g', 'missing-1'),
        client.get('g', 'fail-1'),
        client.get('no-such-group', 'k'),
        transport.client('http://n2').get('g', 'k'),
      ]);
      const errors = answers.map((a) => (a.status === 'rejected' ? a.reason : undefined));
      assert.ok(errors.every((e) => isCacheError(e)));
      assert.deepEqual(
        errors.map((e) => [e.code, e.remote]),
        [
          ['NOT_FOUND', true],
          ['INTERNAL', true],
          ['UNAVAILABLE', false],
          ['UNAVAILABLE', false],
        ],
      );
      assert.match(String(errors[1]?.message), /^peer http:\/\/n1: .*boom: fail-1$/);
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test('addresses: port 0 picks a free one, a taken one is refused, a closed one is free again', async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const first = await transport.serve(registry(), serveOn('h', 0));
    const second = await transport.serve(registry(), serveOn('h', 0));
    assert.notEqual(first.address.port, second.address.port);
    assert.equal(first.address.family, 'IPv4');
    await assert.rejects(transport.serve(registry(), serveOn('h', first.address.port)), {
      code: 'ALREADY_EXISTS',
    });
    // The same client reaches a server restarted at the address.
    const client = transport.client(`http://h:${first.address.port}`);
    assert.equal(text((await client.get('g', 'x')).value), 'v:x');
    await first.close(0);
    await assert.rejects(client.get('g', 'x'), { code: 'UNAVAILABLE' });
    const again = await transport.serve(registry(), serveOn('h', first.address.port));
    assert.equal(text((await client.get('g', 'x')).value), 'v:x');
    const v6 = await transport.serve(registry(), serveOn('::1', 9000));
    assert.equal(v6.address.family, 'IPv6');
    assert.equal(text((await transport.client('http://[::1]:9000').get('g', 'y')).value), 'v:y');
    await Promise.all([second.close(0), again.close(0), v6.close(0)]);
    await transport.close();
  });

  test("closing a departed peer's client fails its calls and aborts their loads; the next client is fresh", async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const aborted: unknown[] = [];
    const started: string[] = [];
    const server = await transport.serve(
      registry((key, signal) => {
        started.push(key);
        signal.addEventListener('abort', () => aborted.push(signal.reason));
      }),
      serveOn('gone', 80),
    );
    const client = transport.client('http://gone');
    try {
      const call = client.get('g', 'hold-1');
      while (!started.includes('hold-1')) await new Promise((r) => setImmediate(r));
      client.close?.();
      await assert.rejects(call, { code: 'UNAVAILABLE', remote: false });
      assert.equal(aborted.length, 1, 'the owner load was aborted');
      await assert.rejects(client.get('g', 'x'), { code: 'UNAVAILABLE' });
      const fresh = transport.client('http://gone');
      assert.notEqual(fresh, client);
      assert.equal(text((await fresh.get('g', 'x')).value), 'v:x');
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test('a hung address holds requests and answers until it resumes; a held call ends from the client', async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const started: string[] = [];
    let release: (() => void) | undefined;
    const r = new GroupRegistry();
    r.newGroup('g', {
      cacheBytes: 1 << 20,
      load: async (key) => {
        started.push(key);
        if (key === 'gated') await new Promise<void>((go) => (release = go));
        return `v:${key}`;
      },
    });
    const server = await transport.serve(r, serveOn('stuck', 80));
    const client = transport.client('http://stuck');
    try {
      const outcome = (p: Promise<unknown>) => {
        const seen = { settled: false };
        p.then(
          () => (seen.settled = true),
          () => (seen.settled = true),
        );
        return seen;
      };
      // An answer the server had not sent when the address hung waits for the resume.
      const gated = client.get('g', 'gated');
      while (release === undefined) await settle();
      network.hang('STUCK', 80);
      assert.equal(network.hung('stuck', 80), true);
      release();
      const gatedSeen = outcome(gated);
      // A request sent while hung does not reach the server.
      const held = client.get('g', 'x');
      const heldSeen = outcome(held);
      const cancel = new AbortController();
      const given = client.get('g', 'y', { signal: cancel.signal });
      await settle();
      assert.deepEqual(started, ['gated']);
      assert.deepEqual([gatedSeen.settled, heldSeen.settled], [false, false]);
      cancel.abort();
      await assert.rejects(given, { code: 'CANCELLED' });

      network.resume('stuck', 80);
      assert.equal(network.hung('stuck', 80), false);
      assert.equal(text((await gated).value), 'v:gated');
      assert.equal(text((await held).value), 'v:x');
      assert.deepEqual(started, ['gated', 'x'], 'the call given up while held never arrived');
      network.resume('stuck', 80); // resuming twice is harmless
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test('a getMany is one exchange, held by a hung address like any call; a batch over the limits is TOO_LARGE', async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const started: string[] = [];
    const server = await transport.serve(
      registry((key) => started.push(key)),
      serveOn('batch', 80),
    );
    const client = transport.client('http://batch');
    try {
      network.hang('batch', 80);
      const held = client.getMany?.('g', ['a', 'missing-b']);
      assert.ok(held !== undefined, 'the memory client has getMany');
      let settled = false;
      held.then(
        () => (settled = true),
        () => (settled = true),
      );
      await settle();
      assert.deepEqual([settled, started], [false, []]);
      network.resume('batch', 80);
      const answer = await held;
      assert.equal(text((answer.get('a') as { value: Uint8Array }).value), 'v:a');
      assert.ok(isCacheError(answer.get('missing-b'), 'NOT_FOUND'));
      // The server refuses a batch over the limits whole, and goes on serving.
      const endpoint = network.dial('batch', 80);
      const many = Array.from({ length: MAX_BATCH_KEYS + 1 }, (_, i) => `k${i}`);
      await assert.rejects(
        endpoint?.exchange(
          { op: 'getMany', group: 'g', keys: many },
          { signal: new AbortController().signal },
        ) ?? Promise.reject(new Error('no server')),
        { code: 'TOO_LARGE' },
      );
      assert.equal(text((await client.get('g', 'c')).value), 'v:c');
      assert.deepEqual(started, ['a', 'missing-b', 'c']);
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test('a health-checked client notices a hung peer and uses it again once it resumes', async () => {
    const network = new MemoryNetwork();
    const transport = memoryTransport(network);
    const server = await transport.serve(registry(), serveOn('p', 80));
    const clock = new ManualClock();
    const bare = transport.client('http://p');
    const peer = new HealthCheckedPeer(bare, {
      clock,
      suspectAfterMs: 500,
      probeTimeoutMs: 2_000,
      probeIntervalMs: 1_000,
    });
    try {
      assert.equal(text((await peer.get('g', 'a')).value), 'v:a');
      network.hang('p', 80);
      // Its failure is read after the clock has moved on.
      const waiting = peer.get('g', 'b').then(
        () => undefined,
        (err: unknown) => err,
      );
      await clock.advance(500); // suspected: a probe goes out, and is held too
      assert.equal(peer.healthy, true);
      await clock.advance(2_000); // no answer to the probe: unhealthy, the call fails at once
      assert.equal(peer.healthy, false);
      const failed = await waiting;
      assert.ok(isCacheError(failed) && failed.code === 'UNAVAILABLE', String(failed));
      await assert.rejects(peer.get('g', 'c'), { code: 'UNAVAILABLE' });
      network.resume('p', 80);
      await clock.advance(1_000); // the next probe is answered
      assert.equal(peer.healthy, true);
      assert.equal(text((await peer.get('g', 'd')).value), 'v:d');
    } finally {
      peer.close();
      await server.close(0);
      await transport.close();
    }
  });

  test('bad options are InvalidArgumentErrors', () => {
    const network = new MemoryNetwork();
    assert.throws(() => memoryTransport(network, { maxKeyBytes: 0 }), InvalidArgumentError);
    assert.throws(() => memoryTransport(network, { maxValueBytes: -1 }), InvalidArgumentError);
    assert.throws(() => memoryTransport(network, { requestTimeoutMs: 0 }), InvalidArgumentError);
  });
});

/** settle lets pending promise jobs and queued microtasks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
