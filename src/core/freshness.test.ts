// freshness.test.ts: stale-while-revalidate (refreshAhead) and grace on one group, time
// driven by the group's clock: no caller waits for a refresh, a failing load in grace
// answers the stale value, and after grace the error surfaces.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../errors.js';
import type { LoadFn, LoadResult } from './group.js';
import { GroupRegistry } from './registry.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A loader whose answers the test hands out one by one. */
function scripted() {
  const calls: string[] = [];
  const pending: Array<{ resolve: (v: LoadResult) => void; reject: (e: unknown) => void }> = [];
  const load: LoadFn = (key) => {
    calls.push(key);
    return new Promise<LoadResult>((resolve, reject) => pending.push({ resolve, reject }));
  };
  return { load, calls, pending };
}

/** Lets promise callbacks queued so far run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A group with a ttl of 1,000 ms and `refreshAhead`, its scripted loader and its clock. */
function refreshing(refreshAhead: number) {
  const c = clock();
  const loader = scripted();
  const g = new GroupRegistry().newGroup('g', {
    cacheBytes: 1 << 20,
    load: loader.load,
    ttlMs: 1_000,
    refreshAhead,
    now: c.now,
  });
  return { c, loader, g };
}

describe('refreshAhead', () => {
  test('a hit in the window answers the cached value at once and reloads once in the background', async () => {
    const { c, loader, g } = refreshing(0.2);
    const first = g.get('k');
    loader.pending.shift()?.resolve('v1');
    assert.equal((await first).toString(), 'v1');

    c.advance(799); // 201 ms left: outside the last 20%.
    assert.equal((await g.get('k')).toString(), 'v1');
    await settle();
    assert.equal(loader.calls.length, 1);

    c.advance(2); // 199 ms left: inside it.
    for (let i = 0; i < 10; i++) assert.equal((await g.get('k')).toString(), 'v1');
    assert.equal(loader.calls.length, 2, 'one reload however many hits');
    assert.equal(g.stats.refreshes, 1);

    loader.pending.shift()?.resolve('v2');
    await settle();
    assert.equal((await g.get('k')).toString(), 'v2');
    // The reloaded value has a full ttl from the reload on.
    c.advance(799);
    assert.equal((await g.get('k')).toString(), 'v2');
    await settle();
    assert.equal(loader.calls.length, 2);
  });

  test('a reload that fails or finds nothing leaves the value to expire as it would have', async () => {
    const { c, loader, g } = refreshing(0.5);
    const first = g.get('k');
    loader.pending.shift()?.resolve('v1');
    await first;
    c.advance(600);
    assert.equal((await g.get('k')).toString(), 'v1');
    loader.pending.shift()?.reject(new Error('database down'));
    await settle();
    assert.equal((await g.get('k')).toString(), 'v1', 'still served until its expiry');
    loader.pending.shift()?.resolve(null); // the next hit's reload finds nothing
    await settle();
    assert.equal((await g.get('k')).toString(), 'v1');
    c.advance(400);
    const after = g.get('k');
    loader.pending.at(-1)?.resolve('v3');
    assert.equal((await after).toString(), 'v3');
  });

  test('a write during a refresh wins over what the refresh brings back', async () => {
    const { c, loader, g } = refreshing(0.5);
    const first = g.get('k');
    loader.pending.shift()?.resolve('v1');
    await first;
    c.advance(600);
    await g.get('k'); // starts the refresh
    await g.set('k', 'written');
    loader.pending.shift()?.resolve('from the refresh');
    await settle();
    assert.equal((await g.get('k')).toString(), 'written');
  });

  test('values written with set are not reloaded', async () => {
    const { c, loader, g } = refreshing(0.5);
    await g.set('k', 'written');
    c.advance(900);
    assert.equal((await g.get('k')).toString(), 'written');
    await settle();
    assert.equal(loader.calls.length, 0);
  });

  test('refreshAhead must be in [0, 1)', () => {
    const r = new GroupRegistry();
    assert.throws(
      () => r.newGroup('a', { cacheBytes: 1, load: () => 'x', refreshAhead: 1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => r.newGroup('b', { cacheBytes: 1, load: () => 'x', refreshAhead: -0.1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => r.newGroup('c', { cacheBytes: 1, load: () => 'x', graceMs: -1 }),
      InvalidArgumentError,
    );
  });
});

describe('graceMs', () => {
  function graceGroup(load: LoadFn, now: () => number, graceMs = 5_000) {
    return new GroupRegistry().newGroup('g', {
      cacheBytes: 1 << 20,
      load,
      ttlMs: 1_000,
      graceMs,
      now,
    });
  }

  test('a failing load within grace answers the stale value; after grace the error surfaces', async () => {
    const c = clock();
    let fail = false;
    const g = graceGroup(() => {
      if (fail) throw new UnavailableError('database down');
      return 'v1';
    }, c.now);
    assert.equal((await g.get('k')).toString(), 'v1');
    fail = true;
    c.advance(1_000 + 4_999); // expired 4,999 ms ago
    assert.equal((await g.get('k')).toString(), 'v1');
    assert.equal(g.stats.staleHits, 1);
    c.advance(1); // 5,000 ms: out of grace
    await assert.rejects(g.get('k'), /database down/);
    assert.equal(g.stats.staleHits, 1);
  });

  test('a value that loads again replaces the stale one; a not-found is never hidden', async () => {
    const c = clock();
    let answer: LoadResult | Error = 'v1';
    const g = graceGroup(() => {
      if (answer instanceof Error) throw answer;
      return answer;
    }, c.now);
    await g.get('k');
    c.advance(1_500);
    answer = 'v2';
    assert.equal((await g.get('k')).toString(), 'v2');
    c.advance(1_500);
    answer = null;
    await assert.rejects(g.get('k'), NotFoundError);
    assert.equal(g.stats.staleHits, 0);
  });

  test('without graceMs an expired value is gone: the error surfaces at once', async () => {
    const c = clock();
    let fail = false;
    const g = graceGroup(
      () => {
        if (fail) throw new UnavailableError('database down');
        return 'v1';
      },
      c.now,
      0,
    );
    await g.get('k');
    fail = true;
    c.advance(1_001);
    await assert.rejects(g.get('k'), /database down/);
  });

  test("a caller's own cancellation is its answer, not a stale value", async () => {
    const c = clock();
    let hang = false;
    const g = graceGroup(() => (hang ? new Promise<LoadResult>(() => {}) : 'v1'), c.now);
    await g.get('k');
    hang = true;
    c.advance(1_500);
    const ac = new AbortController();
    const got = g.get('k', { signal: ac.signal });
    ac.abort();
    await assert.rejects(got, { code: 'CANCELLED' });
  });
});
