// batch-loader.test.ts: loads gathered into loadMany calls: one per turn of the event loop
// and at most batchMax keys each, every caller its own answer, and errors to the batch.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { BatchLoader } from './batch-loader.js';
import { GroupRegistry } from './registry.js';

describe('BatchLoader', () => {
  test('keys asked together go to one call, in calls of at most batchMax keys', async () => {
    const calls: string[][] = [];
    const loader = new BatchLoader<string>({
      group: 'g',
      batchMax: 4,
      loadMany: (keys) => {
        calls.push(keys);
        return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, `v:${k}`]));
      },
    });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'missing'];
    const got = await Promise.all(keys.map((k) => loader.load(k)));
    assert.deepEqual(got, ['v:a', 'v:b', 'v:c', 'v:d', 'v:e', 'v:f', undefined]);
    assert.deepEqual(calls, [
      ['a', 'b', 'c', 'd'],
      ['e', 'f', 'missing'],
    ]);
    // Once sent, a batch is closed: a later key starts a new one.
    assert.equal(await loader.load('g'), 'v:g');
    assert.equal(calls.length, 3);
  });

  test('a plain object answers too; a throw fails every key of its batch', async () => {
    let fail = false;
    const loader = new BatchLoader<string>({
      group: 'g',
      loadMany: (keys) => {
        if (fail) throw new Error('database down');
        return Object.fromEntries(keys.map((k) => [k, k.toUpperCase()]));
      },
    });
    assert.deepEqual(await Promise.all([loader.load('x'), loader.load('y')]), ['X', 'Y']);
    assert.equal(await loader.load('constructor'), 'CONSTRUCTOR');
    fail = true;
    const results = await Promise.allSettled([loader.load('x'), loader.load('y')]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /database down/);
    }
  });

  test("the batch's signal aborts once every key's signal has", async () => {
    let seen: AbortSignal | undefined;
    const loader = new BatchLoader<string>({
      group: 'g',
      loadMany: (_keys, ctx) => {
        seen = ctx.signal;
        return new Promise(() => {});
      },
    });
    const a = new AbortController();
    const b = new AbortController();
    void loader.load('a', a.signal);
    void loader.load('b', b.signal);
    while (seen === undefined) await new Promise<void>((resolve) => setImmediate(resolve));
    a.abort();
    assert.equal(seen.aborted, false);
    b.abort();
    assert.equal(seen.aborted, true);
  });

  test('a batch waits while keys keep arriving turn after turn, up to maxTurns', async () => {
    const calls: string[][] = [];
    const loader = new BatchLoader<string>({
      group: 'g',
      maxTurns: 4,
      loadMany: (keys) => {
        calls.push(keys);
        return Object.fromEntries(keys.map((k) => [k, k]));
      },
    });
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const asked: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      asked.push(loader.load(`k${i}`));
      await turn();
    }
    await Promise.all(asked);
    // Keys came every turn: the first batch waited 4 turns, then went; the rest followed.
    assert.deepEqual(calls, [
      ['k0', 'k1', 'k2', 'k3'],
      ['k4', 'k5'],
    ]);
  });

  test('batchMax must be a positive integer', () => {
    assert.throws(
      () => new BatchLoader({ group: 'g', batchMax: 0, loadMany: () => ({}) }),
      InvalidArgumentError,
    );
  });
});

describe('Group with loadMany', () => {
  test('concurrent misses make one loadMany call; singleflight holds across get and getMany', async () => {
    const calls: string[][] = [];
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      loadMany: (keys) => {
        calls.push(keys);
        return new Map(keys.filter((k) => !k.startsWith('no')).map((k) => [k, `v:${k}`]));
      },
    });
    const single = g.get('a');
    const many = g.getMany(['a', 'b', 'nothing', 'c', 'b']);
    assert.equal((await single).toString(), 'v:a');
    const result = await many;
    assert.deepEqual([...result.keys()], ['a', 'b', 'c']);
    assert.deepEqual([...result.values()].map(String), ['v:a', 'v:b', 'v:c']);
    assert.equal(result.errors.size, 0);
    assert.deepEqual(calls, [['a', 'b', 'nothing', 'c']]);
    await assert.rejects(g.get('nothing'), NotFoundError);
    // Hits now: no call.
    await g.getMany(['a', 'b', 'c']);
    assert.equal(calls.length, 2, 'only the not-found key was asked again');
  });

  test("getMany reports a key's failure without failing the others", async () => {
    const g = new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load: (key) => {
        if (key === 'bad') throw new Error('broken row');
        return `v:${key}`;
      },
    });
    const result = await g.getMany(['ok', 'bad']);
    assert.equal(result.get('ok')?.toString(), 'v:ok');
    assert.equal(result.has('bad'), false);
    assert.match(result.errors.get('bad')?.message ?? '', /broken row/);
  });
});
