// metrics.test.ts: NodeMetrics records peer requests under the peer's URL, through the observer
// a peer's HealthCheckedPeer tells, and forgets a peer's series when that client is closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthCheckedPeer } from '../core/peer-health.js';
import type { PeerClient } from '../core/peers.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import { NodeMetrics } from './metrics.js';

function fakeClient(url: string, answer: () => Promise<never> | Promise<unknown>) {
  let closed = 0;
  const client: PeerClient & { closed(): number } = {
    url,
    get: () => answer() as never,
    set: () => answer() as never,
    remove: () => answer() as never,
    close: () => {
      closed++;
    },
    closed: () => closed,
  };
  return client;
}

/** observed is `inner` as a node asks it: behind its health check, observed by `m`. */
const observed = (m: NodeMetrics, inner: PeerClient) =>
  new HealthCheckedPeer(inner, { observer: m.observer(inner.url) });

const peerLines = async (m: NodeMetrics, url: string) =>
  (await m.registry.metrics()).split('\n').filter((l) => l.includes(`peer="${url}"`));

describe('NodeMetrics and departed peers', () => {
  it("close drops the peer's latency and error series, then closes the client", async () => {
    const m = new NodeMetrics(() => []);
    const a = 'http://a:1';
    let fail = false;
    const inner = fakeClient(a, () =>
      fail
        ? Promise.reject(new UnavailableError('down'))
        : Promise.resolve({ value: new Uint8Array(0), expireAt: 0, minuteQps: 0 }),
    );
    const client = observed(m, inner);
    await client.get('g', 'k');
    fail = true;
    await assert.rejects(client.get('g', 'k'), UnavailableError);
    await assert.rejects(client.remove('g', 'k'), UnavailableError);
    const lines = await peerLines(m, a);
    assert.ok(lines.some((l) => l.startsWith('peercache_peer_request_errors_total')));
    assert.ok(lines.some((l) => l.startsWith('peercache_peer_request_duration_seconds_count')));
    await client.close();
    await client.close();
    assert.equal(
      inner.closed(),
      2,
      'close is forwarded each time (the inner client is idempotent)',
    );
    assert.deepEqual(await peerLines(m, a), []);
    // A request that ends after the close brings no series back.
    await assert.rejects(client.get('g', 'k'), UnavailableError);
    assert.deepEqual(await peerLines(m, a), []);
  });

  it('keeps the series while another client of the same peer is open', async () => {
    const m = new NodeMetrics(() => []);
    const a = 'http://a:1';
    const one = observed(
      m,
      fakeClient(a, () => Promise.reject(new NotFoundError('no'))),
    );
    const two = observed(
      m,
      fakeClient(a, () => Promise.reject(new NotFoundError('no'))),
    );
    await assert.rejects(one.get('g', 'k'), NotFoundError);
    await one.close();
    await assert.rejects(two.get('g', 'k'), NotFoundError);
    const count = (await peerLines(m, a)).find((l) =>
      l.startsWith(
        'peercache_peer_request_duration_seconds_count{peer="http://a:1",op="get",outcome="not_found"}',
      ),
    );
    assert.match(count ?? '', / 2$/);
    await two.close();
    assert.deepEqual(await peerLines(m, a), []);
  });

  it('a peer observed again after its close starts from empty series', async () => {
    const m = new NodeMetrics(() => []);
    const a = 'http://a:1';
    const ok = () => Promise.resolve({ value: new Uint8Array(0), expireAt: 0, minuteQps: 0 });
    const first = observed(m, fakeClient(a, ok));
    await first.get('g', 'k');
    await first.get('g', 'k');
    await first.close();
    const again = observed(m, fakeClient(a, ok));
    await again.get('g', 'k');
    const count = (await peerLines(m, a)).find((l) =>
      l.startsWith(
        'peercache_peer_request_duration_seconds_count{peer="http://a:1",op="get",outcome="ok"}',
      ),
    );
    assert.match(count ?? '', / 1$/);
  });

  it('makes a series on its first request only, and none for a request that ends after the close', async () => {
    const m = new NodeMetrics(() => []);
    const a = 'http://a:1';
    const ok = () => Promise.resolve({ value: new Uint8Array(0), expireAt: 0, minuteQps: 0 });
    const client = observed(m, fakeClient(a, ok));
    assert.deepEqual(await peerLines(m, a), [], 'a peer never asked has no series');
    await client.get('g', 'k');
    const counts = async () =>
      (await peerLines(m, a))
        .filter((l) => l.startsWith('peercache_peer_request_duration_seconds_count'))
        .map((l) => l.replace(/^[^{]*/, ''));
    assert.deepEqual(await counts(), ['{peer="http://a:1",op="get",outcome="ok"} 1']);
    // A set in flight when the peer's last client closes: its series is never made.
    let answer: () => void = () => {};
    const slow = observed(
      m,
      fakeClient(a, () => new Promise((resolve) => (answer = () => resolve(undefined)))),
    );
    const setting = slow.set('g', 'k', new Uint8Array(1), 0);
    await client.close();
    await slow.close();
    answer();
    await setting;
    assert.deepEqual(await peerLines(m, a), []);
  });
});
