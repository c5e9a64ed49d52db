// remove-many.test.ts: Group.removeMany with fake peers: who is told what, in which order,
// what a failing owner does, and that it supersedes loads in flight as remove does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError } from '../errors.js';
import type { LoadResult } from './group.js';
import type { CallOptions, PeerClient, PeerPicker } from './peers.js';
import { GroupRegistry } from './registry.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One call a fake peer received. */
interface Call {
  peer: string;
  op: 'remove' | 'removeMany';
  keys: string[];
  options: CallOptions | undefined;
}

/**
 * fakePeer records its calls in `log`; with `batch` it has removeMany, else
 * only remove. `gate`, when set, holds every call until it resolves; `fail`
 * makes every call fail.
 */
function fakePeer(
  url: string,
  log: Call[],
  opts: { batch?: boolean; gate?: Promise<void>; fail?: boolean } = {},
) {
  const answer = async () => {
    await opts.gate;
    if (opts.fail) throw new UnavailableError(`${url} is down`);
  };
  const client: PeerClient = {
    url,
    get: () => Promise.reject(new UnavailableError('not used')),
    set: () => Promise.reject(new UnavailableError('not used')),
    remove(_group, key, options) {
      log.push({ peer: url, op: 'remove', keys: [key], options });
      return answer();
    },
  };
  if (opts.batch) {
    client.removeMany = (_group, keys, options) => {
      log.push({ peer: url, op: 'removeMany', keys: [...keys], options });
      return answer();
    };
  }
  return client;
}

/** A picker over `owners`: key → owner url, or self when absent. */
function picker(peers: PeerClient[], owners: Record<string, string>): PeerPicker {
  return {
    pickPeer: (key) => peers.find((p) => p.url === owners[key]),
    otherPeers: () => peers,
  };
}

function groupWith(p: PeerPicker, load: (key: string) => LoadResult | Promise<LoadResult>) {
  const registry = new GroupRegistry();
  registry.setPeerPicker(p);
  return registry.newGroup('g', { cacheBytes: 1 << 20, hotCacheChance: 1, load });
}

/** Who owns what: `s1` is nobody's, so this node's. */
const owners: Record<string, string> = { a1: 'http://a', a2: 'http://a', b1: 'http://b' };

describe('Group.removeMany', () => {
  test('each owner gets its own keys first, then every peer the keys it does not own', async () => {
    const log: Call[] = [];
    const gate = deferred<void>();
    const a = fakePeer('http://a', log, { batch: true, gate: gate.promise });
    const b = fakePeer('http://b', log, { batch: true, gate: gate.promise });
    const group = groupWith(picker([a, b], owners), (key) => `v:${key}`);
    const deadline = Date.now() + 60_000;
    const removing = group.removeMany(['a1', 'b1', 'a2', 's1', 'a1'], { deadline });
    await new Promise((r) => setImmediate(r));
    // Only the owners have been asked while they have not answered.
    assert.deepEqual(
      log.map((c) => [c.peer, c.op, c.keys]),
      [
        ['http://a', 'removeMany', ['a1', 'a2']],
        ['http://b', 'removeMany', ['b1']],
      ],
    );
    gate.resolve();
    await removing;
    assert.deepEqual(
      log.slice(2).map((c) => [c.peer, c.op, c.keys]),
      [
        ['http://a', 'removeMany', ['s1', 'b1']],
        ['http://b', 'removeMany', ['s1', 'a1', 'a2']],
      ],
    );
    for (const c of log) assert.equal(c.options?.deadline, deadline);
  });

  test('a peer without removeMany gets one remove per key', async () => {
    const log: Call[] = [];
    const a = fakePeer('http://a', log);
    const group = groupWith(picker([a], owners), (key) => `v:${key}`);
    await group.removeMany(['a1', 'a2', 's1']);
    assert.deepEqual(
      log.map((c) => [c.op, c.keys[0]]),
      [
        ['remove', 'a1'],
        ['remove', 'a2'],
        ['remove', 's1'],
      ],
    );
  });

  test('drops this node’s copies, so the next get loads again', async () => {
    const loads: string[] = [];
    const group = groupWith(picker([], {}), (key) => {
      loads.push(key);
      return `v:${key}`;
    });
    await group.get('x');
    await group.get('y');
    await group.removeMany(['x', 'y']);
    assert.equal(group.peek('x'), undefined);
    await group.get('x');
    assert.deepEqual(loads, ['x', 'y', 'x']);
  });

  test('a removeMany during a load: the load is not stored, and the next get loads afresh', async () => {
    const pending: ReturnType<typeof deferred<LoadResult>>[] = [];
    const group = groupWith(picker([], {}), () => {
      const d = deferred<LoadResult>();
      pending.push(d);
      return d.promise;
    });
    const reading = group.get('k');
    await group.removeMany(['k', 'other']);
    const after = group.get('k');
    assert.equal(pending.length, 2, 'a get after the removeMany does not join the older load');
    pending[0]!.resolve('before');
    assert.equal((await reading).toString(), 'before');
    pending[1]!.resolve('after');
    assert.equal((await after).toString(), 'after');
    assert.equal(group.peek('k')?.toString(), 'after');
  });

  test('an owner that cannot be reached fails the call; the other owners’ keys go everywhere', async () => {
    const log: Call[] = [];
    const a = fakePeer('http://a', log, { batch: true, fail: true });
    const b = fakePeer('http://b', log, { batch: true });
    const group = groupWith(picker([a, b], owners), (key) => `v:${key}`);
    await assert.rejects(group.removeMany(['a1', 'b1', 's1']), {
      code: 'UNAVAILABLE',
      message: /http:\/\/a is down/,
    });
    // a's key is not announced as removed; b's and this node's are, to both peers.
    assert.deepEqual(
      log.slice(2).map((c) => [c.peer, c.keys]),
      [
        ['http://a', ['s1', 'b1']],
        ['http://b', ['s1']],
      ],
    );
    assert.equal(group.stats.peerErrors, 1, 'a could not drop its copies either');
  });

  test('a bad key fails the call before anything is sent; no keys is no request', async () => {
    const log: Call[] = [];
    const a = fakePeer('http://a', log, { batch: true });
    const group = groupWith(picker([a], owners), (key) => `v:${key}`);
    await assert.rejects(group.removeMany(['a1', '']), { code: 'INVALID_ARGUMENT' });
    await group.removeMany([]);
    assert.deepEqual(log, []);
  });

  test('a client-only node fails when no node owns a key', async () => {
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => undefined, otherPeers: () => [], member: false });
    const group = registry.newGroup('g', { cacheBytes: 1 << 20 });
    await assert.rejects(group.removeMany(['k']), { code: 'UNAVAILABLE' });
  });
});
