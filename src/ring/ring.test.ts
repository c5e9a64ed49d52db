// ring.test.ts: the ring picks the same owners as golang/groupcache, is
// deterministic on collisions and moves only the keys a membership change must.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { crc32, type HashFn, Ring } from './ring.js';

const peer1 = 'http://10.0.0.1:8080';
const peer2 = 'http://10.0.0.2:8080';
const peer3 = 'http://10.0.0.3:8080';

/** Many keys of different shapes, for whole-ring comparisons. */
const keys = Array.from({ length: 10_000 }, (_, i) =>
  i % 3 === 0 ? `user:${i}` : i % 3 === 1 ? `clé-${i}-日本-😀` : String((i * 2654435761) % 2 ** 32),
);

function owners(ring: Ring): (string | undefined)[] {
  return keys.map((k) => ring.get(k));
}

function ringOf(peers: string[], options?: ConstructorParameters<typeof Ring>[0]): Ring {
  const ring = new Ring(options);
  ring.add(...peers);
  return ring;
}

/** Bitwise CRC-32 IEEE over UTF-8 bytes: an independent reference for `crc32`. */
function referenceCrc32(s: string): number {
  let c = 0xffffffff;
  for (const byte of Buffer.from(s, 'utf8')) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  test('known values of CRC-32 IEEE', () => {
    assert.equal(crc32(''), 0);
    assert.equal(crc32('hello'), 0x3610a686);
    assert.equal(crc32('123456789'), 0xcbf43926);
    assert.equal(crc32('The quick brown fox jumps over the lazy dog'), 0x414fa339);
  });

  test('hashes the UTF-8 bytes, as Go does', () => {
    for (const s of ['é', '日本語', '😀 emoji', 'clé-42', '0http://10.0.0.1:8080']) {
      assert.equal(crc32(s), referenceCrc32(s), s);
    }
  });
});

describe('Ring', () => {
  test('golang/groupcache test vectors (3 peers, 50 replicas)', () => {
    const ring = ringOf([peer1, peer2, peer3]);
    const want: [string, string][] = [
      ['', peer1],
      ['foo', peer1],
      ['bar', peer2],
      ['12345', peer3],
      ['user:42', peer1],
      ['hello world', peer2],
      ['Tom', peer1],
      ['Jack', peer3],
    ];
    for (const [key, owner] of want) assert.equal(ring.get(key), owner, JSON.stringify(key));
  });

  test('defaults: 50 replicas, empty', () => {
    const ring = new Ring();
    assert.equal(ring.replicas, 50);
    assert.equal(ring.isEmpty(), true);
    assert.deepEqual(ring.members(), []);
  });

  test('an empty ring has no owner', () => {
    const ring = new Ring();
    assert.equal(ring.get('foo'), undefined);
    ring.add(peer1);
    ring.remove(peer1);
    assert.equal(ring.isEmpty(), true);
    assert.equal(ring.get('foo'), undefined);
  });

  test('a single peer owns every key', () => {
    const ring = ringOf([peer2], { replicas: 3 });
    assert.ok(
      owners(ring).every((o) => o === peer2),
      'every key is owned by the only peer',
    );
  });

  test('members are sorted; has; duplicates are ignored', () => {
    const ring = new Ring();
    ring.add(peer3, peer1, peer3);
    ring.add(peer1);
    assert.deepEqual(ring.members(), [peer1, peer3]);
    assert.equal(ring.has(peer1), true);
    assert.equal(ring.has(peer2), false);
    assert.equal(ring.isEmpty(), false);
    ring.members().push('mutated');
    assert.deepEqual(ring.members(), [peer1, peer3]);
    assert.deepEqual(owners(ring), owners(ringOf([peer1, peer3])));
    ring.remove(peer2);
    assert.deepEqual(ring.members(), [peer1, peer3]);
  });

  test('the order of adding does not matter', () => {
    const peers = Array.from({ length: 9 }, (_, i) => `http://10.0.1.${i}:8080`);
    const want = owners(ringOf(peers));
    assert.deepEqual(owners(ringOf(peers.slice().reverse())), want);
    const oneByOne = new Ring();
    for (const p of [4, 0, 8, 2, 6, 1, 7, 3, 5]) oneByOne.add(peers[p]!);
    assert.deepEqual(owners(oneByOne), want);
  });

  test('removing a peer moves only the keys it owned', () => {
    const peers = Array.from({ length: 5 }, (_, i) => `http://10.0.2.${i}:8080`);
    const ring = ringOf(peers);
    const before = owners(ring);
    const gone = peers[2]!;
    ring.remove(gone);
    const after = owners(ring);
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === gone) {
        moved++;
        assert.notEqual(after[i], gone);
      } else {
        assert.equal(after[i], before[i], keys[i]);
      }
    }
    assert.ok(moved > 0, 'the removed peer owned some keys');
    assert.deepEqual(after, owners(ringOf(peers.filter((p) => p !== gone))));
  });

  test('adding a peer takes keys only to itself', () => {
    const peers = Array.from({ length: 5 }, (_, i) => `http://10.0.3.${i}:8080`);
    const ring = ringOf(peers);
    const before = owners(ring);
    const added = 'http://10.0.3.99:8080';
    ring.add(added);
    const after = owners(ring);
    let taken = 0;
    for (let i = 0; i < keys.length; i++) {
      if (after[i] === added) taken++;
      else assert.equal(after[i], before[i], keys[i]);
    }
    assert.ok(taken > 0, 'the new peer took some keys');
  });

  test('set replaces the membership and equals a fresh ring', () => {
    const ring = ringOf([peer1, peer2, peer3]);
    const next = [peer3, 'http://10.0.0.4:8080', 'http://10.0.0.5:8080', peer3];
    ring.set(new Set(next));
    assert.deepEqual(ring.members(), [peer3, 'http://10.0.0.4:8080', 'http://10.0.0.5:8080']);
    assert.deepEqual(owners(ring), owners(ringOf(next)));
    ring.set([]);
    assert.equal(ring.isEmpty(), true);
    assert.equal(ring.get('foo'), undefined);
  });

  test('a key at a point belongs to that point; past the last point it wraps', () => {
    // Points: a → 100, 300; b → 200, 400. Keys hash to their numeric value.
    const table: Record<string, number> = { '0a': 100, '1a': 300, '0b': 200, '1b': 400 };
    const hash: HashFn = (s) => table[s] ?? Number(s);
    const ring = ringOf(['a', 'b'], { replicas: 2, hash });
    assert.equal(ring.get('0'), 'a');
    assert.equal(ring.get('100'), 'a');
    assert.equal(ring.get('101'), 'b');
    assert.equal(ring.get('200'), 'b');
    assert.equal(ring.get('300'), 'a');
    assert.equal(ring.get('400'), 'b');
    assert.equal(ring.get('401'), 'a');
    assert.equal(ring.get(String(2 ** 32 - 1)), 'a');
  });

  describe('next: the members after the owner, in ring order', () => {
    // Points: a → 100, 500; b → 200, 300; c → 400, 600. Keys hash to their numeric value.
    const table: Record<string, number> = {
      '0a': 100,
      '1a': 500,
      '0b': 200,
      '1b': 300,
      '0c': 400,
      '1c': 600,
    };
    const hash: HashFn = (s) => table[s] ?? Number(s);
    const ring = ringOf(['a', 'b', 'c'], { replicas: 2, hash });
    const all = () => true;

    test('the first other member after the key’s point, wrapping around', () => {
      assert.equal(ring.get('150'), 'b');
      assert.equal(ring.next('150', all), 'c', 'b’s second point (300) is skipped');
      assert.equal(ring.get('450'), 'a');
      assert.equal(ring.next('450', all), 'c');
      assert.equal(ring.get('550'), 'c');
      assert.equal(ring.next('550', all), 'a', 'past the last point: the walk wraps');
    });

    test('members accept refuses are passed over, each offered once; none left is undefined', () => {
      const offered: string[] = [];
      const got = ring.next('150', (p) => {
        offered.push(p);
        return p === 'a';
      });
      assert.equal(got, 'a');
      assert.deepEqual(offered, ['c', 'a'], 'the owner is never offered, nor a member twice');
      assert.equal(
        ring.next('150', () => false),
        undefined,
      );
      assert.equal(ringOf(['a'], { replicas: 2, hash }).next('150', all), undefined);
      assert.equal(new Ring().next('150', all), undefined);
    });

    test('the same members give the same answer for every key, whatever the add order', () => {
      const one = ringOf([peer1, peer2, peer3]);
      const other = ringOf([peer3, peer1, peer2]);
      for (const key of keys.slice(0, 2_000)) {
        const next = one.next(key, all);
        assert.equal(next, other.next(key, all));
        assert.notEqual(next, one.get(key));
      }
    });
  });

  test('hash results are read as unsigned 32-bit integers', () => {
    // A hash returning signed values (-1 is 0xffffffff) still orders as unsigned.
    const table: Record<string, number> = { '0a': 10, '0b': -1 };
    const hash: HashFn = (s) => table[s] ?? Number(s);
    const ring = ringOf(['a', 'b'], { replicas: 1, hash });
    assert.equal(ring.get('11'), 'b');
    assert.equal(ring.get(String(2 ** 32 - 2)), 'b');
    assert.equal(ring.get('-5'), 'b'); // -5 is 0xfffffffb
    assert.equal(ring.get('5'), 'a');
  });

  describe('collisions: the peer that sorts first owns the point', () => {
    // Points: a → 100, 200; b → 100 (with a), 300; c → 300 (with b), 400.
    const table: Record<string, number> = {
      '0a': 100,
      '1a': 200,
      '0b': 100,
      '1b': 300,
      '0c': 300,
      '1c': 400,
    };
    const hash: HashFn = (s) => table[s] ?? Number(s);
    const want: [string, string][] = [
      ['50', 'a'],
      ['100', 'a'],
      ['150', 'a'],
      ['250', 'b'],
      ['300', 'b'],
      ['350', 'c'],
      ['401', 'a'],
    ];
    const orders = [
      ['a', 'b', 'c'],
      ['c', 'b', 'a'],
      ['b', 'c', 'a'],
    ];
    for (const order of orders) {
      test(`adding ${order.join(', ')} at once`, () => {
        const ring = ringOf(order, { replicas: 2, hash });
        for (const [key, owner] of want) assert.equal(ring.get(key), owner, key);
      });
      test(`adding ${order.join(', ')} one by one`, () => {
        const ring = new Ring({ replicas: 2, hash });
        for (const p of order) ring.add(p);
        for (const [key, owner] of want) assert.equal(ring.get(key), owner, key);
      });
    }

    test('removing the winner hands the point to the other peer', () => {
      const ring = ringOf(['c', 'b', 'a'], { replicas: 2, hash });
      ring.remove('a');
      assert.equal(ring.get('50'), 'b');
      assert.equal(ring.get('100'), 'b');
      assert.equal(ring.get('401'), 'b');
      ring.remove('b');
      assert.equal(ring.get('300'), 'c');
    });

    test('a real CRC-32 collision: peers "x" and "0x" both place "10x"', () => {
      // "1" + "0x" === "10" + "x", so the two peers share four points with 50
      // replicas ("10x", "20x", "30x", "40x"); "0x" < "x" owns them.
      for (const order of [
        ['x', '0x'],
        ['0x', 'x'],
      ]) {
        const ring = ringOf(order);
        for (const key of ['10x', '20x', '30x', '40x']) assert.equal(ring.get(key), '0x', key);
      }
    });
  });

  describe('bad arguments throw InvalidArgumentError', () => {
    test('options', () => {
      for (const replicas of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '50']) {
        assert.throws(
          () => new Ring({ replicas: replicas as number }),
          InvalidArgumentError,
          String(replicas),
        );
      }
      assert.throws(() => new Ring({ hash: 'crc32' as unknown as HashFn }), InvalidArgumentError);
      assert.throws(() => new Ring(null as unknown as undefined), InvalidArgumentError);
      assert.equal(new Ring({ replicas: 1 }).replicas, 1);
    });

    test('peers', () => {
      const ring = ringOf([peer1]);
      assert.throws(() => ring.add(''), InvalidArgumentError);
      assert.throws(() => ring.add(peer2, 42 as unknown as string), InvalidArgumentError);
      assert.throws(() => ring.remove(undefined as unknown as string), InvalidArgumentError);
      assert.throws(() => ring.set([peer2, '']), InvalidArgumentError);
      assert.throws(() => ring.set(peer2 as unknown as string[]), InvalidArgumentError);
      assert.throws(() => ring.set(null as unknown as string[]), InvalidArgumentError);
      // A rejected call changes nothing.
      assert.deepEqual(ring.members(), [peer1]);
    });
  });
});
