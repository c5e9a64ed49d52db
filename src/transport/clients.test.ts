// clients.test.ts: the per-URL client cache: one client per URL, released one by one, all closed at the end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerValue } from '../core/peers.js';
import { type ClosableClient, clientCache } from './clients.js';

function maker() {
  const made: Array<ClosableClient & { closed: number }> = [];
  const make = (url: string) => {
    const client = {
      url,
      closed: 0,
      get: async (): Promise<PeerValue> => ({
        value: Uint8Array.of(made.length),
        expireAt: 0,
        minuteQps: 0,
      }),
      set: async () => {},
      remove: async () => {},
      close() {
        client.closed++;
      },
    };
    made.push(client);
    return client;
  };
  return { made, cache: clientCache(make) };
}

describe('clientCache', () => {
  it('gives one client per URL, through a handle that forwards calls', async () => {
    const { made, cache } = maker();
    const a = cache.get('http://a:1');
    assert.equal(cache.get('http://a:1'), a);
    assert.notEqual(cache.get('http://b:1'), a);
    assert.equal(a.url, 'http://a:1');
    assert.deepEqual((await a.get('g', 'k')).value, Uint8Array.of(2));
    assert.equal(made.length, 2);
  });

  it("a handle's close closes the client and forgets it: the URL then gets a fresh one", () => {
    const { made, cache } = maker();
    const old = cache.get('http://a:1');
    old.close();
    assert.equal(made[0]?.closed, 1);
    const fresh = cache.get('http://a:1');
    assert.notEqual(fresh, old);
    assert.equal(made.length, 2);
    // A late close of the old handle leaves the fresh client alone.
    old.close();
    assert.equal(made[1]?.closed, 0);
    assert.equal(cache.get('http://a:1'), fresh);
  });

  it('release closes and forgets a URL; an unknown URL is a no-op', async () => {
    const { made, cache } = maker();
    cache.get('http://a:1');
    await cache.release('http://a:1');
    await cache.release('http://nobody:1');
    assert.equal(made[0]?.closed, 1);
    cache.get('http://a:1');
    assert.equal(made.length, 2);
  });

  it('closeAll closes every client, and clients made later are closed at once', async () => {
    const { made, cache } = maker();
    cache.get('http://a:1');
    cache.get('http://b:1');
    await cache.closeAll();
    await cache.closeAll();
    cache.get('http://c:1');
    assert.deepEqual(
      made.map((c) => c.closed > 0),
      [true, true, true],
    );
  });

  it('a client whose close throws or rejects is still forgotten', async () => {
    const cache = clientCache((url) => ({
      url,
      get: () => Promise.reject(new Error('no')),
      set: async () => {},
      remove: async () => {},
      close: () => {
        if (url.includes('a')) throw new Error('close failed');
        return Promise.reject(new Error('close failed'));
      },
    }));
    const a = cache.get('http://a:1');
    await cache.release('http://a:1');
    assert.notEqual(cache.get('http://a:1'), a);
    const b = cache.get('http://b:1');
    b.close();
    await cache.release('http://b:1');
    assert.notEqual(cache.get('http://b:1'), b);
  });
});
