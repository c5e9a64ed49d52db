// server-limits.test.ts: the tcp server against hostile or broken clients over real sockets: no
// large frame before the HELLO, handshake, read and idle timeouts, maxConnections, and the
// server-wide cap on large frames being received.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { makeTestCerts } from '../../../test/support/certs.js';
import { within } from '../../../test/support/process.js';
import type { Logger } from '../../core/logger.js';
import type { GroupLookup, PeerServedGroup } from '../../core/peers.js';
import { resolveTls } from '../../security/tls.js';
import { encodeHello, encodeRequest, FrameReader, FrameType, LENGTH_BYTES, OK } from './frame.js';
import { serveTcp, type TcpPeerServer, type TcpServerConfig } from './server.js';
import { tcpTransport } from './transport.js';

/** Keys set through the test group, in order. */
const stored: string[] = [];
const group: PeerServedGroup = {
  name: 'g',
  getForPeer: (key) => ({ value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 }),
  setFromPeer: (key) => {
    stored.push(key);
  },
  removeFromPeer: () => {},
};
const lookup: GroupLookup = { getGroup: (name) => (name === 'g' ? group : undefined) };

/** A logger that keeps each message with its fields. */
function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, message, fields });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, lines };
}

const MiB = 1024 * 1024;

function config(logger: Logger, over: Partial<TcpServerConfig> = {}): TcpServerConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    signal: new AbortController().signal,
    logger,
    maxKeyBytes: 256,
    maxValueBytes: 4 * MiB,
    maxInFlight: 64,
    maxConnections: 64,
    maxInflightBytes: 64 * MiB,
    handshakeTimeoutMs: 10_000,
    readTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    ...over,
  };
}

/** Raw is a client socket of our own making, with what it received and when it closed. */
interface Raw {
  socket: Socket;
  /** Resolves when the server closed the connection (or it failed). */
  closed: Promise<void>;
  /** The answer frames received: their id and status. */
  answers: { id: number; status: number }[];
  /** Resolves when `n` answers have arrived. */
  answered(n: number): Promise<void>;
}

async function raw(port: number): Promise<Raw> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const answers: { id: number; status: number }[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const reader = new FrameReader(16 * MiB, (buf, start) => {
    answers.push({ id: buf.readUInt32BE(start + 1), status: buf[start + 5] as number });
    for (const w of waiters) if (answers.length >= w.n) w.resolve();
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    closed,
    answers,
    answered: (n) =>
      answers.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

/** until resolves once `done()` holds, checking every few ms. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
}

const get = (id: number, key: string) =>
  encodeRequest(FrameType.Get, id, 0, 'g', 1, key, Buffer.byteLength(key));
const set = (id: number, key: string, value: Uint8Array) =>
  encodeRequest(FrameType.Set, id, 0, 'g', 1, key, Buffer.byteLength(key), value);

describe('tcp server limits', () => {
  const servers: TcpPeerServer[] = [];
  const sockets: Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) await s.close(0);
  });
  async function start(over: Partial<TcpServerConfig> = {}) {
    const { logger, lines } = recordingLogger();
    const server = await serveTcp(lookup, config(logger, over));
    servers.push(server);
    const open = async () => {
      const r = await raw(server.address.port);
      sockets.push(r.socket);
      return r;
    };
    return { server, lines, open };
  }

  it('closes a connection whose first frame announces more than a HELLO, buffering nothing', async () => {
    const { server, lines, open } = await start({ peerSecret: 'secret', maxValueBytes: 64 * MiB });
    const conns = await Promise.all(Array.from({ length: 20 }, () => open()));
    // A SET header announcing 66 MB, then a first slice of its body.
    const header = Buffer.alloc(LENGTH_BYTES + 5);
    header.writeUInt32BE(66_000_000, 0);
    header[4] = FrameType.Set;
    for (const c of conns) c.socket.write(Buffer.concat([header, Buffer.alloc(256 * 1024, 1)]));
    await within(
      Promise.all(conns.map((c) => c.closed)),
      5_000,
      'the server closes every one of them',
    );
    const warned = lines.filter((l) => l.message.includes('malformed frame'));
    assert.equal(warned.length, 1, 'one warning for the 20, within the log interval');
    assert.match(String(warned[0]?.fields.problem), /bad frame length 66000000/);
    const stats = server.stats();
    assert.equal(stats.connections, 0);
    assert.equal(stats.bufferedBytes, 0);
    assert.equal(stats.reservedBytes, 0);
    // A HELLO with the right secret lifts the limit: the same-sized frame class is read.
    const good = await open();
    good.socket.write(Buffer.concat([encodeHello('secret'), set(1, 'big', Buffer.alloc(MiB, 2))]));
    await within(good.answered(1), 5_000, 'the SET after a HELLO is answered');
    assert.deepEqual(good.answers, [{ id: 1, status: OK }]);
  });

  it('a frame larger than a HELLO is refused before the HELLO, even one byte at a time', async () => {
    const { server, open } = await start();
    const c = await open();
    const header = Buffer.alloc(LENGTH_BYTES);
    header.writeUInt32BE(2_000, 0);
    // The length arrives in pieces: the check still happens on the prefix alone.
    for (const b of header) c.socket.write(Buffer.from([b]));
    await within(c.closed, 5_000, 'closed on the length prefix');
    assert.equal(server.stats().bufferedBytes, 0);
  });

  it('cuts a connection that never says HELLO after handshakeTimeoutMs', async () => {
    const { lines, open } = await start({ handshakeTimeoutMs: 150 });
    const silent = await open();
    // Half a HELLO: a handshake begun is no better than none.
    const slow = await open();
    slow.socket.write(encodeHello(undefined).subarray(0, 6));
    await within(Promise.all([silent.closed, slow.closed]), 5_000, 'both cut');
    const warned = lines.filter((l) => l.message.includes('no HELLO in time'));
    assert.equal(warned.length, 1, 'one line for both, within the log interval');
    assert.equal(warned[0]?.fields.limitMs, 150);
  });

  it('with TLS, cuts a connection that never finishes its TLS handshake', async () => {
    const certs = makeTestCerts();
    try {
      const tls = resolveTls({ cert: certs.node.cert, key: certs.node.key, ca: certs.ca });
      const { lines, open } = await start({ tls, handshakeTimeoutMs: 150 });
      const silent = await open();
      await within(silent.closed, 5_000, 'cut during the TLS handshake');
      assert.ok(lines.some((l) => l.message === 'peer TLS handshake failed'));
    } finally {
      certs.cleanup();
    }
  });

  it('cuts a frame begun and never finished after readTimeoutMs (slowloris), others go on', async () => {
    const { lines, open } = await start({ readTimeoutMs: 150 });
    const slow = await open();
    const frame = set(1, 'k', Buffer.alloc(1000, 3));
    slow.socket.write(Buffer.concat([encodeHello(undefined), frame.subarray(0, 500)]));
    const steady = await open();
    steady.socket.write(encodeHello(undefined));
    await within(slow.closed, 5_000, 'the slow sender is cut');
    assert.ok(lines.some((l) => l.message.includes('a frame was not received in time')));
    steady.socket.write(get(7, 'x'));
    await within(steady.answered(1), 5_000, 'the other connection is still served');
    assert.deepEqual(steady.answers, [{ id: 7, status: OK }]);
  });

  it('closes an idle connection after idleTimeoutMs; the client dials again', async () => {
    const { server, lines, open } = await start({ idleTimeoutMs: 150 });
    const c = await open();
    c.socket.write(Buffer.concat([encodeHello(undefined), get(1, 'a')]));
    await within(c.answered(1), 5_000, 'answered');
    await within(c.closed, 5_000, 'closed once idle');
    assert.ok(lines.some((l) => l.message === 'peer connection closed: idle'));
    const t = tcpTransport();
    try {
      const client = t.client(`http://127.0.0.1:${server.address.port}`);
      assert.equal(Buffer.from((await client.get('g', 'a')).value).toString(), 'v:a');
      // The server closes that connection too once it idles; the next call opens a new one.
      await within(
        until(() => server.stats().connections === 0),
        5_000,
        'closed once idle',
      );
      assert.equal(Buffer.from((await client.get('g', 'b')).value).toString(), 'v:b');
    } finally {
      await t.close();
    }
  });

  it('refuses connections past maxConnections, logs it once, and keeps serving the others', async () => {
    const { server, lines, open } = await start({ maxConnections: 3 });
    const kept = [await open(), await open(), await open()];
    for (const c of kept) c.socket.write(encodeHello(undefined));
    const excess = [await open(), await open(), await open(), await open()];
    await within(
      Promise.all(excess.map((c) => c.closed)),
      5_000,
      'the excess connections are closed',
    );
    const refused = lines.filter((l) => l.message.includes('too many connections'));
    assert.equal(refused.length, 1, 'one log line per interval');
    assert.equal(refused[0]?.fields.maxConnections, 3);
    assert.equal(server.stats().connections, 3);
    for (const [i, c] of kept.entries()) {
      c.socket.write(get(i + 1, `k${i}`));
      await within(c.answered(1), 5_000, 'a kept connection is served');
      assert.equal(c.answers[0]?.status, OK);
    }
    const startLine = lines.find((l) => l.message === 'tcp peer server limits');
    assert.equal(startLine?.fields.maxConnections, 3, 'the limits are logged at start');
  });

  it('holds large frames to maxInflightBytes: the excess waits unread, then all are served', async () => {
    const { server, open } = await start({ maxInflightBytes: MiB });
    stored.length = 0;
    const frameBytes = 2 * MiB;
    const conns = [await open(), await open(), await open()];
    for (const c of conns) c.socket.write(encodeHello(undefined));
    let maxReserved = 0;
    let maxBuffered = 0;
    let sampling = true;
    const sample = () => {
      const s = server.stats();
      maxReserved = Math.max(maxReserved, s.reservedBytes);
      maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
      if (sampling) setImmediate(sample);
    };
    sample();
    // Each sends its frame's first half now and the rest a little later.
    const frames = conns.map((_, i) => set(1, `big${i}`, Buffer.alloc(frameBytes - 64, i)));
    for (const [i, c] of conns.entries()) c.socket.write((frames[i] as Buffer).subarray(0, MiB));
    // One frame is read; the two others wait, their connections not read.
    await within(
      until(() => server.stats().waiting === 2),
      5_000,
      'two frames wait for room',
    );
    assert.equal(server.stats().reservedBytes, (frames[0] as Buffer).length, "one frame's length");
    for (const [i, c] of conns.entries()) c.socket.write((frames[i] as Buffer).subarray(MiB));
    await within(Promise.all(conns.map((c) => c.answered(1))), 10_000, 'every SET is answered');
    sampling = false;
    for (const c of conns) assert.deepEqual(c.answers, [{ id: 1, status: OK }]);
    assert.deepEqual([...stored].sort(), ['big0', 'big1', 'big2']);
    // Each frame is over the cap, so it is read alone: one frame's bytes reserved at a time.
    assert.ok(maxReserved <= frameBytes, `reserved at most one frame (${maxReserved})`);
    // Besides that frame, a waiting connection holds at most what one read brought in.
    assert.ok(
      maxBuffered <= frameBytes + 2 * 64 * 1024,
      `buffered ${maxBuffered} bytes, at most one frame and a read per waiting connection`,
    );
    assert.equal(server.stats().reservedBytes, 0);
  });
});
