// shares.test.ts: ring shares sum to one and match where the ring sends keys.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ring } from './ring.js';
import { ringShares } from './shares.js';

describe('ringShares', () => {
  const members = ['http://10.0.0.1:8001', 'http://10.0.0.2:8001', 'http://10.0.0.3:8001'];

  it('gives every member a share, and the shares sum to 1', () => {
    const shares = ringShares(members);
    assert.deepEqual(Object.keys(shares).sort(), members);
    const sum = Object.values(shares).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
    for (const s of Object.values(shares)) assert.ok(s > 0 && s < 1);
  });

  it('matches the fraction of keys the ring sends to each member', () => {
    const ring = new Ring();
    ring.set(members);
    const shares = ringShares(members);
    const counts = new Map<string, number>();
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const owner = ring.get(`key-${i}`) as string;
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    for (const m of members) {
      const seen = (counts.get(m) ?? 0) / n;
      assert.ok(Math.abs(seen - (shares[m] as number)) < 0.01, `${m}: ${seen} vs ${shares[m]}`);
    }
  });

  it('gives a lone member everything and no members nothing', () => {
    assert.deepEqual(ringShares(['http://a:1']), { 'http://a:1': 1 });
    assert.deepEqual(ringShares([]), {});
  });

  it('gives a collided point to the member that sorts first', () => {
    // Every point of both members collides: the one sorting first owns the whole ring.
    const shares = ringShares(['b', 'a'], { replicas: 3, hash: () => 7 });
    assert.deepEqual(shares, { a: 1, b: 0 });
  });
});
