// cache-manager.test.ts: cache-manager 7 over Keyv over the peercache Keyv store, on a
// 3-node cluster: what a cache-manager (or NestJS) application does reaches every node.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { createKeyvStore } from '../../src/keyv/store.js';
import type { CacheNode } from '../../src/node/node.js';
import { startCluster, stopCluster } from './cluster.js';

describe('cache-manager over the peercache Keyv store', () => {
  let nodes: CacheNode[] = [];
  before(async () => {
    nodes = await startCluster(3);
  });
  after(() => stopCluster(nodes));

  /** One cache-manager per node, as each application process would have. */
  const caches = () =>
    nodes.map((node) => createCache({ stores: [new Keyv({ store: createKeyvStore(node) })] }));

  test('a value set through one node is read, wrapped and deleted through the others', async () => {
    const [a, b, c] = caches() as [
      ReturnType<typeof createCache>,
      ReturnType<typeof createCache>,
      ReturnType<typeof createCache>,
    ];
    await a.set('user:1', { name: 'Ada', langs: ['en', 'fr'] });
    assert.deepEqual(await b.get('user:1'), { name: 'Ada', langs: ['en', 'fr'] });
    assert.deepEqual(await c.get('user:1'), { name: 'Ada', langs: ['en', 'fr'] });

    // wrap runs the function once; the other nodes get its value from the cluster.
    let calls = 0;
    const compute = async () => {
      calls++;
      return { total: 42 };
    };
    assert.deepEqual(await b.wrap('report', compute), { total: 42 });
    assert.deepEqual(await c.wrap('report', compute), { total: 42 });
    assert.deepEqual(await a.wrap('report', compute), { total: 42 });
    assert.equal(calls, 1);

    await c.del('user:1');
    assert.equal(await a.get('user:1'), undefined);
    assert.equal(await b.get('user:1'), undefined);
  });

  test('mset and mget cross nodes; clear empties the cache on every node', async () => {
    const [a, b, c] = caches() as [
      ReturnType<typeof createCache>,
      ReturnType<typeof createCache>,
      ReturnType<typeof createCache>,
    ];
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await a.mset(keys.map((key, i) => ({ key, value: i })));
    assert.deepEqual(
      await b.mget(keys),
      keys.map((_, i) => i),
    );
    await c.clear();
    assert.deepEqual(
      await a.mget(keys),
      keys.map(() => undefined),
    );
    assert.deepEqual(
      await b.mget(keys),
      keys.map(() => undefined),
    );
  });
});
