// store.test.ts: the Keyv store's own promises on one group: TTLs reach the cache, clear
// empties one namespace, and losing the generation entry never brings old values back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupRegistry } from '../core/registry.js';
import { InvalidArgumentError } from '../errors.js';
import { createKeyvStore } from './store.js';

function setup() {
  let now = 1_000_000;
  const registry = new GroupRegistry();
  const group = registry.newGroup('keyv', {
    cacheBytes: 1 << 20,
    load: () => null,
    now: () => now,
  });
  return { registry, group, advance: (ms: number) => (now += ms) };
}

describe('PeercacheKeyvStore', () => {
  test('makes its group with a loader that finds nothing, or takes the one there', async () => {
    const registry = new GroupRegistry();
    const store = createKeyvStore(registry, { group: 'sessions', cacheBytes: 4096 });
    assert.equal(registry.getGroup('sessions'), store.group);
    assert.equal(store.group.cacheBytes, 4096);
    assert.equal(await store.get('nothing'), undefined);
    assert.equal(createKeyvStore(registry, { group: 'sessions' }).group, store.group);
    assert.throws(() => createKeyvStore(registry, { group: '' }), InvalidArgumentError);
  });

  test('a ttl given to set expires the entry in the cache itself', async () => {
    const { registry, advance } = setup();
    const store = createKeyvStore(registry);
    await store.set('a', 'one', 1_000);
    await store.set('b', 'two');
    advance(999);
    assert.equal(await store.get('a'), 'one');
    advance(2);
    assert.equal(await store.get('a'), undefined);
    assert.equal(await store.get('b'), 'two');
  });

  test('clear empties its namespace only; has, many-forms and delete answer as Keyv expects', async () => {
    const { registry } = setup();
    const one = createKeyvStore(registry, { namespace: 'one' });
    const two = createKeyvStore(registry, { namespace: 'two' });
    await one.setMany([
      { key: 'one:x', value: '1' },
      { key: 'one:y', value: '2' },
    ]);
    await two.set('two:x', '3');
    assert.deepEqual(await one.getMany(['one:x', 'one:y', 'one:z']), ['1', '2', undefined]);
    assert.deepEqual(await one.hasMany(['one:x', 'one:z']), [true, false]);
    await one.clear();
    assert.deepEqual(await one.getMany(['one:x', 'one:y']), [undefined, undefined]);
    assert.equal(await two.get('two:x'), '3');
    assert.equal(await two.delete('two:x'), true);
    assert.equal(await two.delete('two:x'), false);
    assert.equal(await two.deleteMany(['two:x', 'two:q']), false);
  });

  test('a lost generation entry starts a new generation: the values set before never come back', async () => {
    const { registry, group } = setup();
    const store = createKeyvStore(registry, { namespace: 'ns' });
    await store.set('ns:k', 'old');
    // The generation entry is gone (evicted, or its owner restarted); the data entry is not.
    await group.remove('g:ns');
    assert.equal(await store.get('ns:k'), undefined);
    await store.set('ns:k', 'new');
    assert.equal(await store.get('ns:k'), 'new');
  });

  test('bytes and values that are not strings are stored as given or as JSON', async () => {
    const { registry } = setup();
    const store = createKeyvStore(registry);
    await store.set('bytes', new Uint8Array([104, 105]));
    await store.set('obj', { a: 1 });
    assert.equal(await store.get('bytes'), 'hi');
    assert.equal(await store.get('obj'), '{"a":1}');
  });
});
