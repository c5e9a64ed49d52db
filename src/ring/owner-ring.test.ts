// owner-ring.test.ts: createRing builds each ring kind by name, refuses options that do not
// apply to a kind, and every kind reports shares that sum to one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { createRing, isRingKind, ringKinds } from './owner-ring.js';
import { crc32 } from './ring.js';

const peers = [1, 2, 3, 4].map((i) => `http://10.0.0.${i}:8080`);

describe('createRing', () => {
  test('builds each kind by name; golang by default', () => {
    assert.equal(createRing().kind, 'golang');
    for (const kind of ringKinds) {
      const ring = createRing({ kind });
      assert.equal(ring.kind, kind);
      ring.set(peers);
      assert.deepEqual(ring.members(), peers);
      const shares = ring.shares();
      const sum = [...shares.values()].reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `${kind}: shares sum to ${sum}`);
      assert.ok(peers.includes(ring.get('some key')!));
    }
  });

  test('the golang ring’s shares are its arcs: they match where keys go', () => {
    const ring = createRing({ kind: 'golang' });
    ring.set(peers);
    const counts = new Map<string, number>();
    const n = 40_000;
    for (let i = 0; i < n; i++) {
      const o = ring.get(String((i * 2654435761) % 2 ** 32))!;
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    for (const [peer, share] of ring.shares()) {
      const seen = (counts.get(peer) ?? 0) / n;
      assert.ok(Math.abs(seen - share) < 0.02, `${peer}: keys ${seen}, share ${share}`);
    }
  });

  test('options that do not apply to a kind, and unknown kinds, are InvalidArgumentError', () => {
    assert.throws(() => createRing({ kind: 'chord' as 'golang' }), InvalidArgumentError);
    assert.throws(() => createRing({ kind: 'balanced', replicas: 50 }), InvalidArgumentError);
    assert.throws(() => createRing({ kind: 'mailgun', hash: crc32 }), InvalidArgumentError);
    assert.throws(() => createRing({ kind: 'groupcache-go', replicas: 0 }), InvalidArgumentError);
    assert.equal(createRing({ kind: 'golang', hash: crc32, replicas: 10 }).kind, 'golang');
    assert.equal(isRingKind('balanced'), true);
    assert.equal(isRingKind('Balanced'), false);
    assert.equal(isRingKind(undefined), false);
  });
});
