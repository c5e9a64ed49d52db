// get-many.test.ts: Group.getMany with fake peers: one request per owner, per-key outcomes,
// singleflight shared with single gets, and the fallbacks a failed get takes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { settle } from '../../test/support/manual-clock.js';
import {
  InternalError,
  isCacheError,
  NotFoundError,
  TooLargeError,
  UnavailableError,
} from '../errors.js';
import type { GroupOptions } from './group.js';
import { leavingError } from './leave.js';
import { HealthCheckedPeer } from './peer-health.js';
import type { CallOptions, PeerClient, PeerGetManyResult, PeerPicker, PeerValue } from './peers.js';
import { GroupRegistry } from './registry.js';
import type { Telemetry } from './telemetry.js';
import { TrackedClient } from './tracked-client.js';

const text = new TextEncoder();
const value = (s: string): PeerValue => ({ value: text.encode(s), expireAt: 0, minuteQps: 0 });

/** One request a fake peer received. */
interface Request {
  op: 'get' | 'getMany';
  keys: string[];
  options: CallOptions | undefined;
}

/**
 * FakePeer answers each key from `answer` (a value, or the error to fail the key with);
 * with `batch` it has getMany. `gate`, when set, holds every answer until it resolves;
 * `down` fails every request as unreachable.
 */
class FakePeer implements PeerClient {
  readonly url: string;
  readonly requests: Request[] = [];
  gate: Promise<void> | undefined;
  down = false;
  readonly #answer: (key: string) => PeerValue | Error;
  getMany?: PeerClient['getMany'];

  constructor(url: string, answer: (key: string) => PeerValue | Error, batch = true) {
    this.url = url;
    this.#answer = answer;
    if (batch) {
      this.getMany = async (_group, keys, options): Promise<PeerGetManyResult> => {
        this.requests.push({ op: 'getMany', keys: [...keys], options });
        await this.gate;
        if (this.down) throw new UnavailableError(`${url} is down`);
        const out: PeerGetManyResult = new Map();
        for (const key of keys) {
          const a = this.#answer(key);
          out.set(key, a instanceof Error ? (a as never) : a);
        }
        return out;
      };
    }
  }

  async get(_group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    this.requests.push({ op: 'get', keys: [key], options });
    await this.gate;
    if (this.down) throw new UnavailableError(`${this.url} is down`);
    const a = this.#answer(key);
    if (a instanceof Error) throw a;
    return a;
  }

  set(): Promise<void> {
    return Promise.reject(new UnavailableError('not used'));
  }

  remove(): Promise<void> {
    return Promise.reject(new UnavailableError('not used'));
  }
}

/** ownedBy routes each key to the peer whose url's last letter starts it (`a1` → http://a), else self. */
function picker(peers: PeerClient[], extra: Partial<PeerPicker> = {}): PeerPicker {
  return {
    pickPeer: (key) => peers.find((p) => p.url === `http://${key[0]}`),
    otherPeers: () => peers,
    ...extra,
  };
}

function groupWith(p: PeerPicker, options: Partial<GroupOptions> = {}) {
  const registry = new GroupRegistry();
  registry.setPeerPicker(p);
  const loads: string[] = [];
  const group = registry.newGroup('g', {
    cacheBytes: 1 << 20,
    hotCacheChance: 0,
    load: (key) => {
      loads.push(key);
      return `local:${key}`;
    },
    ...options,
  });
  return { group, loads };
}

const str = (v: { toString(): string } | undefined) => v?.toString();
const found = (key: string) => value(`v:${key}`);

describe('Group.getMany', () => {
  test('sends each owner its keys in one request; keys of this node load here', async () => {
    const a = new FakePeer('http://a', found);
    const b = new FakePeer('http://b', found);
    const { group, loads } = groupWith(picker([a, b]));
    const got = await group.getMany(['a1', 'b1', 'a2', 's1', 'a1']);
    assert.deepEqual(
      a.requests.map((r) => [r.op, r.keys]),
      [['getMany', ['a1', 'a2']]],
    );
    assert.deepEqual(
      b.requests.map((r) => [r.op, r.keys]),
      [['getMany', ['b1']]],
    );
    assert.deepEqual(loads, ['s1']);
    assert.deepEqual(
      [...got].map(([k, v]) => [k, str(v)]),
      [
        ['a1', 'v:a1'],
        ['b1', 'v:b1'],
        ['a2', 'v:a2'],
        ['s1', 'local:s1'],
      ],
    );
    const stats = group.stats;
    assert.equal(stats.gets, 4);
    assert.equal(stats.peerLoads, 3);
    assert.equal(stats.localLoads, 1);
  });

  test("one key's failure fails only that key: not found is absent, others are errors", async () => {
    const a = new FakePeer('http://a', (key) =>
      key === 'a-missing'
        ? new NotFoundError('not found', { remote: true })
        : key === 'a-boom'
          ? new InternalError('loader failed', { remote: true })
          : key === 'a-big'
            ? new TooLargeError('value over the limit', { remote: true })
            : found(key),
    );
    const { group, loads } = groupWith(picker([a]), { notFoundTtlMs: 60_000 });
    const got = await group.getMany(['a-ok', 'a-missing', 'a-boom', 'a-big']);
    assert.deepEqual([...got.keys()], ['a-ok']);
    assert.deepEqual(
      [...got.errors].map(([k, e]) => [k, e.code]),
      [
        ['a-boom', 'INTERNAL'],
        ['a-big', 'INTERNAL'],
      ],
    );
    assert.deepEqual(loads, [], 'a peer that answered is not loaded around');
    // The not-found answer is cached, as a get's is.
    await assert.rejects(group.get('a-missing'), (e) => isCacheError(e, 'NOT_FOUND'));
    assert.equal(a.requests.length, 1);
  });

  test('a key already in flight joins that flight; a batch key is joined by single gets', async () => {
    const a = new FakePeer('http://a', found);
    let open!: () => void;
    const gate = { promise: new Promise<void>((r) => (open = r)), resolve: () => open() };
    a.gate = gate.promise;
    const { group } = groupWith(picker([a]));
    const single = group.get('a1');
    const batch = group.getMany(['a1', 'a2']);
    const joiner = group.get('a2');
    gate.resolve();
    const [one, many, two] = await Promise.all([single, batch, joiner]);
    assert.deepEqual(
      a.requests.map((r) => [r.op, r.keys]),
      [
        ['get', ['a1']],
        ['getMany', ['a2']],
      ],
    );
    assert.equal(str(one), 'v:a1');
    assert.equal(str(many.get('a1')), 'v:a1');
    assert.equal(str(two), 'v:a2');
  });

  test('an owner without getMany is sent one get per key, all at once', async () => {
    const a = new FakePeer('http://a', found, false);
    const { group } = groupWith(picker([a]));
    const got = await group.getMany(['a1', 'a2']);
    assert.deepEqual(
      a.requests.map((r) => [r.op, r.keys]),
      [
        ['get', ['a1']],
        ['get', ['a2']],
      ],
    );
    assert.equal(got.size, 2);
  });

  test('through the wrappers a node puts around an owner without getMany, each key is its own get', async () => {
    // a1 is answered at once; a2 never: a2 must not hold a1 back, as in one batch it would.
    const owner: PeerClient = {
      url: 'http://a',
      get: (_group, key) => (key === 'a1' ? Promise.resolve(value('v:a1')) : new Promise(() => {})),
      set: () => Promise.reject(new UnavailableError('not used')),
      remove: () => Promise.reject(new UnavailableError('not used')),
    };
    const wrapped = new TrackedClient(new HealthCheckedPeer(owner), () => {});
    assert.equal(wrapped.getMany, undefined, 'no batch where the owner has none');
    const { group } = groupWith(picker([wrapped]));
    void group.getMany(['a1', 'a2']);
    let joined: string | undefined;
    void group.get('a1').then((v) => {
      joined = v.toString();
    });
    await settle();
    assert.equal(joined, 'v:a1');
  });

  test("an unreachable owner's keys go to their fallback owner, else load here", async () => {
    const a = new FakePeer('http://a', found);
    a.down = true;
    const b = new FakePeer('http://b', (key) => value(`fallback:${key}`));
    const { group, loads } = groupWith(
      picker([a, b], { pickFallback: (key) => (key === 'a1' ? b : 'self') }),
    );
    const got = await group.getMany(['a1', 'a2']);
    assert.equal(str(got.get('a1')), 'fallback:a1');
    assert.equal(str(got.get('a2')), 'local:a2');
    assert.deepEqual(loads, ['a2']);
    assert.deepEqual(
      b.requests.map((r) => [r.op, r.keys]),
      [['get', ['a1']]],
    );
    assert.equal(group.stats.peerErrors, 2);
  });

  test("a key the owner answers 'leaving' is asked of its next owner", async () => {
    const a = new FakePeer('http://a', (key) =>
      key === 'a1' ? leavingError('http://a') : found(key),
    );
    const b = new FakePeer('http://b', (key) => value(`next:${key}`));
    let left = false;
    const p = picker([a, b]);
    const { group } = groupWith({
      ...p,
      pickPeer: (key) => (left && key === 'a1' ? b : p.pickPeer(key)),
    });
    const wrapped = a.getMany;
    a.getMany = async (g, keys, o) => {
      const answer = await (wrapped as NonNullable<PeerClient['getMany']>)(g, keys, o);
      left = true; // as the health wrapper does when it sees a leaving answer
      return answer;
    };
    const got = await group.getMany(['a1', 'a2']);
    assert.equal(str(got.get('a1')), 'next:a1');
    assert.equal(str(got.get('a2')), 'v:a2');
  });

  test("the request carries the caller's deadline and ends once every caller left", async () => {
    const a = new FakePeer('http://a', found);
    let open!: () => void;
    a.gate = new Promise<void>((r) => (open = r));
    const { group } = groupWith(picker([a]));
    const controller = new AbortController();
    const deadline = Date.now() + 60_000;
    const batch = group.getMany(['a1', 'a2'], { signal: controller.signal, deadline });
    const single = group.get('a2');
    await new Promise((r) => setImmediate(r));
    const request = a.requests[0];
    assert.equal(request?.op, 'getMany');
    assert.ok((request?.options?.deadline ?? Infinity) <= deadline);
    const signal = request?.options?.signal as AbortSignal;
    controller.abort();
    const got = await batch;
    assert.deepEqual(
      [...got.errors.values()].map((e) => e.code),
      ['CANCELLED', 'CANCELLED'],
    );
    // a2 is still waited for by the single get: the request goes on, and answers it.
    assert.equal(signal.aborted, false);
    open();
    assert.equal(str(await single), 'v:a2');
  });

  test('traced: one getMany span, one peer span per owner request, its context sent along', async () => {
    const spans: { name: string; kind: string; parent: string | undefined; ended: boolean }[] = [];
    let next = 0;
    const telemetry: Telemetry = {
      traceKeys: false,
      startSpan(name, kind, _attributes, parent) {
        const record = {
          name,
          kind,
          parent: typeof parent === 'string' ? parent : parent?.traceparent,
          ended: false,
        };
        spans.push(record);
        const traceparent = `span-${next++}`;
        return {
          traceparent,
          setAttribute() {},
          end() {
            record.ended = true;
          },
        };
      },
      with: (_span, fn) => fn(),
    };
    const a = new FakePeer('http://a', found);
    const b = new FakePeer('http://b', found);
    const { group } = groupWith(picker([a, b]), { telemetry });
    await group.getMany(['a1', 'a2', 'b1', 's1']);
    assert.deepEqual(
      spans.map((x) => [x.name, x.kind, x.parent, x.ended]),
      [
        ['peercache.getMany', 'internal', undefined, true],
        ['peercache.load', 'internal', 'span-0', true],
        ['peercache.peer.getMany', 'client', 'span-0', true],
        ['peercache.peer.getMany', 'client', 'span-0', true],
      ],
    );
    assert.deepEqual(
      [a.requests[0]?.options?.traceparent, b.requests[0]?.options?.traceparent],
      ['span-2', 'span-3'],
    );
  });

  test("the owner's generation holds for each value of a batch, as for a get's", async () => {
    let generation = 5;
    const a = new FakePeer('http://a', (key) => ({ ...found(key), generation }));
    const { group } = groupWith(picker([a]), { hotCacheChance: 1 });
    const first = await group.getMany(['a1']);
    assert.equal(str(first.get('a1')), 'v:a1');
    assert.equal(group.generation, 5, 'a newer generation from the owner clears this node');
    assert.equal(str(group.inspect('a1').hot?.view ?? undefined), 'v:a1');
    generation = 3;
    const second = await group.getMany(['a2']);
    assert.equal(str(second.get('a2')), 'v:a2', 'an older value is answered');
    assert.equal(group.inspect('a2').hot, undefined, 'but not kept');
    assert.equal(a.requests.at(-1)?.options?.generation, 5, 'the request carries ours');
  });

  test('a popular value from the owner may be kept in hot, as a get keeps it', async () => {
    const a = new FakePeer('http://a', found);
    const { group } = groupWith(picker([a]), { hotCacheChance: 1 });
    await group.getMany(['a1']);
    assert.equal(str(group.inspect('a1').hot?.view ?? undefined), 'v:a1');
    await group.getMany(['a1']);
    assert.equal(a.requests.length, 1);
  });
});
