// group.test.ts: the read-through behaviour of a single-process Group.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ManualClock } from '../../test/support/manual-clock.js';
import { InternalError, TooLargeError, UnavailableError } from '../errors.js';
import { GetRequestSchema } from '../proto/gen/groupcache_pb.js';
import { ByteView } from './byteview.js';
import type { GroupOptions, LoadFn, LoadResult } from './group.js';
import type { CallOptions, PeerClient, PeerValue } from './peers.js';
import { GroupRegistry } from './registry.js';
import {
  allocatingByteSliceSink,
  byteViewSink,
  protoSink,
  stringSink,
  truncatingByteSliceSink,
} from './sinks.js';

function counting(fn: LoadFn = (key) => `v:${key}`) {
  const calls: string[] = [];
  const load: LoadFn = (key, ctx) => {
    calls.push(key);
    return fn(key, ctx);
  };
  return { load, calls };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Group.get', () => {
  test('loads on a miss, then answers from the cache', async () => {
    const { load, calls } = counting();
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load });
    assert.equal((await g.get('a')).toString(), 'v:a');
    assert.equal((await g.get('a')).toString(), 'v:a');
    assert.deepEqual(calls, ['a']);
    const s = g.stats;
    assert.equal(s.gets, 2);
    assert.equal(s.cacheHits, 1);
    assert.equal(s.loads, 1);
    assert.equal(s.localLoads, 1);
  });

  test('accepts strings, bytes, ByteViews and { value, ttlMs } from the loader', async () => {
    const values: Record<string, unknown> = {
      s: 'text',
      b: new Uint8Array([1, 2, 3]),
      v: ByteView.from('view'),
      o: { value: 'obj', ttlMs: 1000 },
    };
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: (key) => values[key] as string,
    });
    assert.equal((await g.get('s')).toString(), 'text');
    assert.deepEqual((await g.get('b')).byteSlice(), new Uint8Array([1, 2, 3]));
    assert.equal((await g.get('v')).toString(), 'view');
    assert.equal((await g.get('o')).toString(), 'obj');
  });

  test('the cached value cannot be changed through the loader’s buffer or a caller’s copy', async () => {
    const buf = new Uint8Array([1, 2, 3]);
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load: () => buf });
    const first = await g.get('k');
    buf[0] = 9;
    first.byteSlice()[1] = 9;
    assert.deepEqual((await g.get('k')).byteSlice(), new Uint8Array([1, 2, 3]));
  });

  test('a value set locally is a copy: changing the caller’s bytes afterwards changes nothing', async () => {
    const g = new GroupRegistry().newGroup('set-copy', { cacheBytes: 1 << 20, load: () => null });
    const small = new Uint8Array([1, 2, 3]);
    const large = new Uint8Array(200_000).fill(5); // too large for the arena's blocks
    await g.set('small', small);
    await g.set('large', large);
    small[0] = 9;
    large[0] = 9;
    assert.deepEqual((await g.get('small')).byteSlice(), new Uint8Array([1, 2, 3]));
    assert.equal((await g.get('large')).at(0), 5);
  });

  test('fills every kind of sink', async () => {
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load: (k) => `value-${k}` });
    const s = stringSink();
    await g.get('a', s);
    assert.equal(s.value, 'value-a');
    const v = byteViewSink();
    await g.get('a', v);
    assert.equal(v.value?.toString(), 'value-a');
    const alloc = allocatingByteSliceSink();
    await g.get('a', alloc, {});
    assert.deepEqual(alloc.value, new TextEncoder().encode('value-a'));
    const small = new Uint8Array(3);
    const t = truncatingByteSliceSink(small);
    await g.get('a', t);
    assert.equal(t.length, 3);
    assert.deepEqual(small, new TextEncoder().encode('val'));
  });

  test('a seed-style getter fills its sink, and protoSink decodes a message', async () => {
    const g = new GroupRegistry().newGroup('protos', {
      cacheBytes: 1 << 20,
      getter: {
        get(key, dest) {
          dest.setProto(GetRequestSchema, create(GetRequestSchema, { group: 'x', key }));
        },
      },
    });
    const sink = protoSink(GetRequestSchema);
    await g.get('hello', sink);
    assert.equal(sink.message?.key, 'hello');
    assert.equal(sink.message?.group, 'x');
  });

  test('a getter that neither fills its sink nor returns a value is an INTERNAL error', async () => {
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, getter: { get() {} } });
    await assert.rejects(g.get('k'), { code: 'INTERNAL' });
  });
});

describe('singleflight in the group', () => {
  test('100 concurrent gets of a cold key load it once', async () => {
    const gate = deferred<string>();
    const { load, calls } = counting(() => gate.promise);
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load });
    const all = Array.from({ length: 100 }, () => g.get('hot'));
    await new Promise((r) => setImmediate(r));
    gate.resolve('once');
    const views = await Promise.all(all);
    assert.ok(views.every((v) => v.toString() === 'once'));
    assert.equal(calls.length, 1);
    assert.equal(g.stats.loads, 100);
    assert.equal(g.stats.loadsDeduped, 1);
  });

  test('a caller that aborts leaves alone; the others get the value', async () => {
    const gate = deferred<string>();
    let loadSignal: AbortSignal | undefined;
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: (_k, { signal }) => {
        loadSignal = signal;
        return gate.promise;
      },
    });
    const ac = new AbortController();
    const leaving = g.get('k', { signal: ac.signal });
    const staying = g.get('k');
    ac.abort();
    await assert.rejects(leaving, { code: 'CANCELLED' });
    assert.equal(loadSignal?.aborted, false);
    gate.resolve('v');
    assert.equal((await staying).toString(), 'v');
  });

  test('a caller whose deadline passes gets DEADLINE_EXCEEDED', async () => {
    const clock = new ManualClock();
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: () => new Promise<string>(() => {}),
      loadTimeoutMs: 0,
      clock,
    });
    const late = g.get('k', { deadline: clock.now() + 5 });
    const rejected = assert.rejects(late, { code: 'DEADLINE_EXCEEDED' });
    await clock.advance(5);
    await rejected;
  });

  test("the load timeout runs on the group's clock", async () => {
    const clock = new ManualClock();
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: () => new Promise<string>(() => {}),
      loadTimeoutMs: 1_000,
      clock,
    });
    let settled = false;
    const stuck = g.get('k').finally(() => {
      settled = true;
    });
    const rejected = assert.rejects(stuck, { code: 'DEADLINE_EXCEEDED' });
    await clock.advance(999);
    assert.equal(settled, false);
    await clock.advance(1);
    await rejected;
  });

  test('when every caller leaves, the load itself is aborted', async () => {
    const aborted = deferred<void>();
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: (_k, { signal }) =>
        new Promise<string>(() => signal.addEventListener('abort', () => aborted.resolve())),
    });
    const a = new AbortController();
    const b = new AbortController();
    const pa = g.get('k', { signal: a.signal });
    const pb = g.get('k', { signal: b.signal });
    a.abort();
    b.abort();
    await assert.rejects(pa, { code: 'CANCELLED' });
    await assert.rejects(pb, { code: 'CANCELLED' });
    await aborted.promise;
  });

  test('a loader that throws fails its waiters and does not leave the key stuck', async () => {
    let n = 0;
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: async () => {
        n++;
        if (n === 1) throw new Error('database down');
        return 'recovered';
      },
    });
    const results = await Promise.allSettled([g.get('k'), g.get('k')]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r as PromiseRejectedResult).reason.code, 'INTERNAL');
      assert.match((r as PromiseRejectedResult).reason.message, /database down/);
    }
    assert.equal(g.stats.localLoadErrs, 1);
    assert.equal((await g.get('k')).toString(), 'recovered');
  });

  test('a loader that never settles fails with DEADLINE_EXCEEDED after loadTimeoutMs, and the next get loads again', async () => {
    let n = 0;
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      loadTimeoutMs: 20,
      load: () => (++n === 1 ? new Promise<string>(() => {}) : 'second'),
    });
    await assert.rejects(g.get('k'), { code: 'DEADLINE_EXCEEDED' });
    assert.equal((await g.get('k')).toString(), 'second');
  });
});

describe('not found', () => {
  test('null is NOT_FOUND, distinct from a failure, and not cached by default', async () => {
    const { load, calls } = counting(() => null);
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load });
    await assert.rejects(g.get('nope'), { code: 'NOT_FOUND', name: 'NotFoundError' });
    await assert.rejects(g.get('nope'), { code: 'NOT_FOUND' });
    assert.equal(calls.length, 2);
  });

  test('notFoundTtlMs caches the answer until it expires', async () => {
    let now = 1_000_000;
    const { load, calls } = counting(() => undefined);
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load,
      notFoundTtlMs: 500,
      now: () => now,
    });
    await assert.rejects(g.get('nope'), { code: 'NOT_FOUND' });
    await assert.rejects(g.get('nope'), { code: 'NOT_FOUND' });
    assert.equal(calls.length, 1);
    assert.equal(g.peek('nope'), undefined);
    now += 501;
    await assert.rejects(g.get('nope'), { code: 'NOT_FOUND' });
    assert.equal(calls.length, 2);
  });
});

describe('expiry', () => {
  test('per-key ttl from the loader, the group ttl and set ttl are honoured on read', async () => {
    let now = 5_000;
    const { load, calls } = counting((key) =>
      key === 'short' ? { value: 's', ttlMs: 100 } : 'long',
    );
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load,
      ttlMs: 1000,
      now: () => now,
    });
    await g.get('short');
    await g.get('long');
    await g.set('manual', 'm', { ttlMs: 50 });
    await g.set('forever', 'f', { ttlMs: 0 });
    now += 60;
    assert.equal(g.peek('manual'), undefined);
    assert.equal(g.peek('short')?.toString(), 's');
    now += 50;
    await g.get('short');
    assert.deepEqual(calls, ['short', 'long', 'short']);
    now += 1000;
    await g.get('long');
    assert.deepEqual(calls, ['short', 'long', 'short', 'long']);
    assert.equal(g.peek('forever')?.toString(), 'f');
  });

  test('the former names ttl, notFoundTtl and fallbackTtl still work; both names at once must agree', async () => {
    let now = 0;
    const reg = new GroupRegistry();
    const g = reg.newGroup('old', {
      cacheBytes: 1 << 20,
      load: (key) => (key === 'gone' ? null : key === 'own' ? { value: 'o', ttl: 10 } : 'v'),
      ttl: 100,
      notFoundTtl: 50,
      now: () => now,
    });
    await g.get('k');
    await g.get('own');
    await g.set('set', 's', { ttl: 20 });
    await assert.rejects(g.get('gone'), { code: 'NOT_FOUND' });
    now += 15;
    assert.equal(g.peek('own'), undefined, "the loader's ttl");
    assert.equal(g.peek('set')?.toString(), 's');
    now += 10;
    assert.equal(g.peek('set'), undefined, "set's ttl");
    now += 80;
    assert.equal(g.peek('k'), undefined, "the group's ttl");
    const same = { cacheBytes: 0, load: () => 'v', ttl: 5, ttlMs: 5, fallbackTtl: 1 };
    assert.doesNotThrow(() => reg.newGroup('same', same));
    for (const [name, options] of [
      ['ttl', { ttl: 5, ttlMs: 6 }],
      ['notFoundTtl', { notFoundTtl: 5, notFoundTtlMs: 6 }],
      ['fallbackTtl', { fallbackTtl: 5, fallbackTtlMs: 6 }],
    ] as const) {
      assert.throws(
        () => reg.newGroup(`two-${name}`, { cacheBytes: 0, load: () => 'v', ...options }),
        {
          code: 'INVALID_ARGUMENT',
          message: new RegExp(`${name}Ms or its former name ${name}`),
        },
      );
    }
    await assert.rejects(g.set('k', 'v', { ttl: 1, ttlMs: 2 }), { code: 'INVALID_ARGUMENT' });
  });
});

describe('set, remove, peek', () => {
  test('set stores, remove drops, peek never loads', async () => {
    const { load, calls } = counting();
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load });
    await g.set('k', 'mine');
    assert.equal((await g.get('k')).toString(), 'mine');
    await g.remove('k');
    assert.equal(g.peek('k'), undefined);
    assert.equal((await g.get('k')).toString(), 'v:k');
    assert.deepEqual(calls, ['k']);
  });

  test('cacheBytes 0 disables caching', async () => {
    const { load, calls } = counting();
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 0, load });
    await g.get('a');
    await g.get('a');
    await g.set('b', 'x');
    assert.equal(g.peek('b'), undefined);
    assert.equal(calls.length, 2);
    assert.equal(g.cacheStats('main').items, 0);
  });
});

describe('budget and stats', () => {
  test('bytes are key + value (UTF-8), and the oldest entries are evicted first', async () => {
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 30, load: () => 'xxxxx' });
    await g.get('é1234'); // key 6 bytes + value 5 = 11
    assert.equal(g.cacheStats('main').bytes, 11);
    await g.get('b1234'); // 10 → 21
    await g.get('é1234'); // touch: b1234 is now the oldest
    await g.get('c1234'); // 10 → 31 > 30: evict b1234
    const st = g.cacheStats('main');
    assert.equal(st.items, 2);
    assert.equal(st.bytes, 21);
    assert.equal(st.evictions, 1);
    assert.ok(g.peek('é1234'));
    assert.equal(g.peek('b1234'), undefined);
    assert.ok(g.peek('c1234'));
  });

  test('a value larger than the whole budget is served but not cached', async () => {
    const { load, calls } = counting(() => 'x'.repeat(100));
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 50, load });
    await g.get('a');
    await g.get('a');
    assert.equal(calls.length, 2);
    assert.equal(g.cacheStats('main').bytes, 0);
  });

  test('cache stats count gets and hits', async () => {
    const g = new GroupRegistry().newGroup('g', { cacheBytes: 1 << 20, load: (k) => k });
    await g.get('a');
    await g.get('a');
    const main = g.cacheStats('main');
    assert.equal(main.hits, 1);
    assert.ok(main.gets >= 2);
    assert.equal(main.items, 1);
  });
});

describe('bad input', () => {
  const reg = new GroupRegistry();
  const g = reg.newGroup('bad', {
    cacheBytes: 1 << 20,
    load: (k) => (k === 'big' ? 'x'.repeat(11) : 'ok'),
    maxKeyBytes: 8,
    maxValueBytes: 10,
  });

  test('empty, non-string and oversized keys are typed errors at the call', async () => {
    await assert.rejects(g.get(''), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(g.get(42 as unknown as string), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(g.get('123456789'), { code: 'TOO_LARGE' });
    await assert.rejects(g.get('ééééé'), { code: 'TOO_LARGE' }); // 10 bytes in UTF-8
    await assert.rejects(g.set('', 'v'), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(g.remove(''), { code: 'INVALID_ARGUMENT' });
  });

  test('values over the limit are refused, from set and from the loader', async () => {
    await assert.rejects(g.set('k', 'x'.repeat(11)), { code: 'TOO_LARGE' });
    await assert.rejects(g.set('k', 42 as unknown as string), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(g.set('k', 'v', { ttlMs: -1 }), { code: 'INVALID_ARGUMENT' });
  });

  test('a loader value over the limit is the server’s fault: INTERNAL, naming group, key and limit', async () => {
    await assert.rejects(g.get('big'), {
      code: 'INTERNAL',
      message: "load bad/big: the loader returned 11 bytes, over the group's limit of 10",
    });
    assert.equal(g.peek('big'), undefined);
  });

  test('the group keeps working after bad input', async () => {
    assert.equal((await g.get('fine')).toString(), 'ok');
  });

  test('bad options are typed errors at construction', () => {
    const load = () => 'v';
    assert.throws(() => reg.newGroup('neg', { cacheBytes: -1, load }), {
      code: 'INVALID_ARGUMENT',
    });
    assert.throws(() => reg.newGroup('nan', { cacheBytes: Number.NaN, load }), {
      code: 'INVALID_ARGUMENT',
    });
    assert.throws(() => reg.newGroup('none', { cacheBytes: 1 }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => reg.newGroup('both', { cacheBytes: 1, load, getter: { get: () => 'v' } }), {
      code: 'INVALID_ARGUMENT',
    });
    assert.throws(() => reg.newGroup('', { cacheBytes: 1, load }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => reg.newGroup('bad', { cacheBytes: 1, load }), {
      code: 'ALREADY_EXISTS',
      message: /bad already exists/,
    });
    assert.throws(() => reg.newGroup('hc', { cacheBytes: 1, load, hotCacheChance: 2 }), {
      code: 'INVALID_ARGUMENT',
    });
  });

  test('a loader that throws TOO_LARGE itself is INTERNAL too', async () => {
    const h = reg.newGroup('throws-big', {
      cacheBytes: 1 << 20,
      load: () => {
        throw new TooLargeError('origin body of 99 bytes is over the limit of 10');
      },
    });
    await assert.rejects(h.get('k'), {
      code: 'INTERNAL',
      message: 'load throws-big/k: origin body of 99 bytes is over the limit of 10',
    });
  });

  test('a loader returning something unusable is an error, not a corrupt cache', async () => {
    const h = reg.newGroup('weird', { cacheBytes: 1 << 20, load: () => 42 as unknown as string });
    await assert.rejects(h.get('k'), {
      code: 'INTERNAL',
      message: /^load weird\/k: the loader returned number; want/,
    });
    await assert.rejects(Promise.resolve(h.getForPeer('k')), { code: 'INTERNAL' });
    assert.equal(h.cacheStats('main').items, 0);
    const t = reg.newGroup('weird-ttl', {
      cacheBytes: 1 << 20,
      load: () => ({ value: 'v', ttlMs: -5 }),
    });
    await assert.rejects(t.get('k'), { code: 'INTERNAL', message: /weird-ttl\/k.*ttlMs of -5/ });
  });
});

describe('serving peers', () => {
  test('getForPeer answers a cache hit at once; a miss, bad key or not-found with a promise', async () => {
    const { load, calls } = counting((key) => (key === 'gone' ? null : `v:${key}`));
    const g = new GroupRegistry().newGroup('peer-served', {
      cacheBytes: 1 << 20,
      load,
      notFoundTtlMs: 60_000,
    });
    const miss = g.getForPeer('k');
    assert.ok(miss instanceof Promise, 'a miss loads');
    const loaded = await miss;
    assert.equal(Buffer.from(loaded.value).toString(), 'v:k');
    const hit = g.getForPeer('k');
    assert.ok(!(hit instanceof Promise), 'a hit is answered at once');
    assert.equal(Buffer.from((hit as { value: Uint8Array }).value).toString(), 'v:k');
    assert.deepEqual(calls, ['k']);
    await assert.rejects(Promise.resolve(g.getForPeer('gone')), { code: 'NOT_FOUND' });
    const cachedNotFound = g.getForPeer('gone');
    assert.ok(cachedNotFound instanceof Promise, 'a cached not-found still rejects');
    await assert.rejects(cachedNotFound, { code: 'NOT_FOUND' });
    const bad = g.getForPeer('');
    assert.ok(bad instanceof Promise);
    await assert.rejects(bad, { code: 'INVALID_ARGUMENT' });
    assert.deepEqual(calls, ['k', 'gone']);
    const s = g.stats;
    assert.equal(s.serverRequests, 4);
    assert.equal(s.cacheHits, 2);
  });
});

/** A peer client whose answers the test gives, one deferred per call. */
function scriptedOwner(url = 'http://owner') {
  const gets: { key: string; answer: ReturnType<typeof deferred<PeerValue>> }[] = [];
  const writes: string[] = [];
  const client: PeerClient = {
    url,
    get(_group, key) {
      const answer = deferred<PeerValue>();
      gets.push({ key, answer });
      return answer.promise;
    },
    async set(_group, key) {
      writes.push(`set ${key}`);
    },
    async remove(_group, key) {
      writes.push(`remove ${key}`);
    },
  };
  return { client, gets, writes };
}

function peerValue(text: string): PeerValue {
  return { value: new TextEncoder().encode(text), expireAt: 0, minuteQps: 0 };
}

/** A group on a node that owns no key: every key's owner is `owner`. */
function nonOwner(owner: PeerClient, options: Partial<GroupOptions> = {}) {
  const registry = new GroupRegistry();
  registry.setPeerPicker({ pickPeer: () => owner, otherPeers: () => [owner] });
  const loads: string[] = [];
  const group = registry.newGroup('n', {
    cacheBytes: 1 << 20,
    hotCacheChance: 1,
    load: (key) => {
      loads.push(key);
      return `local:${key}`;
    },
    ...options,
  });
  return { group, loads };
}

describe('writes and loads in flight', () => {
  /** An owner whose loader answers when the test says, numbering its loads. */
  function owning(options: Partial<GroupOptions> = {}) {
    const pending: ReturnType<typeof deferred<LoadResult>>[] = [];
    const group = new GroupRegistry().newGroup('o', {
      cacheBytes: 1 << 20,
      load: () => {
        const d = deferred<LoadResult>();
        pending.push(d);
        return d.promise;
      },
      ...options,
    });
    return { group, pending };
  }

  test('a set during a load survives the load’s end; the load’s callers get the old value', async () => {
    const { group, pending } = owning();
    const reading = group.get('k');
    await group.set('k', 'new');
    pending[0]!.resolve('old');
    assert.equal((await reading).toString(), 'old', 'the read began before the write');
    assert.equal((await group.get('k')).toString(), 'new');
    assert.equal(pending.length, 1);
  });

  test('a remove during a load: the load is not stored, and the next get loads afresh', async () => {
    const { group, pending } = owning();
    const reading = group.get('k');
    await group.remove('k');
    const after = group.get('k');
    assert.equal(pending.length, 2, 'a get after the remove does not join the older load');
    pending[0]!.resolve('before-remove');
    assert.equal((await reading).toString(), 'before-remove');
    pending[1]!.resolve('after-remove');
    assert.equal((await after).toString(), 'after-remove');
    assert.equal(group.peek('k')?.toString(), 'after-remove');
  });

  test('setFromPeer and removeFromPeer supersede a peer-served load', async () => {
    const { group, pending } = owning();
    const served = Promise.resolve(group.getForPeer('k'));
    group.setFromPeer('k', new TextEncoder().encode('from-peer'), 0);
    pending[0]!.resolve('old');
    assert.equal(new TextDecoder().decode((await served).value), 'old');
    assert.equal(group.peek('k')?.toString(), 'from-peer');

    const served2 = Promise.resolve(group.getForPeer('j'));
    group.removeFromPeer('j');
    pending[1]!.resolve('old-j');
    await served2;
    assert.equal(group.peek('j'), undefined, 'the removed key stays removed');
  });

  test('a not-found from a superseded load is not cached', async () => {
    const { group, pending } = owning({ notFoundTtlMs: 60_000 });
    const reading = group.get('k');
    await group.set('k', 'new');
    pending[0]!.resolve(null);
    await assert.rejects(reading, { code: 'NOT_FOUND' });
    assert.equal((await group.get('k')).toString(), 'new');
  });

  test('an owner’s answer older than a remove that reached this node is not kept in hot', async () => {
    const owner = scriptedOwner();
    const { group } = nonOwner(owner.client);
    const reading = group.get('k');
    group.removeFromPeer('k');
    owner.gets[0]!.answer.resolve(peerValue('old'));
    assert.equal((await reading).toString(), 'old');
    assert.equal(group.cacheStats('hot').items, 0);
    assert.equal(group.peek('k'), undefined);
  });

  test('a non-owner that wrote does not let a get after the ack join an older owner request', async () => {
    const owner = scriptedOwner();
    const { group } = nonOwner(owner.client);
    const before = group.get('k');
    await group.set('k', 'new');
    const after = group.get('k');
    assert.equal(owner.gets.length, 2, 'the get after the ack asks the owner again');
    owner.gets[0]!.answer.resolve(peerValue('old'));
    owner.gets[1]!.answer.resolve(peerValue('new'));
    assert.equal((await before).toString(), 'old');
    assert.equal((await after).toString(), 'new');
    assert.equal(group.peek('k')?.toString(), 'new');
    assert.deepEqual(owner.writes, ['set k']);
  });

  test('a non-owner drops its copy on set instead of keeping the value', async () => {
    const owner = scriptedOwner();
    const { group } = nonOwner(owner.client);
    const first = group.get('k');
    owner.gets[0]!.answer.resolve(peerValue('v1'));
    await first;
    assert.equal(group.peek('k')?.toString(), 'v1');
    await group.set('k', 'v2');
    assert.equal(group.peek('k'), undefined);
  });
});

describe('when the owner fails', () => {
  test('the owner’s loader error is the answer: no local load', async () => {
    const owner = scriptedOwner();
    const { group, loads } = nonOwner(owner.client);
    const reading = group.get('k');
    owner.gets[0]!.answer.reject(new InternalError('loader broke', { remote: true }));
    await assert.rejects(reading, { code: 'INTERNAL', message: 'loader broke' });
    assert.deepEqual(loads, []);
    assert.equal(group.stats.peerErrors, 0);
  });

  test('a value over a limit on the way back from the owner is INTERNAL, not the caller’s TOO_LARGE', async () => {
    const owner = scriptedOwner();
    const { group, loads } = nonOwner(owner.client);
    const reading = group.get('k');
    owner.gets[0]!.answer.reject(new TooLargeError('value of 99 bytes is over the limit of 10'));
    await assert.rejects(reading, {
      code: 'INTERNAL',
      message: 'get n/k from http://owner: value of 99 bytes is over the limit of 10',
    });
    assert.deepEqual(loads, []);
  });

  test('a heavy hitter fetched from its owner is kept in hot whatever the draw; 0 keeps nothing', async () => {
    const owner = scriptedOwner();
    const fetch = async (group: ReturnType<typeof nonOwner>['group'], key: string) => {
      const reading = group.get(key);
      owner.gets.at(-1)!.answer.resolve(peerValue(`owner:${key}`));
      await reading;
    };
    // The draw always misses (0.5 is never below 0.01): only the sketch can keep a value.
    const { group } = nonOwner(owner.client, {
      hotCacheChance: 0.01,
      random: () => 0.5,
      hotKeyCapacity: 4,
      hotKeySampleEvery: 1,
    });
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await fetch(group, key);
    assert.equal(group.cacheStats('hot').items, 0, 'keys asked once each are not heavy');
    for (let i = 0; i < 6; i++) await fetch(group, 'popular');
    assert.equal(group.peek('popular')?.toString(), 'owner:popular', 'kept once heavy');
    assert.equal(group.peek('g'), undefined);

    const off = nonOwner(owner.client, {
      hotCacheChance: 0,
      hotKeyCapacity: 4,
      hotKeySampleEvery: 1,
    });
    for (let i = 0; i < 6; i++) await fetch(off.group, 'popular');
    assert.equal(off.group.cacheStats('hot').items, 0, 'hotCacheChance 0: never kept');
  });

  test('an unreachable owner: a local load, kept in hot for fallbackTtlMs only', async () => {
    let now = 1_000_000;
    const owner = scriptedOwner();
    const { group, loads } = nonOwner(owner.client, { fallbackTtlMs: 500, now: () => now });
    const reading = group.get('k');
    owner.gets[0]!.answer.reject(new UnavailableError('connection refused'));
    assert.equal((await reading).toString(), 'local:k');
    assert.deepEqual(loads, ['k']);
    assert.equal(group.stats.peerErrors, 1);
    assert.equal(group.stats.loadsDeduped, 1, 'the ask and the local load are one load');
    assert.equal(group.cacheStats('main').items, 0, 'never in main');
    assert.equal(group.cacheStats('hot').items, 1);
    now += 499;
    assert.equal((await group.get('k')).toString(), 'local:k', 'within the bound: the copy');
    assert.equal(owner.gets.length, 1);
    now += 1;
    const again = group.get('k');
    assert.equal(owner.gets.length, 2, 'past the bound: the owner is asked again');
    owner.gets[1]!.answer.resolve(peerValue('owner'));
    assert.equal((await again).toString(), 'owner');
  });

  test('an unreachable owner is logged once per interval, with a count of the failures held back', async () => {
    let now = 1_000_000;
    const warnings: Record<string, unknown>[] = [];
    const nothing = () => {};
    const logger = {
      debug: nothing,
      info: nothing,
      error: nothing,
      warn: (fields: Record<string, unknown>) => warnings.push(fields),
    };
    const owner = scriptedOwner();
    const { group } = nonOwner(owner.client, { now: () => now, logger });
    for (let i = 0; i < 5; i++) {
      const reading = group.get(`k${i}`);
      owner.gets[i]!.answer.reject(new UnavailableError('connection refused'));
      await reading;
    }
    assert.equal(group.stats.peerErrors, 5);
    assert.equal(warnings.length, 1, 'a dead owner does not log every get of its keys');
    now += 10_000;
    const reading = group.get('k5');
    owner.gets[5]!.answer.reject(new UnavailableError('connection refused'));
    await reading;
    assert.equal(warnings.length, 2);
    assert.equal(warnings[1]?.alsoFailed, 4, 'the next line counts what was held back');
  });

  test('fallbackTtlMs is capped by the group’s ttl, and 0 keeps no copy', async () => {
    let now = 1_000_000;
    const owner = scriptedOwner();
    const capped = nonOwner(owner.client, { ttlMs: 100, now: () => now });
    const reading = capped.group.get('k');
    owner.gets[0]!.answer.reject(new UnavailableError('down'));
    await reading;
    now += 100;
    assert.equal(capped.group.peek('k'), undefined, 'gone at the group’s ttl');

    const none = nonOwner(owner.client, { fallbackTtlMs: 0 });
    const r2 = none.group.get('j');
    owner.gets[1]!.answer.reject(new UnavailableError('down'));
    assert.equal((await r2).toString(), 'local:j');
    assert.equal(none.group.cacheStats('hot').items, 0);
  });

  test('a fallback load superseded by a write is not kept', async () => {
    const owner = scriptedOwner();
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => owner.client, otherPeers: () => [owner.client] });
    const local = deferred<LoadResult>();
    const group = registry.newGroup('f', { cacheBytes: 1 << 20, load: () => local.promise });
    const reading = group.get('k');
    owner.gets[0]!.answer.reject(new UnavailableError('down'));
    await turn();
    group.removeFromPeer('k');
    local.resolve('stale');
    assert.equal((await reading).toString(), 'stale');
    assert.equal(group.peek('k'), undefined);
  });
});

describe('the fallback owner', () => {
  test('a peer’s get of a key another node owns is a fallback copy: in hot for fallbackTtlMs, never in main', async () => {
    let now = 1_000_000;
    const owner = scriptedOwner();
    const { group, loads } = nonOwner(owner.client, { fallbackTtlMs: 500, now: () => now });
    const served = await group.getForPeer('k');
    assert.equal(new TextDecoder().decode(served.value), 'local:k');
    assert.equal(served.expireAt, now + 500, 'the asker is told the copy’s bound');
    assert.deepEqual(loads, ['k']);
    assert.equal(owner.gets.length, 0, 'a peer’s request never goes on to the owner');
    assert.equal(group.cacheStats('main').items, 0);
    assert.equal(group.cacheStats('hot').items, 1);
    await group.getForPeer('k');
    assert.deepEqual(loads, ['k'], 'answered from the copy within the bound');
    now += 500;
    assert.equal(group.peek('k'), undefined, 'gone at the bound');
  });

  test('an answer from the fallback owner is kept in hot for fallbackTtlMs at most', async () => {
    let now = 1_000_000;
    const owner = scriptedOwner();
    const fallback = scriptedOwner('http://fallback');
    const registry = new GroupRegistry();
    registry.setPeerPicker({
      pickPeer: () => owner.client,
      pickFallback: () => fallback.client,
      otherPeers: () => [owner.client, fallback.client],
    });
    const { load, calls } = counting();
    const group = registry.newGroup('f', {
      cacheBytes: 1 << 20,
      hotCacheChance: 1,
      fallbackTtlMs: 300,
      now: () => now,
      load,
    });
    const reading = group.get('k');
    owner.gets[0]!.answer.reject(new UnavailableError('connection refused'));
    await turn();
    assert.equal(fallback.gets.length, 1, 'the fallback owner is asked');
    fallback.gets[0]!.answer.resolve({ ...peerValue('from fallback'), expireAt: now + 60_000 });
    assert.equal((await reading).toString(), 'from fallback');
    assert.deepEqual(calls, [], 'nothing loaded here');
    assert.equal(group.stats.peerErrors, 1);
    assert.equal(group.stats.peerLoads, 1);
    assert.equal(group.stats.loadsDeduped, 1);
    now += 299;
    assert.equal(group.peek('k')?.toString(), 'from fallback');
    now += 1;
    assert.equal(group.peek('k'), undefined, 'the copy’s bound, not the answer’s expiry');
  });

  test('a fallback owner that cannot be reached either: a local load, the last resort', async () => {
    const owner = scriptedOwner();
    const fallback = scriptedOwner('http://fallback');
    const registry = new GroupRegistry();
    registry.setPeerPicker({
      pickPeer: () => owner.client,
      pickFallback: () => fallback.client,
      otherPeers: () => [owner.client, fallback.client],
    });
    const { load, calls } = counting();
    const group = registry.newGroup('f', { cacheBytes: 1 << 20, load });
    const reading = group.get('k');
    owner.gets[0]!.answer.reject(new UnavailableError('connection refused'));
    await turn();
    fallback.gets[0]!.answer.reject(new UnavailableError('connection reset'));
    assert.equal((await reading).toString(), 'v:k');
    assert.deepEqual(calls, ['k']);
    assert.equal(group.stats.peerErrors, 2);
    assert.equal(group.stats.loadsDeduped, 1);
    assert.equal(group.cacheStats('main').items, 0);
  });
});

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('writes carry the caller deadline', () => {
  /** A peer client that records the options of every set and remove it is sent. */
  function recordingPeer(url: string) {
    const calls: { op: string; key: string; options: CallOptions | undefined }[] = [];
    const client: PeerClient = {
      url,
      get: () => Promise.reject(new UnavailableError('not asked in these tests')),
      async set(_group, key, _value, _expireAt, options) {
        calls.push({ op: 'set', key, options });
      },
      async remove(_group, key, options) {
        calls.push({ op: 'remove', key, options });
      },
    };
    return { client, calls };
  }

  /** A group whose keys `owner` owns, with `others` as the rest of the ring. */
  function ring() {
    const owner = recordingPeer('http://owner');
    const other = recordingPeer('http://other');
    const registry = new GroupRegistry();
    registry.setPeerPicker({
      pickPeer: () => owner.client,
      otherPeers: () => [owner.client, other.client],
    });
    const group = registry.newGroup('w', { cacheBytes: 1 << 20, load: (key) => key });
    return { group, owner, other };
  }

  test('set passes the deadline and signal to the owner and to the fan-out', async () => {
    const { group, owner, other } = ring();
    const deadline = Date.now() + 60_000;
    const signal = new AbortController().signal;
    await group.set('k', 'v', { deadline, signal });
    assert.deepEqual(
      owner.calls.map((c) => [c.op, c.key, c.options?.deadline, c.options?.signal]),
      [['set', 'k', deadline, signal]],
    );
    assert.deepEqual(
      other.calls.map((c) => [c.op, c.key, c.options?.deadline, c.options?.signal]),
      [['remove', 'k', deadline, signal]],
    );
  });

  test('remove passes the deadline and signal to the owner and to the fan-out', async () => {
    const { group, owner, other } = ring();
    const deadline = Date.now() + 60_000;
    const signal = new AbortController().signal;
    await group.remove('k', { deadline, signal });
    assert.deepEqual(
      owner.calls.map((c) => [c.op, c.key, c.options?.deadline, c.options?.signal]),
      [['remove', 'k', deadline, signal]],
    );
    assert.deepEqual(
      other.calls.map((c) => [c.op, c.key, c.options?.deadline, c.options?.signal]),
      [['remove', 'k', deadline, signal]],
    );
  });

  test('a write without a deadline sends none', async () => {
    const { group, owner, other } = ring();
    await group.set('k', 'v');
    await group.remove('k');
    for (const c of [...owner.calls, ...other.calls]) {
      assert.equal(c.options?.deadline, undefined, `${c.op} got a deadline`);
    }
    assert.equal(owner.calls.length, 2);
    assert.equal(other.calls.length, 2);
  });

  test('on the owner node, set still tells the other peers the deadline', async () => {
    const other = recordingPeer('http://other');
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => undefined, otherPeers: () => [other.client] });
    const group = registry.newGroup('w', { cacheBytes: 1 << 20, load: (key) => key });
    const deadline = Date.now() + 60_000;
    await group.set('k', 'v', { deadline });
    await group.remove('k', { deadline });
    assert.deepEqual(
      other.calls.map((c) => [c.op, c.options?.deadline]),
      [
        ['remove', deadline],
        ['remove', deadline],
      ],
    );
  });
});

describe('hot keys and inspect', () => {
  test('hotKeys counts gets, peeks and peer gets over about the last minute, driven by the clock', async () => {
    let now = 1_000_000;
    const g = new GroupRegistry().newGroup('hot', {
      cacheBytes: 1 << 20,
      load: (key) => `v:${key}`,
      now: () => now,
    });
    for (let i = 0; i < 3; i++) await g.get('a');
    g.peek('b');
    await g.getForPeer('b');
    await g.get('c');
    assert.deepEqual(
      g.hotKeys(2).map((k) => [k.key, k.count]),
      [
        ['a', 3],
        ['b', 2],
      ],
    );
    now += 61_000;
    assert.deepEqual(g.hotKeys(), []);
  });

  test('hotKeyCapacity 0 turns the sketch off; bad values are refused', () => {
    const registry = new GroupRegistry();
    const off = registry.newGroup('off', { cacheBytes: 0, load: () => 'v', hotKeyCapacity: 0 });
    off.peek('a');
    assert.deepEqual(off.hotKeys(), []);
    assert.throws(
      () => registry.newGroup('bad', { cacheBytes: 0, load: () => 'v', hotKeyCapacity: 1.5 }),
      /hotKeyCapacity/,
    );
    assert.throws(
      () => registry.newGroup('bad2', { cacheBytes: 0, load: () => 'v', hotKeySampleEvery: 0 }),
      /hotKeySampleEvery/,
    );
  });

  test('inspect tells what main holds, without counting a get or loading', async () => {
    let now = 5_000;
    const g = new GroupRegistry().newGroup('inspect', {
      cacheBytes: 1 << 20,
      load: (key) => ({ value: `v:${key}`, ttl: 1_000 }),
      now: () => now,
    });
    assert.deepEqual(g.inspect('k'), { main: undefined, hot: undefined });
    await g.get('k');
    const gets = g.stats.gets;
    const held = g.inspect('k');
    assert.equal(held.main?.view?.toString(), 'v:k');
    assert.equal(held.main?.expireAt, 6_000);
    assert.equal(held.hot, undefined);
    assert.equal(g.stats.gets, gets);
    now = 6_000;
    assert.equal(g.inspect('k').main, undefined, 'an expired copy is not held');
  });
});
