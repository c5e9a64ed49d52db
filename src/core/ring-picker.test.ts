// ring-picker.test.ts: RingPicker closes the clients of peers that leave, once their requests
// in flight end, gives a peer that comes back a fresh client, and names a key's fallback owner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, UnavailableError } from '../errors.js';
import { createRing, ringKinds } from '../ring/owner-ring.js';
import { HealthCheckedPeer, type HealthClock } from './peer-health.js';
import type { CallOptions, PeerClient, PeerValue } from './peers.js';
import { RingPicker } from './ring-picker.js';

/** FakeClient answers each get when the test says so, and records whether it was closed. */
class FakeClient implements PeerClient {
  readonly url: string;
  closed = 0;
  readonly waiting: Array<{ resolve: (v: PeerValue) => void; reject: (e: unknown) => void }> = [];
  constructor(url: string) {
    this.url = url;
  }
  get(_group: string, _key: string, _options?: CallOptions): Promise<PeerValue> {
    if (this.closed > 0) return Promise.reject(new Error(`${this.url} is closed`));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
  async set(): Promise<void> {}
  async remove(): Promise<void> {}
  close(): void {
    this.closed++;
  }
}

const SELF = 'http://self:1';

function picker() {
  const made: FakeClient[] = [];
  const ring = new RingPicker({
    self: SELF,
    clientFor: (url) => {
      const c = new FakeClient(url);
      made.push(c);
      return c;
    },
  });
  /** keyOf finds a key owned by `url`. */
  const keyOf = (url: string): string => {
    for (let i = 0; ; i++) if (ring.ownerOf(`k${i}`) === url) return `k${i}`;
  };
  /** made of `url`, newest last. */
  const of = (url: string) => made.filter((c) => c.url === url);
  return { ring, made, keyOf, of };
}

const value = (s: string): PeerValue => ({
  value: new TextEncoder().encode(s),
  expireAt: 0,
  minuteQps: 0,
});

describe('RingPicker and departed peers', () => {
  it('closes the client of a peer that left at once when nothing is in flight', () => {
    const { ring, of } = picker();
    ring.setPeers([SELF, 'http://a:1', 'http://b:1']);
    const { removed } = ring.setPeers([SELF, 'http://a:1']);
    assert.deepEqual(removed, ['http://b:1']);
    assert.equal(of('http://b:1')[0]?.closed, 1);
    assert.equal(of('http://a:1')[0]?.closed, 0);
    assert.equal(ring.leaving, 0);
    assert.deepEqual(
      ring.otherPeers().map((p) => p.url),
      ['http://a:1'],
    );
  });

  it('lets a request in flight to a removed peer complete, then closes its client', async () => {
    const { ring, of, keyOf } = picker();
    ring.setPeers([SELF, 'http://a:1']);
    const owner = ring.pickPeer(keyOf('http://a:1'));
    assert.ok(owner);
    const first = owner.get('g', 'k');
    const second = owner.get('g', 'k2');
    ring.setPeers([SELF]);
    const fake = of('http://a:1')[0] as FakeClient;
    assert.equal(fake.closed, 0, 'closed while requests were in flight');
    assert.equal(ring.leaving, 1);
    assert.equal(ring.pickPeer(keyOf(SELF)), undefined);
    fake.waiting[0]?.resolve(value('one'));
    assert.equal(new TextDecoder().decode((await first).value), 'one');
    assert.equal(fake.closed, 0, 'closed while one request was still in flight');
    fake.waiting[1]?.reject(new Error('boom'));
    await assert.rejects(second, /boom/);
    assert.equal(fake.closed, 1);
    assert.equal(ring.leaving, 0);
  });

  it('gives a peer that comes back after its client closed a fresh client', async () => {
    const { ring, of, keyOf } = picker();
    ring.setPeers([SELF, 'http://a:1']);
    ring.setPeers([SELF]);
    const { added } = ring.setPeers([SELF, 'http://a:1']);
    assert.deepEqual(added, ['http://a:1']);
    const [old, fresh] = of('http://a:1');
    assert.equal(old?.closed, 1);
    assert.equal(fresh?.closed, 0);
    const owner = ring.pickPeer(keyOf('http://a:1'));
    const got = owner?.get('g', 'k');
    fresh?.waiting[0]?.resolve(value('fresh'));
    assert.equal(new TextDecoder().decode((await got)?.value), 'fresh');
  });

  it('keeps the client of a peer that comes back while its requests were in flight', async () => {
    const { ring, of, keyOf } = picker();
    ring.setPeers([SELF, 'http://a:1']);
    const before = ring.pickPeer(keyOf('http://a:1'));
    const pending = before?.get('g', 'k');
    ring.setPeers([SELF]);
    ring.setPeers([SELF, 'http://a:1']);
    assert.equal(of('http://a:1').length, 1, 'a second client was made');
    assert.equal(ring.pickPeer(keyOf('http://a:1')), before);
    assert.equal(ring.leaving, 0);
    const fake = of('http://a:1')[0] as FakeClient;
    fake.waiting[0]?.resolve(value('v'));
    await pending;
    assert.equal(fake.closed, 0, 'the member closed after its request ended');
  });

  it('a request through a stale reference after the close fails; the client stays closed', async () => {
    const { ring, of, keyOf } = picker();
    ring.setPeers([SELF, 'http://a:1']);
    const stale = ring.pickPeer(keyOf('http://a:1'));
    ring.setPeers([SELF]);
    await assert.rejects(stale?.get('g', 'k') ?? Promise.resolve(), /closed/);
    assert.equal(of('http://a:1')[0]?.closed, 1);
  });

  it('after many changes with fresh addresses only the members have open clients', async () => {
    const { ring, made, keyOf } = picker();
    const inFlight: Promise<PeerValue>[] = [];
    for (let i = 0; i < 1000; i++) {
      const url = `http://10.0.${i >> 8}.${i & 255}:1`;
      ring.setPeers([SELF, url]);
      // Every tenth peer is left with a request in flight when it goes.
      if (i % 10 === 0) inFlight.push(ring.pickPeer(keyOf(url))?.get('g', 'k') as never);
    }
    assert.equal(made.filter((c) => c.closed === 0).length, 1 + 100);
    assert.equal(ring.leaving, 100);
    for (const c of made) for (const w of c.waiting) w.resolve(value('v'));
    await Promise.all(inFlight);
    assert.equal(made.filter((c) => c.closed === 0).length, 1);
    assert.equal(ring.leaving, 0);
    assert.ok(made.every((c) => c.closed <= 1));
  });

  it('a clientFor that throws leaves the membership as it was and closes what it made', () => {
    const made: FakeClient[] = [];
    const ring = new RingPicker({
      self: SELF,
      clientFor: (url) => {
        if (url.includes('bad')) throw new TypeError('bad URL');
        const c = new FakeClient(url);
        made.push(c);
        return c;
      },
    });
    ring.setPeers([SELF, 'http://a:1']);
    assert.throws(() => ring.setPeers([SELF, 'http://b:1', 'http://bad:1']), TypeError);
    assert.deepEqual(ring.members(), [SELF, 'http://a:1'].sort());
    assert.deepEqual(
      made.map((c) => [c.url, c.closed]),
      [
        ['http://a:1', 0],
        ['http://b:1', 1],
      ],
    );
  });
});

describe('RingPicker.pickFallback', () => {
  const peers = ['http://a:1', 'http://b:1', 'http://c:1'];
  /** A clock whose timers never fire: a peer marked unhealthy stays so. */
  const clock: HealthClock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };

  function withHealth(self: string, member = true) {
    const checked = new Map<string, HealthCheckedPeer>();
    const inner = new Map<string, FakeClient>();
    const ring = new RingPicker({
      self,
      member,
      clientFor: (url) => {
        const fake = new FakeClient(url);
        const peer = new HealthCheckedPeer(fake, { failureThreshold: 1, clock });
        inner.set(url, fake);
        checked.set(url, peer);
        return peer;
      },
    });
    ring.setPeers(peers);
    /** markDown makes the health check of `url` see it unreachable once: it is then unhealthy. */
    const markDown = async (url: string) => {
      const call = checked
        .get(url)!
        .get('g', 'k')
        .catch(() => {});
      inner.get(url)!.waiting.shift()!.reject(new UnavailableError('connection refused'));
      await call;
      assert.equal(checked.get(url)!.healthy, false);
    };
    return { ring, markDown };
  }

  const keysOf = (ring: RingPicker, owner: string) =>
    Array.from({ length: 400 }, (_, i) => `key-${i}`).filter((k) => ring.ownerOf(k) === owner);

  it('names the next healthy member after the owner, the same on every node', async () => {
    const nodes = await Promise.all(
      peers.slice(0, 2).map(async (self) => {
        const n = withHealth(self);
        await n.markDown('http://c:1');
        return n;
      }),
    );
    const gateway = withHealth('http://gw:1', false);
    await gateway.markDown('http://c:1');
    const keys = keysOf(nodes[0]!.ring, 'http://c:1');
    assert.ok(keys.length > 20);
    for (const key of keys) {
      const named = nodes[0]!.ring.fallbackOf(key);
      assert.ok(named === 'http://a:1' || named === 'http://b:1', `${key}: ${named}`);
      assert.equal(nodes[1]!.ring.fallbackOf(key), named);
      assert.equal(gateway.ring.fallbackOf(key), named, 'a client-only node names it too');
      const picked = nodes[0]!.ring.pickFallback(key);
      if (named === 'http://a:1') assert.equal(picked, 'self', 'self as fallback owner');
      else assert.equal(picked, nodes[0]!.ring.pickPeer(keysOf(nodes[0]!.ring, named)[0]!));
    }
    const both = new Set(keys.map((k) => nodes[0]!.ring.fallbackOf(k)));
    assert.equal(both.size, 2, 'the keys of the owner spread over both others');
  });

  it('passes over unhealthy members; none healthy but the owner: none', async () => {
    const { ring, markDown } = withHealth('http://gw:1', false);
    const key = keysOf(ring, 'http://c:1')[0]!;
    const first = ring.fallbackOf(key)!;
    await markDown(first);
    const second = ring.fallbackOf(key);
    assert.ok(second !== undefined && second !== first && second !== 'http://c:1');
    await markDown(second);
    assert.equal(ring.fallbackOf(key), undefined, 'a client-only node never names itself');
    const member = withHealth('http://a:1');
    const ownedByC = keysOf(member.ring, 'http://c:1')[0]!;
    await member.markDown('http://b:1');
    assert.equal(member.ring.pickFallback(ownedByC), 'self', 'self is always healthy');
  });
});

describe('RingPicker ring kinds', () => {
  const members = ['http://a:1', 'http://b:1', 'http://c:1', 'http://d:1'];
  for (const kind of ringKinds) {
    it(`${kind}: owners are the ${kind} ring's; the fallback owner is the one a removal would give`, () => {
      const picker = new RingPicker({
        self: 'http://a:1',
        ring: kind,
        clientFor: (url) => new FakeClient(url),
      });
      picker.setPeers(members);
      assert.equal(picker.ring, kind);
      const ring = createRing({ kind });
      ring.set(members);
      assert.deepEqual(picker.shares(), ring.shares());
      for (let i = 0; i < 300; i++) {
        const key = `key-${i}`;
        const owner = picker.ownerOf(key);
        assert.equal(owner, ring.get(key));
        const without = createRing({ kind });
        without.set(members.filter((m) => m !== owner));
        assert.equal(picker.fallbackOf(key), without.get(key), key);
      }
    });
  }

  it('an unknown ring kind is an InvalidArgumentError', () => {
    assert.throws(
      () =>
        new RingPicker({
          self: SELF,
          ring: 'maglev' as 'golang',
          clientFor: (url) => new FakeClient(url),
        }),
      InvalidArgumentError,
    );
  });
});
