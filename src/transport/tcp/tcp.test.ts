// tcp.test.ts: the tcp transport's connection behaviour: pipelining, the peer secret, a broken
// or refused connection, redialling, and its options.

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { within } from '../../../test/support/process.js';
import { noopLogger } from '../../core/logger.js';
import type { GroupLookup, PeerServedGroup } from '../../core/peers.js';
import { InvalidArgumentError } from '../../errors.js';
import type { PeerServer, PeerTransport } from '../transport.js';
import { tcpTransport } from './transport.js';

/** The time of the group's slow loads: it moves only when a test advances it. */
const loadClock = new ManualClock();

/** A group whose `slow…` keys answer after the ms in the key on {@link loadClock}, others at once. */
const group: PeerServedGroup = {
  name: 'g',
  getForPeer: async (key) => {
    const slow = /^slow(\d+)$/.exec(key);
    if (slow) await new Promise<void>((r) => loadClock.setTimeout(r, Number(slow[1])));
    return { value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 };
  },
  setFromPeer: () => {},
  removeFromPeer: () => {},
};
const lookup: GroupLookup = { getGroup: (name) => (name === 'g' ? group : undefined) };
const text = (v: Uint8Array) => Buffer.from(v).toString();

async function serve(transport: PeerTransport, port = 0): Promise<PeerServer> {
  return transport.serve(lookup, {
    host: '127.0.0.1',
    port,
    signal: new AbortController().signal,
    logger: noopLogger,
  });
}

describe('tcp transport', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('pipelines many requests; answers arrive in any order', async () => {
    const t = tcpTransport();
    const server = await serve(t);
    cleanup.push(
      () => server.close(0),
      () => t.close(),
    );
    const client = t.client(`http://127.0.0.1:${server.address.port}`);
    const order: string[] = [];
    const keys = ['slow80', 'a', 'slow20', 'b', ...Array.from({ length: 200 }, (_, i) => `k${i}`)];
    const pending = Promise.all(
      keys.map((k) =>
        client.get('g', k).then((v) => {
          order.push(k);
          return text(v.value);
        }),
      ),
    );
    // Every answer but the slow ones comes while the slow loads wait; then they end, 20 ms
    // and 80 ms into their loads.
    await within(
      (async () => {
        while (order.length < keys.length - 2) await new Promise((r) => setImmediate(r));
      })(),
      5_000,
      'the quick answers',
    );
    await loadClock.advance(80);
    const got = await pending;
    assert.deepEqual(
      got,
      keys.map((k) => `v:${k}`),
    );
    assert.equal(order.at(-1), 'slow80', 'the slowest answer came last');
    assert.ok(order.indexOf('a') < order.indexOf('slow20'));
  });

  it('refuses a wrong or missing peer secret with UNAUTHENTICATED', async () => {
    const owner = tcpTransport({ peerSecret: 'right' });
    const server = await serve(owner);
    cleanup.push(
      () => server.close(0),
      () => owner.close(),
    );
    const url = `http://127.0.0.1:${server.address.port}`;
    for (const t of [tcpTransport({ peerSecret: 'wrong' }), tcpTransport()]) {
      cleanup.push(() => t.close());
      await assert.rejects(t.client(url).get('g', 'k'), { code: 'UNAUTHENTICATED' });
    }
    const good = tcpTransport({ peerSecret: 'right' });
    cleanup.push(() => good.close());
    assert.equal(text((await good.client(url).get('g', 'k')).value), 'v:k');
  });

  it('a reset connection fails its requests UNAVAILABLE; the next call redials', async () => {
    // A peer that accepts, reads, and resets the first connection.
    const sockets = new Set<Socket>();
    let resets = 1;
    const fake = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => {
        if (resets-- > 0) socket.resetAndDestroy();
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const port = (fake.address() as { port: number }).port;
    const t = tcpTransport();
    cleanup.push(() => t.close());
    const client = t.client(`http://127.0.0.1:${port}`);
    const calls = [client.get('g', 'a'), client.get('g', 'b')];
    for (const call of calls) await assert.rejects(call, { code: 'UNAVAILABLE' });
    // Now the real server takes the port over: the next call dials again and succeeds.
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => fake.close(() => r()));
    const real = await serve(t, port);
    cleanup.push(() => real.close(0));
    assert.equal(text((await client.get('g', 'c')).value), 'v:c');
  });

  it('a peer that never answers: each request times out at its own deadline, on the client', async () => {
    // Accepts and reads, never writes: only the client's timer can end these calls.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanup.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as { port: number }).port;
    const clock = new ManualClock();
    const t = tcpTransport({ requestTimeoutMs: 400, clock });
    cleanup.push(() => t.close());
    const client = t.client(`http://127.0.0.1:${port}`);
    const started = clock.now();
    const settledAt = (p: Promise<unknown>) =>
      p.then(
        () => assert.fail('a silent peer cannot answer'),
        (err: { code?: string }) => {
          assert.equal(err.code, 'DEADLINE_EXCEEDED');
          return clock.now() - started;
        },
      );
    // The later deadline is asked first: the timer must still fire for the earlier one.
    const byDefault = settledAt(client.get('g', 'a'));
    const late = settledAt(client.get('g', 'b', { deadline: started + 250 }));
    const early = settledAt(client.get('g', 'c', { deadline: started + 100 }));
    await clock.advance(400);
    const [d, l, e] = await Promise.all([byDefault, late, early]);
    assert.deepEqual(
      { early: e, late: l, byDefault: d },
      { early: 100, late: 250, byDefault: 400 },
    );
  });

  it('backs off from a peer that refuses connections, then dials it again', async () => {
    const clock = new ManualClock();
    const t = tcpTransport({ minBackoffMs: 200, maxBackoffMs: 200, clock });
    cleanup.push(() => t.close());
    const probe = tcpTransport();
    const server = await serve(probe);
    const port = server.address.port;
    await server.close(0);
    await probe.close();
    const client = t.client(`http://127.0.0.1:${port}`);
    await assert.rejects(client.get('g', 'k'), { code: 'UNAVAILABLE' });
    // Within the backoff the call fails at once, without dialling.
    await assert.rejects(client.get('g', 'k'), /unreachable/);
    const back = await serve(t, port);
    cleanup.push(() => back.close(0));
    await assert.rejects(client.get('g', 'k'), /unreachable/, 'still within the backoff');
    await clock.advance(200);
    assert.equal(text((await client.get('g', 'k')).value), 'v:k');
  });

  it('close is idempotent and fails later calls UNAVAILABLE', async () => {
    const t = tcpTransport();
    const server = await serve(t);
    cleanup.push(() => server.close(0));
    const client = t.client(`http://127.0.0.1:${server.address.port}`);
    await client.get('g', 'k');
    await t.close();
    await t.close();
    await assert.rejects(client.get('g', 'k'), { code: 'UNAVAILABLE' });
  });

  it('refuses bad options with InvalidArgumentError', () => {
    assert.throws(() => tcpTransport({ maxKeyBytes: 70_000 }), InvalidArgumentError);
    assert.throws(() => tcpTransport({ maxValueBytes: -1 }), InvalidArgumentError);
    assert.throws(() => tcpTransport({ requestTimeoutMs: 0 }), InvalidArgumentError);
    assert.throws(() => tcpTransport({ peerSecret: 'has space' }), InvalidArgumentError);
    assert.throws(() => tcpTransport({ minBackoffMs: 10, maxBackoffMs: 5 }), InvalidArgumentError);
    assert.throws(() => tcpTransport().client('ftp://x:1'), InvalidArgumentError);
    for (const name of [
      'maxConnections',
      'maxInflightBytes',
      'maxQueuedRequests',
      'maxQueuedBytes',
      'handshakeTimeoutMs',
      'readTimeoutMs',
      'idleTimeoutMs',
      'connectTimeoutMs',
      'quietTimeoutMs',
    ]) {
      assert.throws(() => tcpTransport({ [name]: 0 }), InvalidArgumentError, `${name}: 0`);
      assert.throws(
        () => tcpTransport({ [name]: Number.NaN }),
        InvalidArgumentError,
        `${name}: NaN`,
      );
    }
  });
});
