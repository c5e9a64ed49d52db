// balanced.test.ts: the balanced ring is deterministic, moves keys only to a member that joins
// (and only from one that leaves), names as next owner the one a removal would, and reports
// shares that match where keys actually go.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { BalancedRing, hash32, MAX_MEMBERS } from './balanced.js';

const keys = Array.from({ length: 20_000 }, (_, i) =>
  i % 2 === 0 ? `user:${i}` : `clé-${i}-日本`,
);

function ringOf(peers: string[]): BalancedRing {
  const ring = new BalancedRing();
  ring.set(peers);
  return ring;
}

const loopback = (n: number, base = 7000) =>
  Array.from({ length: n }, (_, i) => `http://127.0.0.1:${base + i}`);
const owners = (ring: BalancedRing) => keys.map((k) => ring.get(k));

/** referenceHash32 is FNV-1a 32 over UTF-8 bytes, then MurmurHash3's fmix32, written out plainly. */
function referenceHash32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8'))
    h = Number((BigInt((h ^ byte) >>> 0) * 0x01000193n) % 2n ** 32n);
  const mul = (x: number, c: number) => Number((BigInt(x >>> 0) * BigInt(c)) % 2n ** 32n);
  h = (h ^ (h >>> 16)) >>> 0;
  h = mul(h, 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  h = mul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

describe('hash32', () => {
  test('FNV-1a 32 of the UTF-8 bytes, finalized with fmix32', () => {
    for (const s of [
      '',
      'a',
      'user:42',
      'http://127.0.0.1:7000',
      'é',
      'ключ',
      'mixed é ascii',
      '😀',
    ]) {
      assert.equal(hash32(s), referenceHash32(s), s);
    }
  });
});

describe('BalancedRing', () => {
  test('empty: no owner, no next, no shares', () => {
    const ring = new BalancedRing();
    assert.equal(ring.get('k'), undefined);
    assert.equal(
      ring.next('k', () => true),
      undefined,
    );
    assert.deepEqual(ring.shares(), new Map());
    assert.deepEqual(ring.members(), []);
  });

  test('a single member owns every key and has no next', () => {
    const ring = ringOf(['http://a:1']);
    assert.ok(owners(ring).every((o) => o === 'http://a:1'));
    assert.equal(
      ring.next('k', () => true),
      undefined,
    );
  });

  test('the owners depend only on the members, not their order or duplicates', () => {
    const peers = loopback(7);
    const want = owners(ringOf(peers));
    assert.deepEqual(owners(ringOf(peers.slice().reverse())), want);
    const ring = ringOf(['http://x:1']);
    ring.set([...peers, peers[3]!]);
    assert.deepEqual(owners(ring), want);
    assert.deepEqual(ring.members(), peers.slice().sort());
  });

  test('a member that joins takes keys only to itself; one that leaves gives away only its own', () => {
    for (const n of [3, 10, 25]) {
      const peers = loopback(n, 9000 + n * 100);
      const before = owners(ringOf(peers));
      const joined = 'http://127.0.0.1:18000';
      const after = owners(ringOf([...peers, joined]));
      let moved = 0;
      for (let i = 0; i < keys.length; i++) {
        if (after[i] === before[i]) continue;
        moved++;
        assert.equal(after[i], joined, `key ${keys[i]} moved between old members`);
      }
      assert.ok(moved > 0, 'the new member took some keys');
      const left = peers[1]!;
      const without = owners(ringOf(peers.filter((p) => p !== left)));
      for (let i = 0; i < keys.length; i++) {
        if (before[i] !== left)
          assert.equal(without[i], before[i], `key ${keys[i]} moved needlessly`);
        else assert.notEqual(without[i], left);
      }
    }
  });

  test('next offers the members in the order removals would hand the key on', () => {
    const peers = loopback(6, 7600);
    const ring = ringOf(peers);
    for (const key of keys.slice(0, 300)) {
      const offered: string[] = [];
      assert.equal(
        ring.next(key, (p) => {
          offered.push(p);
          return false;
        }),
        undefined,
      );
      assert.equal(offered.length, peers.length - 1, 'every other member offered once');
      assert.equal(new Set(offered).size, offered.length);
      // Removing the owner, then each one offered in turn, hands the key down the same line.
      let rest = peers.filter((p) => p !== ring.get(key));
      for (const next of offered) {
        assert.equal(ringOf(rest).get(key), next, key);
        rest = rest.filter((p) => p !== next);
      }
      const second = offered[1]!;
      assert.equal(
        ring.next(key, (p) => p === second),
        second,
      );
    }
  });

  test('shares sum to 1 and match the fraction of keys each member owns', () => {
    const peers = [...loopback(5, 7700), 'http://10.1.2.3:8080', 'http://10.200.0.9:9000'];
    const ring = ringOf(peers);
    const shares = ring.shares();
    assert.deepEqual([...shares.keys()], ring.members());
    const sum = [...shares.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, `sum ${sum}`);
    const counts = new Map<string, number>();
    for (const o of owners(ring)) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    for (const [peer, share] of shares) {
      const seen = (counts.get(peer) ?? 0) / keys.length;
      // 20,000 keys: one standard deviation of a 1/7 share is about 0.0025.
      assert.ok(Math.abs(seen - share) < 0.01, `${peer}: keys ${seen}, share ${share}`);
    }
  });

  test('bad peers throw InvalidArgumentError and change nothing', () => {
    const ring = ringOf(['http://a:1']);
    assert.throws(() => ring.set(['http://b:1', '']), InvalidArgumentError);
    assert.throws(() => ring.set([42 as unknown as string]), InvalidArgumentError);
    assert.throws(() => ring.set('http://b:1' as unknown as string[]), InvalidArgumentError);
    assert.throws(
      () => ring.set(Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => `m${i}`)),
      InvalidArgumentError,
    );
    assert.deepEqual(ring.members(), ['http://a:1']);
  });
});
