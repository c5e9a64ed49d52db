// client-limits.test.ts: the tcp client against a hung peer and a stalled connection, over real
// sockets: a bounded queue, requests given up before being written never sent, and a
// connection that made no progress replaced by a fresh one (a dial left unanswered, which
// needs a stopped process, is test/limits/tcp-dial.test.ts).

import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { within } from '../../../test/support/process.js';
import type { GroupLookup, PeerServedGroup } from '../../core/peers.js';
import { FrameReader, FrameType } from './frame.js';
import { type TcpTransport, tcpTransport } from './transport.js';

const MiB = 1024 * 1024;

/** A group whose `slow…` keys answer after the ms in the key on `clock`, others at once. */
function slowGroup(clock: ManualClock): GroupLookup {
  const group: PeerServedGroup = {
    name: 'g',
    getForPeer: async (key) => {
      const slow = /^slow(\d+)$/.exec(key);
      if (slow) await new Promise<void>((r) => clock.setTimeout(r, Number(slow[1])));
      return { value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 };
    },
    setFromPeer: () => {},
    removeFromPeer: () => {},
  };
  return { getGroup: (name) => (name === 'g' ? group : undefined) };
}
const lookup = slowGroup(new ManualClock());
const text = (v: Uint8Array) => Buffer.from(v).toString();
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * pass advances `clock` by `ms` in steps of `stepMs`, so that the sockets are
 * served between the steps as they would be while real time passes.
 */
async function pass(clock: ManualClock, ms: number, stepMs = 50): Promise<void> {
  for (let left = ms; left > 0; left -= stepMs) await clock.advance(Math.min(stepMs, left));
}

/** connected waits for the client's connection to be made (bounded: a hang fails). */
function connected(stats: () => { connected: boolean }): Promise<void> {
  return within(
    (async () => {
      while (!stats().connected) await turn();
    })(),
    5_000,
    'connected',
  );
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('tcp client limits', () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  const transport = (options: Parameters<typeof tcpTransport>[0]): TcpTransport => {
    const t = tcpTransport(options);
    cleanup.push(() => t.close());
    return t;
  };

  it('a peer that stops reading: the queue stays bounded, the excess fails at once, and requests given up unwritten never reach it', async () => {
    // A peer that accepts and does not read until told to, then counts the SETs it receives.
    const sockets: Socket[] = [];
    let sets = 0;
    let pinged: () => void = () => {};
    const pingSeen = new Promise<void>((r) => {
      pinged = r;
    });
    const hung = createServer({ pauseOnConnect: true }, (socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      const reader = new FrameReader(4 * MiB, (buf, start) => {
        if (buf[start] === FrameType.Set) sets++;
        if (buf[start] === FrameType.Ping) pinged();
      });
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
    });
    const port = await listen(hung);
    cleanup.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => hung.close(r));
    });
    // The requests' own timeouts are the subject: no probe for the connection's quiet, which
    // would reset it before the peer reads again.
    const clock = new ManualClock();
    const t = transport({
      maxQueuedBytes: 4 * MiB,
      maxValueBytes: 2 * MiB,
      quietTimeoutMs: Number.POSITIVE_INFINITY,
      clock,
    });
    const peerUrl = `http://127.0.0.1:${port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    const value = Buffer.alloc(MiB, 7);
    // The clock stands still while the 40 calls are made: all of them come before it.
    const deadline = clock.now() + 2_000;
    const outcomes: (string | undefined)[] = [];
    const calls: Promise<void>[] = [];
    const call = (i: number) =>
      client.set('g', `k${i}`, value, 0, { deadline }).then(
        () => {
          outcomes[i] = 'ok';
        },
        (err: { code?: string; message: string }) => {
          outcomes[i] = err.code === 'UNAVAILABLE' ? `refused: ${err.message}` : err.code;
        },
      );
    calls.push(call(0));
    await connected(stats);
    // One SET per turn, so the socket takes what it can between them.
    let maxQueued = 0;
    let maxSocket = 0;
    for (let i = 1; i < 40; i++) {
      calls.push(call(i));
      await turn();
      const s = stats();
      maxQueued = Math.max(maxQueued, s.queuedBytes);
      maxSocket = Math.max(maxSocket, s.socketBufferedBytes);
    }
    const refusedAtOnce = outcomes.filter((o) => o?.startsWith('refused')).length;
    assert.ok(refusedAtOnce > 0, 'past the bound, calls fail at once');
    assert.match(outcomes.find((o) => o?.startsWith('refused')) ?? '', /wait to be sent/);
    assert.ok(maxQueued <= 4 * MiB, `queued at most the bound (${maxQueued})`);
    assert.ok(maxSocket <= MiB + 64 * 1024, `the socket holds at most one frame (${maxSocket})`);
    // The ones still queued now are never written: the peer is not reading.
    const unwritten = stats().queuedRequests;
    assert.ok(unwritten > 0, 'some requests wait in the queue');
    const admitted = 40 - refusedAtOnce;
    await clock.advance(2_000);
    await within(Promise.all(calls), 5_000, 'every call settles');
    assert.equal(
      outcomes.filter((o) => o === 'DEADLINE_EXCEEDED').length,
      admitted,
      'every admitted call timed out',
    );
    // What still waits is small: CANCELs for the written ones and a probe, no values.
    assert.ok(stats().queuedBytes < 1024, 'timed-out requests left the queue');
    // The peer reads again: it gets what was written before the deadline, not the rest.
    for (const s of sockets) s.resume();
    // The probe PING is queued after everything else this client sent: once it arrives,
    // every earlier frame has.
    await within(pingSeen, 5_000, 'the peer reads up to the probe');
    assert.equal(sets, admitted - unwritten, 'exactly the requests written before they timed out');
    assert.equal(stats().dials, 1);
  });

  it('a request aborted before it was written is never sent', async () => {
    // A peer that reads only when told to, and records the keys of the GETs it receives.
    const sockets: Socket[] = [];
    const keys: string[] = [];
    let gotTwo: () => void = () => {};
    const two = new Promise<void>((r) => {
      gotTwo = r;
    });
    const peer = createServer({ pauseOnConnect: true }, (socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      const reader = new FrameReader(MiB, (buf, start, end) => {
        if (buf[start] !== FrameType.Get) return;
        keys.push(buf.toString('utf8', end - 1, end));
        if (keys.length === 2) gotTwo();
      });
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
    });
    const port = await listen(peer);
    cleanup.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => peer.close(r));
    });
    const peerUrl = `http://127.0.0.1:${port}`;
    const t = transport({});
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    const aborted = new AbortController();
    // Nothing is written before the connection is made: these wait in the queue.
    const a = client.get('g', 'a', { signal: aborted.signal });
    const b = client.get('g', 'b', { deadline: Date.now() + 5_000 });
    const c = client.get('g', 'c', { deadline: Date.now() + 5_000 });
    aborted.abort(new Error('the caller gave up'));
    await assert.rejects(a, { code: 'CANCELLED' });
    assert.equal(stats().queuedRequests, 3, 'the HELLO, b and c wait');
    await within(
      (async () => {
        while (sockets.length === 0) await turn();
      })(),
      5_000,
      'accepted',
    );
    for (const s of sockets) s.resume();
    await within(two, 5_000, 'the peer receives the other two');
    assert.deepEqual(keys, ['b', 'c']);
    client.close?.();
    await Promise.allSettled([b, c]);
  });

  it('a connection on which a request timed out and a probe got no answer is reset; the next call dials afresh', async () => {
    const server = transport({});
    const real = await server.serve(lookup, {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    cleanup.push(() => real.close(0));
    // The first connection goes nowhere (a hung peer); later ones reach the real server.
    let accepted = 0;
    let firstError: string | undefined;
    let firstClosed: () => void = () => {};
    const firstGone = new Promise<void>((r) => {
      firstClosed = r;
    });
    const open: Socket[] = [];
    const proxy = createServer((socket) => {
      accepted++;
      open.push(socket);
      if (accepted === 1) {
        socket.on('error', (err: NodeJS.ErrnoException) => {
          firstError = err.code;
        });
        socket.on('close', () => firstClosed());
        return;
      }
      const up = connect(real.address.port, '127.0.0.1');
      open.push(up);
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
      socket.pipe(up).pipe(socket);
    });
    const port = await listen(proxy);
    cleanup.push(async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => proxy.close(r));
    });
    const clock = new ManualClock();
    const t = transport({ requestTimeoutMs: 200, clock });
    const peerUrl = `http://127.0.0.1:${port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    const timedOut = assert.rejects(client.get('g', 'a'), { code: 'DEADLINE_EXCEEDED' });
    await connected(stats);
    // The request times out at 200 ms; the probe sent then is unanswered 200 ms later.
    await pass(clock, 200);
    await timedOut;
    await pass(clock, 200);
    await within(firstGone, 5_000, 'the stalled connection is dropped');
    assert.equal(firstError, 'ECONNRESET', 'dropped with a reset');
    assert.equal(text((await client.get('g', 'b')).value), 'v:b');
    assert.equal(stats().dials, 2);
    assert.equal(accepted, 2);
  });

  it('a connection that reads nothing for a second with a request in flight is probed and, unanswered, reset, long before the request times out', async () => {
    const server = transport({});
    const real = await server.serve(lookup, {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    cleanup.push(() => real.close(0));
    // The first connection goes silent (a link cut with requests on it); later ones reach
    // the real server.
    let accepted = 0;
    let firstError: string | undefined;
    let firstClosed: () => void = () => {};
    const firstGone = new Promise<void>((r) => {
      firstClosed = r;
    });
    const open: Socket[] = [];
    const proxy = createServer((socket) => {
      accepted++;
      open.push(socket);
      if (accepted === 1) {
        socket.on('error', (err: NodeJS.ErrnoException) => {
          firstError = err.code;
        });
        socket.on('close', () => firstClosed());
        return;
      }
      const up = connect(real.address.port, '127.0.0.1');
      open.push(up);
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
      socket.pipe(up).pipe(socket);
    });
    const port = await listen(proxy);
    cleanup.push(async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => proxy.close(r));
    });
    const clock = new ManualClock();
    const t = transport({ requestTimeoutMs: 60_000, clock });
    const peerUrl = `http://127.0.0.1:${port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    const reset = assert.rejects(client.get('g', 'a'), {
      code: 'UNAVAILABLE',
      message: /connection reset/,
    });
    await connected(stats);
    // A second of quiet: probed; a second more with no answer: reset. The request's
    // own timeout is a minute away.
    await pass(clock, 2_000);
    await within(reset, 5_000, 'the silent connection is given up');
    await within(firstGone, 5_000, 'the peer sees the connection go');
    assert.equal(firstError, 'ECONNRESET', 'dropped with a reset');
    assert.equal(text((await client.get('g', 'b')).value), 'v:b');
    assert.equal(stats().dials, 2);
  });

  it('a load slower than the quiet time keeps its connection: the peer answers the probe', async () => {
    const clock = new ManualClock();
    const t = transport({ requestTimeoutMs: 60_000, clock });
    const server = await t.serve(slowGroup(clock), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    cleanup.push(() => server.close(0));
    const peerUrl = `http://127.0.0.1:${server.address.port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    // Three quiet seconds: probed at least once, answered each time.
    const slow = client.get('g', 'slow3000');
    await connected(stats);
    await pass(clock, 3_000);
    assert.equal(text((await within(slow, 5_000, 'the slow load answers')).value), 'v:slow3000');
    assert.equal(stats().dials, 1, 'still the first connection');
  });

  it('the client closes an idle connection before the server would', async () => {
    const clock = new ManualClock();
    const t = transport({ idleTimeoutMs: 400, clock });
    const serverLog: string[] = [];
    const note = (_fields: Record<string, unknown>, message: string) => serverLog.push(message);
    const server = await t.serve(lookup, {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: { debug: note, info: note, warn: note, error: note },
    });
    cleanup.push(() => server.close(0));
    const peerUrl = `http://127.0.0.1:${server.address.port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    assert.equal(text((await client.get('g', 'a')).value), 'v:a');
    // The client's idle time is half the server's here (400 ms is under 5 s).
    await pass(clock, 200);
    await within(
      (async () => {
        while (stats().connected) await turn();
      })(),
      5_000,
      'the client closes its idle connection',
    );
    assert.ok(!serverLog.includes('peer connection closed: idle'), 'the server did not have to');
    assert.equal(text((await client.get('g', 'b')).value), 'v:b');
    assert.equal(stats().dials, 2);
  });

  it('a slow answer alone does not drop a connection: the peer answers the probe', async () => {
    const clock = new ManualClock();
    const t = transport({ requestTimeoutMs: 100, clock });
    const server = await t.serve(slowGroup(clock), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    cleanup.push(() => server.close(0));
    const peerUrl = `http://127.0.0.1:${server.address.port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    const slow = assert.rejects(client.get('g', 'slow400'), { code: 'DEADLINE_EXCEEDED' });
    await connected(stats);
    await pass(clock, 100, 10);
    await slow;
    // The probe sent after the timeout settles (answered, or timed out and the connection reset).
    await pass(clock, 400, 10);
    await within(
      (async () => {
        while (stats().pending > 0) await turn();
      })(),
      5_000,
      'the probe settles',
    );
    assert.equal(text((await client.get('g', 'x')).value), 'v:x');
    assert.equal(stats().dials, 1, 'still the first connection');
  });
});
