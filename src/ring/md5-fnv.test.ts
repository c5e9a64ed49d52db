// md5-fnv.test.ts: the mailgun v2 and groupcache-go v3 ring picks the owners their Go code
// picks (the vectors of docs/protocol.md), hashing with FNV-1 64 compared as signed 64-bit.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { type Fnv64, fnv1_64, hostPortOf, Md5FnvRing } from './md5-fnv.js';

const peers = [1, 2, 3].map((i) => `http://10.0.0.${i}:8080`);

/** int64 reads a hash as Go's `int64(h)`. */
const int64 = (h: Fnv64): bigint => BigInt.asIntN(64, (BigInt(h.hi) << 32n) | BigInt(h.lo));

/** referenceFnv1 is FNV-1 64 in BigInt, byte by byte: an independent check of the halves. */
function referenceFnv1(s: string): bigint {
  let h = 14695981039346656037n;
  for (const byte of Buffer.from(s, 'utf8'))
    h = ((h * 1099511628211n) & (2n ** 64n - 1n)) ^ BigInt(byte);
  return BigInt.asIntN(64, h);
}

function ringOf(list: string[], peerKey: 'url' | 'host:port', replicas?: number): Md5FnvRing {
  const ring = new Md5FnvRing({ peerKey, replicas });
  ring.set(list);
  return ring;
}

describe('fnv1_64', () => {
  test('debug values: the empty string, foo, and a point of each lineage', () => {
    assert.equal(int64(fnv1_64('')), -3750763034362895579n);
    assert.equal(int64(fnv1_64('')), BigInt.asIntN(64, 0xcbf29ce484222325n));
    assert.equal(int64(fnv1_64('foo')), BigInt.asIntN(64, 0xd8cbc7186ba13533n));
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    assert.equal(md5('010.0.0.1:8080'), '339248cf664959ff121d3f270c4167ea');
    assert.equal(int64(fnv1_64(md5('010.0.0.1:8080'))), 5946141185123236519n);
    assert.equal(md5('0http://10.0.0.1:8080'), '11a206fb3c4ccca6df16d7cd0df87d41');
    assert.equal(int64(fnv1_64(md5('0http://10.0.0.1:8080'))), -3798143233063932755n);
  });

  test('agrees with a BigInt FNV-1 64 over UTF-8 bytes', () => {
    for (const s of ['a', 'user:42', 'ключ', '日本語 😀', 'x'.repeat(300), 'mixed é and ascii']) {
      assert.equal(int64(fnv1_64(s)), referenceFnv1(s), s);
    }
  });
});

describe('hostPortOf', () => {
  test('the authority of a URL as written, or the string itself', () => {
    assert.equal(hostPortOf('http://10.0.0.1:8080'), '10.0.0.1:8080');
    assert.equal(hostPortOf('https://cache-1.svc:443/base/'), 'cache-1.svc:443');
    assert.equal(hostPortOf('a.svc.local'), 'a.svc.local');
  });
});

describe('Md5FnvRing', () => {
  // Both lineages' owners for the same keys, 3 peers, 50 replicas.
  const vectors: [string, number, number][] = [
    ['', 1, 2],
    ['foo', 1, 2],
    ['bar', 1, 2],
    ['12345', 3, 3],
    ['user:42', 3, 1],
    ['hello world', 3, 1],
    ['Tom', 1, 2],
    ['Jack', 1, 3],
    ['Sam', 1, 2],
    ['Peter', 3, 3],
    ['ключ', 1, 2],
    ...Array.from({ length: 10 }, (_, i): [string, number, number] => [`k${i}`, 3, 1]),
    ...Array.from({ length: 10 }, (_, i): [string, number, number] => [`k${i + 10}`, 1, 3]),
  ];

  test('groupcache-go v3 vectors (peer key host:port)', () => {
    const ring = ringOf(peers, 'host:port');
    assert.equal(ring.kind, 'groupcache-go');
    for (const [key, v3] of vectors)
      assert.equal(ring.get(key), peers[v3 - 1], JSON.stringify(key));
  });

  test('mailgun v2 vectors (peer key the base URL)', () => {
    const ring = ringOf(peers, 'url');
    assert.equal(ring.kind, 'mailgun');
    for (const [key, , v2] of vectors)
      assert.equal(ring.get(key), peers[v2 - 1], JSON.stringify(key));
  });

  test('their own ring test: 512 replicas, peers 6, 4, 2, then 8', () => {
    const ring = ringOf(['6', '4', '2'], 'url', 512);
    assert.equal(ring.get('12,000'), '4');
    assert.equal(ring.get('11'), '6');
    assert.equal(ring.get('500,000'), '4');
    assert.equal(ring.get('1,000,000'), '2');
    ring.set(['6', '4', '2', '8']);
    assert.equal(ring.get('11'), '8');
    assert.equal(ring.get('1,000,000'), '8');
  });

  test('v3 TestPickPeer: 512 replicas, a/b/c.svc.local', () => {
    const ring = ringOf(['a.svc.local', 'b.svc.local', 'c.svc.local'], 'host:port', 512);
    assert.equal(ring.get('Bob'), 'a.svc.local');
    assert.equal(ring.get('Johnny'), 'b.svc.local');
    assert.equal(ring.get('Rick'), 'c.svc.local');
  });

  test('the comparison is signed: the empty key, a negative int64, takes the first point above it in signed order', () => {
    // The empty key hashes to a negative int64, and must land on the first point at or
    // above it in signed order (unsigned order would put it past every positive point).
    const ring = ringOf(peers, 'host:port');
    const empty = int64(fnv1_64(''));
    assert.ok(empty < 0n);
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    let best: { point: bigint; peer: string } | undefined;
    let lowest: { point: bigint; peer: string } | undefined;
    for (const peer of peers) {
      for (let i = 0; i < 50; i++) {
        const point = int64(fnv1_64(md5(String(i) + hostPortOf(peer))));
        if (point >= empty && (best === undefined || point < best.point)) best = { point, peer };
        if (lowest === undefined || point < lowest.point) lowest = { point, peer };
      }
    }
    assert.equal(ring.get(''), (best ?? lowest)?.peer);
  });

  test('empty ring, order independence, next and shares', () => {
    const ring = new Md5FnvRing();
    assert.equal(ring.get('foo'), undefined);
    assert.equal(
      ring.next('foo', () => true),
      undefined,
    );
    assert.deepEqual(ring.shares(), new Map());
    ring.set([peers[2]!, peers[0]!, peers[1]!, peers[0]!]);
    assert.deepEqual(ring.members(), peers);
    const other = ringOf(peers, 'url');
    for (let i = 0; i < 500; i++) assert.equal(ring.get(`k${i}`), other.get(`k${i}`));
    for (let i = 0; i < 200; i++) {
      const key = `n${i}`;
      const owner = ring.get(key)!;
      const without = ringOf(
        peers.filter((p) => p !== owner),
        'url',
      );
      assert.equal(
        ring.next(key, () => true),
        without.get(key),
        'next is the owner were the owner gone',
      );
    }
    const shares = ring.shares();
    assert.deepEqual([...shares.keys()], peers);
    const sum = [...shares.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, `shares sum to 1, got ${sum}`);
    const single = ringOf([peers[0]!], 'url').shares();
    assert.deepEqual([...single.keys()], [peers[0]]);
    assert.ok(Math.abs(single.get(peers[0]!)! - 1) < 1e-9, 'a single member owns the whole space');
  });

  test('bad options and peers throw InvalidArgumentError', () => {
    assert.throws(() => new Md5FnvRing({ replicas: 0 }), InvalidArgumentError);
    assert.throws(() => new Md5FnvRing({ peerKey: 'host' as 'url' }), InvalidArgumentError);
    assert.throws(() => new Md5FnvRing(null as unknown as undefined), InvalidArgumentError);
    const ring = ringOf(peers, 'url');
    assert.throws(() => ring.set([peers[0]!, '']), InvalidArgumentError);
    assert.throws(() => ring.set('http://x:1' as unknown as string[]), InvalidArgumentError);
    assert.deepEqual(ring.members(), peers);
  });
});
