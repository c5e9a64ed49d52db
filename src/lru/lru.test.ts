// lru.test.ts: tests of the byte- and entry-bounded LRU, including a randomized
// comparison against a simple reference model.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { LRU, type LRUOptions } from './lru.js';

/** withLog builds an LRU whose onEvicted calls are recorded as "key=value". */
function withLog(options: LRUOptions<string> = {}): { lru: LRU<string>; evicted: string[] } {
  const evicted: string[] = [];
  const lru = new LRU<string>({ ...options, onEvicted: (k, v) => evicted.push(`${k}=${v}`) });
  return { lru, evicted };
}

describe('LRU lookups', () => {
  test('get, peek and has report hits and misses', () => {
    const lru = new LRU<number>();
    lru.add('a', 1, 10);
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.peek('a'), 1);
    assert.equal(lru.has('a'), true);
    assert.equal(lru.get('b'), undefined);
    assert.equal(lru.peek('b'), undefined);
    assert.equal(lru.has('b'), false);
  });

  test('get marks most recent, peek and has do not', () => {
    const lru = new LRU<number>();
    lru.add('a', 1, 1);
    lru.add('b', 2, 1);
    lru.add('c', 3, 1);
    assert.deepEqual([...lru.keys()], ['c', 'b', 'a']);
    lru.peek('a');
    lru.has('a');
    assert.deepEqual([...lru.keys()], ['c', 'b', 'a']);
    assert.equal(lru.oldestKey(), 'a');
    lru.get('a');
    assert.deepEqual([...lru.keys()], ['a', 'c', 'b']);
    assert.equal(lru.oldestKey(), 'b');
    lru.get('c');
    assert.deepEqual([...lru.keys()], ['c', 'a', 'b']);
    lru.get('c');
    assert.deepEqual([...lru.keys()], ['c', 'a', 'b']);
  });

  test('replacing a key updates its value and makes it most recent', () => {
    const lru = new LRU<number>();
    lru.add('a', 1, 1);
    lru.add('b', 2, 1);
    lru.add('a', 10, 1);
    assert.equal(lru.peek('a'), 10);
    assert.deepEqual([...lru.keys()], ['a', 'b']);
    assert.equal(lru.len(), 2);
  });

  test('an empty cache has no oldest key and nothing to remove', () => {
    const lru = new LRU<number>();
    assert.equal(lru.oldestKey(), undefined);
    assert.equal(lru.removeOldest(), undefined);
    assert.equal(lru.remove('x'), false);
    assert.deepEqual([...lru.keys()], []);
    assert.equal(lru.len(), 0);
    assert.equal(lru.size, 0);
    assert.equal(lru.bytes, 0);
  });
});

describe('LRU eviction', () => {
  test('evicts oldest-first by bytes, honouring recency from get', () => {
    const { lru, evicted } = withLog({ maxBytes: 10 });
    lru.add('a', 'A', 3);
    lru.add('b', 'B', 3);
    lru.add('c', 'C', 3);
    assert.equal(lru.bytes, 9);
    lru.get('a');
    lru.add('d', 'D', 3); // 12 > 10: b goes
    assert.deepEqual(evicted, ['b=B']);
    assert.deepEqual([...lru.keys()], ['d', 'a', 'c']);
    assert.equal(lru.bytes, 9);
    lru.add('e', 'E', 7); // 16: c (13), then a (10)
    assert.deepEqual(evicted, ['b=B', 'c=C', 'a=A']);
    assert.deepEqual([...lru.keys()], ['e', 'd']);
    assert.equal(lru.bytes, 10);
  });

  test('a replace that grows an entry evicts others, not the entry', () => {
    const { lru, evicted } = withLog({ maxBytes: 10 });
    lru.add('a', 'A', 3);
    lru.add('b', 'B', 3);
    lru.add('c', 'C', 3);
    lru.add('c', 'C2', 6); // 12: a goes, no eviction for the old c
    assert.deepEqual(evicted, ['a=A']);
    assert.deepEqual([...lru.keys()], ['c', 'b']);
    assert.equal(lru.bytes, 9);
    lru.add('b', 'B2', 4); // 10: fits
    assert.deepEqual(evicted, ['a=A']);
    assert.equal(lru.bytes, 10);
  });

  test('evicts oldest-first by entries', () => {
    const { lru, evicted } = withLog({ maxEntries: 2 });
    lru.add('a', 'A', 100);
    lru.add('b', 'B', 100);
    lru.get('a');
    lru.add('c', 'C', 100);
    assert.deepEqual(evicted, ['b=B']);
    assert.deepEqual([...lru.keys()], ['c', 'a']);
    lru.add('a', 'A2', 1); // replace: no eviction
    assert.deepEqual(evicted, ['b=B']);
    assert.equal(lru.bytes, 101);
    lru.add('d', 'D', 1);
    assert.deepEqual(evicted, ['b=B', 'c=C']);
    assert.deepEqual([...lru.keys()], ['d', 'a']);
  });

  test('both budgets apply together', () => {
    const { lru, evicted } = withLog({ maxBytes: 10, maxEntries: 3 });
    lru.add('a', 'A', 1);
    lru.add('b', 'B', 1);
    lru.add('c', 'C', 1);
    lru.add('d', 'D', 1); // entries: a goes
    lru.add('e', 'E', 8); // bytes 11 and 4 entries: b goes, leaving 10 bytes, 3 entries
    assert.deepEqual(evicted, ['a=A', 'b=B']);
    assert.deepEqual([...lru.keys()], ['e', 'd', 'c']);
    assert.equal(lru.bytes, 10);
  });

  test('an entry larger than maxBytes is not kept and evicts nothing else', () => {
    const { lru, evicted } = withLog({ maxBytes: 10 });
    lru.add('a', 'A', 4);
    lru.add('b', 'B', 4);
    lru.add('big', 'X', 11);
    assert.deepEqual(evicted, ['big=X']);
    assert.equal(lru.has('big'), false);
    assert.deepEqual([...lru.keys()], ['b', 'a']);
    assert.equal(lru.bytes, 8);
    // An entry of exactly maxBytes is kept.
    lru.add('full', 'F', 10);
    assert.deepEqual(evicted, ['big=X', 'a=A', 'b=B']);
    assert.deepEqual([...lru.keys()], ['full']);
    assert.equal(lru.bytes, 10);
  });

  test('an oversize replacement drops the old value silently and evicts the new one', () => {
    const { lru, evicted } = withLog({ maxBytes: 10 });
    lru.add('a', 'A', 4);
    lru.add('b', 'B', 4);
    lru.add('a', 'A2', 20);
    assert.deepEqual(evicted, ['a=A2']);
    assert.equal(lru.has('a'), false);
    assert.deepEqual([...lru.keys()], ['b']);
    assert.equal(lru.bytes, 4);
  });

  test('maxBytes 0 keeps nothing, not even entries of size 0', () => {
    const { lru, evicted } = withLog({ maxBytes: 0 });
    lru.add('a', 'A', 5);
    lru.add('b', 'B', 0);
    assert.deepEqual(evicted, ['a=A', 'b=B']);
    assert.equal(lru.len(), 0);
    assert.equal(lru.bytes, 0);
    assert.equal(lru.get('b'), undefined);
  });

  test('maxEntries 0 keeps nothing', () => {
    const { lru, evicted } = withLog({ maxEntries: 0 });
    lru.add('a', 'A', 5);
    assert.deepEqual(evicted, ['a=A']);
    assert.equal(lru.len(), 0);
    assert.equal(lru.bytes, 0);
  });

  test('unbounded by default: the caller evicts with removeOldest', () => {
    const { lru, evicted } = withLog();
    assert.equal(lru.maxBytes, Infinity);
    assert.equal(lru.maxEntries, Infinity);
    for (let i = 0; i < 1000; i++) lru.add(`k${i}`, `v${i}`, 1_000_000);
    assert.equal(lru.len(), 1000);
    assert.equal(lru.bytes, 1_000_000_000);
    assert.deepEqual(evicted, []);
    lru.get('k0');
    assert.equal(lru.oldestKey(), 'k1');
    assert.deepEqual(lru.removeOldest(), { key: 'k1', value: 'v1', size: 1_000_000 });
    assert.deepEqual(evicted, ['k1=v1']);
    assert.equal(lru.len(), 999);
    assert.equal(lru.bytes, 999_000_000);
    assert.equal(lru.oldestKey(), 'k2');
  });
});

describe('LRU accounting and onEvicted', () => {
  test('bytes and len are exact across add, replace, remove, removeOldest and clear', () => {
    const { lru, evicted } = withLog({ maxBytes: 1000 });
    lru.add('a', 'A', 100);
    lru.add('b', 'B', 200);
    lru.add('c', 'C', 300);
    assert.equal(lru.bytes, 600);
    lru.add('b', 'B2', 50);
    assert.equal(lru.bytes, 450);
    assert.equal(lru.len(), 3);
    assert.equal(lru.remove('a'), true);
    assert.equal(lru.remove('a'), false);
    assert.equal(lru.bytes, 350);
    assert.equal(lru.size, 2);
    assert.deepEqual(lru.removeOldest(), { key: 'c', value: 'C', size: 300 });
    assert.equal(lru.bytes, 50);
    assert.equal(lru.len(), 1);
    lru.add('d', 'D', 0);
    assert.equal(lru.bytes, 50);
    assert.equal(lru.len(), 2);
    lru.clear();
    assert.equal(lru.bytes, 0);
    assert.equal(lru.len(), 0);
    assert.deepEqual([...lru.keys()], []);
    assert.equal(lru.oldestKey(), undefined);
    // Only removeOldest reported an eviction.
    assert.deepEqual(evicted, ['c=C']);
  });

  test('the cache works after clear', () => {
    const lru = new LRU<number>({ maxEntries: 2 });
    for (let i = 0; i < 40; i++) lru.add(`k${i}`, i, 1);
    lru.clear();
    lru.add('x', 1, 1);
    lru.add('y', 2, 1);
    lru.add('z', 3, 1);
    assert.deepEqual([...lru.keys()], ['z', 'y']);
    assert.equal(lru.get('x'), undefined);
    assert.equal(lru.get('y'), 2);
  });

  test('onEvicted sees the cache without the evicted entry', () => {
    const seen: [string, boolean, number, number][] = [];
    const lru: LRU<string> = new LRU<string>({
      maxBytes: 10,
      onEvicted: (k) => seen.push([k, lru.has(k), lru.bytes, lru.len()]),
    });
    lru.add('a', 'A', 5);
    lru.add('b', 'B', 5);
    lru.add('c', 'C', 5);
    assert.deepEqual(seen, [['a', false, 10, 2]]);
    lru.removeOldest();
    assert.deepEqual(seen, [
      ['a', false, 10, 2],
      ['b', false, 5, 1],
    ]);
  });

  test('a throwing onEvicted leaves the cache consistent, and the next add catches up', () => {
    let fail = true;
    const evicted: string[] = [];
    const lru = new LRU<string>({
      maxBytes: 10,
      onEvicted: (k) => {
        evicted.push(k);
        if (fail) throw new Error('boom');
      },
    });
    lru.add('a', 'A', 4);
    lru.add('b', 'B', 4);
    assert.throws(() => lru.add('c', 'C', 10), /boom/);
    // a left before its callback threw; b is still there, over budget.
    assert.deepEqual([...lru.keys()], ['c', 'b']);
    assert.equal(lru.bytes, 14);
    fail = false;
    lru.add('d', 'D', 1);
    assert.deepEqual(evicted, ['a', 'b', 'c']);
    assert.deepEqual([...lru.keys()], ['d']);
    assert.equal(lru.bytes, 1);
  });
});

describe('LRU options', () => {
  const bad: [LRUOptions<unknown>, RegExp][] = [
    [{ maxBytes: -1 }, /maxBytes/],
    [{ maxBytes: Number.NaN }, /maxBytes/],
    [{ maxBytes: '10' as unknown as number }, /maxBytes/],
    [{ maxEntries: -1 }, /maxEntries/],
    [{ maxEntries: Number.NaN }, /maxEntries/],
    [{ maxEntries: 1.5 }, /maxEntries/],
    [{ maxEntries: -Infinity }, /maxEntries/],
    [{ onEvicted: 'x' as unknown as () => void }, /onEvicted/],
  ];
  for (const [options, message] of bad) {
    test(`rejects ${JSON.stringify(options, (_k, v) => (Number.isNaN(v) ? 'NaN' : v))}`, () => {
      assert.throws(
        () => new LRU(options),
        (err) => err instanceof InvalidArgumentError && message.test(err.message),
      );
    });
  }

  test('accepts zero, finite and infinite budgets', () => {
    for (const options of [
      { maxBytes: 0 },
      { maxBytes: 1.5e9 },
      { maxBytes: Infinity },
      { maxEntries: 0 },
      { maxEntries: 7 },
      { maxEntries: Infinity },
    ]) {
      assert.doesNotThrow(() => new LRU(options));
    }
  });

  test('add rejects a negative, fractional or non-numeric size and changes nothing', () => {
    const { lru, evicted } = withLog({ maxBytes: 10 });
    lru.add('a', 'A', 1);
    for (const size of [-1, 1.5, Number.NaN, Infinity, '2' as unknown as number]) {
      assert.throws(
        () => lru.add('a', 'B', size),
        (err) => err instanceof InvalidArgumentError && /size/.test(err.message),
      );
    }
    assert.equal(lru.peek('a'), 'A');
    assert.equal(lru.bytes, 1);
    assert.deepEqual(evicted, []);
  });

  test('add accepts sizes beyond 32 bits', () => {
    const lru = new LRU<string>();
    lru.add('a', 'A', 2 ** 40);
    lru.add('b', 'B', 2 ** 33 + 1);
    assert.equal(lru.bytes, 2 ** 40 + 2 ** 33 + 1);
  });
});

/** Model is the reference: an array, most recent first, with the same rules. */
class Model {
  entries: { key: string; value: number; size: number }[] = [];
  evicted: string[] = [];
  constructor(
    readonly maxBytes: number,
    readonly maxEntries: number,
  ) {}
  get bytes(): number {
    return this.entries.reduce((s, e) => s + e.size, 0);
  }
  #index(key: string): number {
    return this.entries.findIndex((e) => e.key === key);
  }
  get(key: string): number | undefined {
    const i = this.#index(key);
    if (i < 0) return undefined;
    const [e] = this.entries.splice(i, 1);
    this.entries.unshift(e!);
    return e!.value;
  }
  add(key: string, value: number, size: number): void {
    this.remove(key);
    if (size > this.maxBytes || this.maxBytes === 0 || this.maxEntries === 0) {
      this.evicted.push(`${key}=${value}`);
      return;
    }
    this.entries.unshift({ key, value, size });
    while (this.bytes > this.maxBytes || this.entries.length > this.maxEntries) {
      const e = this.entries.pop()!;
      this.evicted.push(`${e.key}=${e.value}`);
    }
  }
  remove(key: string): boolean {
    const i = this.#index(key);
    if (i >= 0) this.entries.splice(i, 1);
    return i >= 0;
  }
  removeOldest(): { key: string; value: number; size: number } | undefined {
    const e = this.entries.pop();
    if (e) this.evicted.push(`${e.key}=${e.value}`);
    return e;
  }
}

/** prng returns a seeded generator of integers in [0, n) (xorshift32). */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

describe('LRU against a reference model', () => {
  const configs = [
    { name: 'bytes-bounded', maxBytes: 500, maxEntries: Infinity, keys: 80 },
    { name: 'entry-bounded', maxBytes: Infinity, maxEntries: 20, keys: 60 },
    { name: 'both budgets', maxBytes: 300, maxEntries: 15, keys: 50 },
    { name: 'unbounded, caller evicts', maxBytes: Infinity, maxEntries: Infinity, keys: 200 },
    { name: 'maxEntries 1', maxBytes: Infinity, maxEntries: 1, keys: 5 },
  ];
  for (const c of configs) {
    for (const seed of [1, 42, 20240601]) {
      test(`${c.name}, seed ${seed}: 20000 random operations agree`, () => {
        const rand = prng(seed);
        const evicted: string[] = [];
        const lru = new LRU<number>({
          maxBytes: c.maxBytes,
          maxEntries: c.maxEntries,
          onEvicted: (k, v) => evicted.push(`${k}=${v}`),
        });
        const model = new Model(c.maxBytes, c.maxEntries);
        for (let op = 0; op < 20000; op++) {
          const key = `k${rand(c.keys)}`;
          const r = rand(100);
          if (r < 35) {
            const size = rand(60);
            lru.add(key, op, size);
            model.add(key, op, size);
          } else if (r < 65) {
            assert.equal(lru.get(key), model.get(key));
          } else if (r < 75) {
            assert.equal(lru.peek(key), model.entries.find((e) => e.key === key)?.value);
          } else if (r < 88) {
            assert.equal(lru.remove(key), model.remove(key));
          } else if (r < 99) {
            assert.deepEqual(lru.removeOldest(), model.removeOldest());
          } else {
            lru.clear();
            model.entries = [];
          }
          assert.equal(lru.len(), model.entries.length);
          assert.equal(lru.bytes, model.bytes);
          assert.equal(lru.oldestKey(), model.entries.at(-1)?.key);
          if (op % 50 === 0) {
            assert.deepEqual(
              [...lru.keys()],
              model.entries.map((e) => e.key),
            );
          }
        }
        assert.deepEqual(
          [...lru.keys()],
          model.entries.map((e) => e.key),
        );
        assert.deepEqual(evicted, model.evicted);
      });
    }
  }

  test('slots are reused: 100000 add/remove cycles over a small key set stay exact', () => {
    const lru = new LRU<number>({ maxEntries: 8 });
    for (let i = 0; i < 100_000; i++) {
      lru.add(`k${i % 13}`, i, 1);
      if (i % 3 === 0) lru.remove(`k${(i * 7) % 13}`);
    }
    // Rebuild the expectation with the model for the same sequence.
    const model = new Model(Infinity, 8);
    for (let i = 0; i < 100_000; i++) {
      model.add(`k${i % 13}`, i, 1);
      if (i % 3 === 0) model.remove(`k${(i * 7) % 13}`);
    }
    assert.deepEqual(
      [...lru.keys()],
      model.entries.map((e) => e.key),
    );
    for (const e of model.entries) assert.equal(lru.peek(e.key), e.value);
    assert.equal(lru.bytes, model.entries.length);
  });
});
