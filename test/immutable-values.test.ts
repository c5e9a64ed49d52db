// immutable-values.test.ts: nothing the public API hands out or takes in can change
// what the cache holds: every entry is attacked, and every cached value read back.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { httpTransport } from '../src/http.js';
import {
  allocatingByteSliceSink,
  ByteView,
  byteViewSink,
  createNode,
  type Group,
  GroupRegistry,
  MemoryNetwork,
  memoryTransport,
  type PeerClient,
  type PeerValue,
  protoSink,
  type Sink,
  stringSink,
  truncatingByteSliceSink,
} from '../src/index.js';
import { GetResponseSchema } from '../src/proto/gen/groupcache_pb.js';
import { tcpTransport } from '../src/tcp.js';
import { freePort } from './support/process.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * vandalize writes over `bytes` and, unless it is a Buffer (whose memory may be
 * Node's shared pool), over the whole ArrayBuffer behind it: a range handed out of
 * a shared arena block would take every value in the block down with it.
 */
function vandalize(bytes: Uint8Array): void {
  bytes.fill(0xee);
  if (!Buffer.isBuffer(bytes)) new Uint8Array(bytes.buffer).fill(0xee);
}

/** Small values: they all live in the same arena block of their group. */
const VALUES: Record<string, string> = Object.fromEntries(
  Array.from({ length: 24 }, (_, i) => [`key-${i}`, `value number ${i} `.repeat(1 + (i % 3))]),
);

/** A group preloaded with VALUES through `set`, and a check that they are all intact. */
async function stocked(registry = new GroupRegistry(), name = 'vals') {
  const group = registry.newGroup(name, {
    cacheBytes: 1 << 20,
    load: (key) => VALUES[key] ?? null,
  });
  for (const [k, v] of Object.entries(VALUES)) await group.set(k, v);
  return {
    registry,
    group,
    intact: (extra?: Record<string, string>) => assertIntact(group, extra),
  };
}

/** assertIntact reads every key back from the cache, without loading, and compares. */
function assertIntact(group: Group, extra: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries({ ...VALUES, ...extra })) {
    const view = group.peek(k);
    assert.ok(view !== undefined, `${k} is still cached`);
    assert.equal(view.toString(), v, `${k} is unchanged`);
    assert.ok(view.equalBytes(utf8(v)), `${k}'s bytes are unchanged`);
  }
}

describe('a ByteView', () => {
  test('has no public way to its stored bytes', async () => {
    const { group } = await stocked();
    const view = await group.get('key-1');
    for (const name of ['unsafeBytes', 'adopt', 'buffer', 'bytes']) {
      assert.equal(name in view, false, `view.${name}`);
      assert.equal(name in ByteView, false, `ByteView.${name}`);
    }
    assert.deepEqual(Reflect.ownKeys(view), [], 'no own properties or symbols on a view');
    assert.deepEqual(
      Reflect.ownKeys(ByteView.prototype).filter((k) => typeof k === 'symbol'),
      [],
      'no symbol-keyed methods',
    );
  });

  test('everything read out of a view from get or peek is a copy', async () => {
    const { group, intact } = await stocked();
    for (const view of [await group.get('key-2'), group.peek('key-3') as ByteView]) {
      vandalize(view.byteSlice());
      vandalize(view.slice(2, 9).byteSlice());
      vandalize(view.sliceFrom(1).byteSlice());
      const dest = new Uint8Array(view.length);
      assert.equal(view.copy(dest), view.length);
      vandalize(dest);
      assert.equal(ByteView.from(view), view, 'from(view) keeps the immutable view');
    }
    intact();
  });

  test('copy into a Uint8Array subclass never hands the subclass the stored bytes', async () => {
    const { group, intact } = await stocked();
    const seen: Uint8Array[] = [];
    class Thief extends Uint8Array {
      override set(source: ArrayLike<number>, offset?: number): void {
        seen.push(source as Uint8Array);
        super.set(source, offset);
      }
      override subarray(begin?: number, end?: number) {
        const sub = super.subarray(begin, end);
        seen.push(sub);
        return sub;
      }
    }
    const view = await group.get('key-4');
    const dest = new Thief(view.length);
    view.copy(dest);
    assert.equal(text(dest), VALUES['key-4']);
    assert.ok(view.equalBytes(new Thief(utf8(VALUES['key-4'] as string))));
    assert.throws(() => view.copy({ set() {} } as unknown as Uint8Array), TypeError);
    for (const s of seen) vandalize(s);
    intact();
  });
});

describe('sinks', () => {
  test("each sink's value is the caller's own", async () => {
    const { group, intact } = await stocked();
    const allocating = allocatingByteSliceSink();
    await group.get('key-5', allocating);
    assert.equal(text(allocating.value as Uint8Array), VALUES['key-5']);
    vandalize(allocating.value as Uint8Array);

    const buf = new Uint8Array(8);
    const truncating = truncatingByteSliceSink(buf);
    await group.get('key-6', truncating);
    assert.equal(truncating.length, 8);
    vandalize(truncating.value);
    vandalize(buf);

    const views = byteViewSink();
    await group.get('key-7', views);
    vandalize((views.value as ByteView).byteSlice());

    const strings = stringSink();
    await group.get('key-8', strings);
    assert.equal(strings.value, VALUES['key-8']);
    intact();
  });

  test("a proto sink's bytes fields do not share the cached message's memory", async () => {
    const { group, intact } = await stocked();
    const message = create(GetResponseSchema, { value: utf8('inner bytes'), minuteQps: 2 });
    await group.set('proto', toBinary(GetResponseSchema, message));
    const fresh = protoSink(GetResponseSchema);
    await group.get('proto', fresh);
    assert.equal(text(fresh.message?.value as Uint8Array), 'inner bytes');
    vandalize(fresh.message?.value as Uint8Array);
    const target = create(GetResponseSchema);
    await group.get('proto', protoSink(GetResponseSchema, target));
    vandalize(target.value as Uint8Array);
    const again = protoSink(GetResponseSchema);
    await group.get('proto', again);
    assert.equal(text(again.message?.value as Uint8Array), 'inner bytes');
    assert.equal(again.message?.minuteQps, 2);
    intact();
  });
});

describe('values going in', () => {
  test('set copies: the caller may change its Uint8Array afterwards', async () => {
    const { group, intact } = await stocked();
    const bytes = utf8('set then changed');
    await group.set('written', bytes);
    vandalize(bytes);
    const boxed = Buffer.from('a Buffer value');
    await group.set('buffer', boxed);
    vandalize(boxed);
    intact();
    assert.equal(group.peek('written')?.toString(), 'set then changed');
    assert.equal(group.peek('buffer')?.toString(), 'a Buffer value');
  });

  test('a loader may reuse its buffer, returned bare, boxed, or written into a sink', async () => {
    const registry = new GroupRegistry();
    const shared = new Uint8Array(64);
    /** Writes `key`'s value into the one shared buffer and returns that range of it. */
    const fill = (key: string) => {
      shared.fill(0);
      const n = new TextEncoder().encodeInto(`loaded ${key}`, shared).written;
      return shared.subarray(0, n);
    };
    const bare = registry.newGroup('bare', { cacheBytes: 1 << 20, load: (key) => fill(key) });
    const boxed = registry.newGroup('boxed', {
      cacheBytes: 1 << 20,
      load: (key) => ({ value: fill(key), ttlMs: 60_000 }),
    });
    const sunk = registry.newGroup('sunk', {
      cacheBytes: 1 << 20,
      getter: {
        get(key: string, dest: Sink) {
          dest.setBytes(fill(key));
        },
      },
    });
    const uncached = registry.newGroup('uncached', { cacheBytes: 0, load: (key) => fill(key) });
    const got: [Group, string, ByteView][] = [];
    for (const g of [bare, boxed, sunk, uncached]) {
      for (const key of ['a', 'bb', 'ccc']) got.push([g, key, await g.get(key)]);
    }
    vandalize(shared);
    for (const [g, key, view] of got) {
      assert.equal(view.toString(), `loaded ${key}`, `${g.name}/${key} as returned`);
      if (g !== uncached)
        assert.equal(g.peek(key)?.toString(), `loaded ${key}`, `${g.name}/${key}`);
    }
  });
});

describe('the peer-facing side', () => {
  test("getForPeer's value and setFromPeer's input are not the cache's memory", async () => {
    const { group, intact } = await stocked();
    const hit = await group.getForPeer('key-9');
    assert.equal(text(hit.value), VALUES['key-9']);
    vandalize(hit.value);
    const miss = await group.getForPeer('key-10');
    vandalize(miss.value);
    const sent = utf8('from a peer');
    group.setFromPeer('peer-set', sent, 0);
    vandalize(sent);
    intact({ 'peer-set': 'from a peer' });
  });

  test('a peer client of your own may reuse its buffers', async () => {
    const registry = new GroupRegistry();
    const group = registry.newGroup('remote', {
      cacheBytes: 1 << 20,
      hotCacheChance: 1,
      load: (key) => VALUES[key] ?? null,
    });
    const cold = registry.newGroup('cold', {
      cacheBytes: 1 << 20,
      hotCacheChance: 0,
      load: () => null,
    });
    for (const [k, v] of Object.entries(VALUES)) await group.set(k, v);
    const handedOut: Uint8Array[] = [];
    const reused = new Uint8Array(32);
    const client: PeerClient = {
      url: 'http://owner.invalid',
      async get(_group, key): Promise<PeerValue> {
        reused.fill(0);
        const n = new TextEncoder().encodeInto(`remote ${key}`, reused).written;
        return { value: reused.subarray(0, n), expireAt: 0, minuteQps: 0 };
      },
      async set(_group, _key, value) {
        handedOut.push(value);
      },
      async remove() {},
    };
    registry.setPeerPicker({
      pickPeer: (key) => (key.startsWith('remote:') ? client : undefined),
      otherPeers: () => [client],
    });
    const first = await group.get('remote:one');
    const second = await group.get('remote:two');
    const unkept = await cold.get('remote:three');
    await group.set('remote:copy', await group.get('key-11'));
    await group.set('remote:bytes', utf8('bytes for the owner'));
    for (const b of handedOut) vandalize(b);
    vandalize(reused);
    assert.equal(first.toString(), 'remote remote:one');
    assert.equal(second.toString(), 'remote remote:two');
    assert.ok(unkept.equalBytes(utf8('remote remote:three')), 'a value not kept is a copy too');
    assert.equal(group.peek('remote:one')?.toString(), 'remote remote:one', 'kept in hot');
    assertIntact(group);
  });

  test('a value a peer client answers as owned is handed out as it is, and kept in hot as a copy', async () => {
    const registry = new GroupRegistry();
    const cold = registry.newGroup('cold', {
      cacheBytes: 1 << 20,
      hotCacheChance: 0,
      load: () => null,
    });
    const hot = registry.newGroup('hot', {
      cacheBytes: 1 << 20,
      hotCacheChance: 1,
      load: () => null,
    });
    // Its arena takes records of up to 512 bytes: a larger value is kept beside it.
    const small = registry.newGroup('small', {
      cacheBytes: 64 << 10,
      hotCacheChance: 1,
      load: () => null,
    });
    const answered: Uint8Array[] = [];
    const client: PeerClient = {
      url: 'http://owner.invalid',
      async get(_group, key): Promise<PeerValue> {
        const value = key === 'big' ? utf8('b'.repeat(16 << 10)) : utf8(`owned ${key}`);
        answered.push(value);
        return { value, expireAt: 0, minuteQps: 0, owned: true };
      },
      async set() {},
      async remove() {},
    };
    registry.setPeerPicker({ pickPeer: () => client, otherPeers: () => [client] });
    const unkept = await cold.get('k1');
    const kept = await hot.get('k2');
    const beside = await small.get('big');
    // Writing to what the client answered (which an owning client never does) shows which
    // view shares its bytes: the one handed out as it was, not the one copied into hot.
    for (const b of answered) b.fill(0x21);
    assert.equal(unkept.toString(), '!'.repeat('owned k1'.length), 'no copy of an owned value');
    assert.equal(kept.toString(), 'owned k2', 'the hot copy is the cache’s own');
    assert.equal(hot.peek('k2')?.toString(), 'owned k2');
    assert.equal(small.cacheStats('hot').items, 1, 'the large value is kept in hot');
    assert.equal(beside.toString(), '!'.repeat(16 << 10), 'kept beside the arena, not copied');
  });

  for (const [name, make] of [
    ['http', () => httpTransport()],
    ['tcp', () => tcpTransport()],
    ['memory', () => memoryTransport(new MemoryNetwork())],
  ] as const) {
    test(`the ${name} transport serves cached bytes without letting its client change them`, async (t) => {
      const owner = await stocked();
      const transport = make();
      const server = await transport.serve(owner.registry, {
        host: '127.0.0.1',
        port: 0,
        signal: new AbortController().signal,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      t.after(async () => {
        await server.close(0);
        await transport.close();
      });
      const client = transport.client(`http://127.0.0.1:${server.address.port}`);
      for (const key of ['key-13', 'key-14', 'key-13']) {
        const got = await client.get('vals', key);
        assert.equal(text(got.value), VALUES[key]);
        vandalize(got.value);
      }
      owner.intact();
    });
  }
});

describe('two nodes over loopback', () => {
  const nodes: ReturnType<typeof createNode>[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  test('what a node gets from its peer, kept in hot or not, is its own', async () => {
    const urlA = `http://127.0.0.1:${await freePort()}`;
    const a = createNode({ self: urlA, peers: [urlA], transport: tcpTransport() });
    nodes.push(a);
    await a.listen();
    // A client-only node: every key it asks for is a's.
    const b = createNode({ member: false, peers: [urlA], transport: tcpTransport() });
    nodes.push(b);
    const groupA = a.newGroup('vals', { cacheBytes: 1 << 20, load: (k) => VALUES[k] ?? null });
    const groupB = b.newGroup('vals', {
      cacheBytes: 1 << 20,
      hotCacheChance: 1,
      load: () => null,
    });
    for (const key of Object.keys(VALUES)) {
      const view = await groupB.get(key);
      vandalize(view.byteSlice());
    }
    assertIntact(groupB);
    assertIntact(groupA);
  });
});
