// limits.test.ts: the gRPC peer server under hostile and numerous clients, against a real
// server on loopback: the secret checked before a message is read, the receive limit, the cap
// on message bytes in flight, the read and idle timeouts and the connection limit.
import assert from 'node:assert/strict';
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, toBinary } from '@bufbuild/protobuf';
import { TooLargeError, UnauthenticatedError } from '../../errors.js';
import { SetRequestSchema } from '../../proto/gen/groupcache_pb.js';
import { rawConnect, recordingLogger, until } from '../../util/limits-testing.js';
import { deferred, FakeGroup, fakeLookup } from '../http/testing.js';
import type { GrpcPeerServer } from './server.js';
import { grpcTransport } from './transport.js';

const MiB = 1024 * 1024;
const SET = '/groupcachepb.GroupCache/Set';

/** framed is a Set message in gRPC's length-prefixed framing. */
function framedSet(key: string, valueBytes: number): Buffer {
  const message = toBinary(
    SetRequestSchema,
    create(SetRequestSchema, { group: 'g', key, value: new Uint8Array(valueBytes).fill(1) }),
  );
  const frame = Buffer.alloc(5 + message.byteLength);
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** RawCall is one call made with node:http2 directly, so a test decides how much of it to send. */
interface RawCall {
  stream: ClientHttp2Stream;
  /** The call's grpc-status, from the headers of a trailers-only answer or from the trailers. */
  status: Promise<number>;
}

function rawCall(session: ClientHttp2Session, headers: Record<string, string> = {}): RawCall {
  const stream = session.request({
    ':method': 'POST',
    ':path': SET,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  stream.on('error', () => {});
  stream.resume();
  const status = new Promise<number>((resolve) => {
    stream.once('response', (h) => {
      if (h['grpc-status'] !== undefined) resolve(Number(h['grpc-status']));
    });
    stream.once('trailers', (t) => resolve(Number(t['grpc-status'])));
    stream.once('close', () => resolve(-1));
  });
  return { stream, status };
}

describe('gRPC peer server limits', { timeout: 30_000 }, () => {
  const group = new FakeGroup('g');
  const { logger, lines } = recordingLogger();
  let server: GrpcPeerServer;
  let url: string;
  const transport = grpcTransport({
    peerSecret: 'sesame',
    maxValueBytes: MiB,
    // Two Set messages (1 MiB + a key + 64 KiB each) fit, not three.
    maxInflightBytes: 2.5 * MiB,
    readTimeoutMs: 300,
    idleTimeoutMs: 300,
  });

  before(async () => {
    server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger,
    });
    url = `http://127.0.0.1:${server.address.port}`;
  });

  /** open makes a fresh HTTP/2 connection (the server closes idle ones quickly here). */
  function open(): ClientHttp2Session {
    return connect(url).on('error', () => {});
  }

  after(async () => {
    await transport.close();
    await server.close(100);
  });

  it('logs its limits at start', () => {
    const line = lines.find((l) => l.message === 'server limits');
    assert.equal(line?.fields.maxInflightBytes, 2.5 * MiB);
    assert.equal(line?.fields.readTimeoutMs, 300);
  });

  it('refuses an unauthenticated 60 MiB Set before reading its message', async () => {
    const frame = framedSet('big', 60 * MiB);
    const call = rawCall(open());
    // Only the first MiB is sent and the stream is left open: a server that read
    // the message before checking would never answer.
    call.stream.write(frame.subarray(0, MiB));
    assert.equal(await call.status, 16, 'UNAUTHENTICATED');
    call.stream.session?.destroy();
    assert.equal(server.stats().peakInflightBytes, 0, 'no byte of it was reserved');
    assert.deepEqual(group.seen, []);
  });

  it('answers the secret-bearing client normally', async () => {
    const friend = grpcTransport({ peerSecret: 'sesame', maxValueBytes: MiB });
    const stranger = grpcTransport({ maxValueBytes: MiB });
    try {
      await friend.client(url).set('g', 'ok', new Uint8Array(10), 0);
      assert.equal(group.store.get('ok')?.value.byteLength, 10);
      await assert.rejects(
        stranger.client(url).set('g', 'no', new Uint8Array(10), 0),
        UnauthenticatedError,
      );
    } finally {
      await friend.close();
      await stranger.close();
    }
  });

  it('refuses a message over the receive limit with RESOURCE_EXHAUSTED (TooLargeError)', async () => {
    const big = grpcTransport({ peerSecret: 'sesame', maxValueBytes: 4 * MiB });
    try {
      const refused = big.client(url).set('g', 'huge', new Uint8Array(2 * MiB), 0);
      await assert.rejects(refused, TooLargeError);
      await assert.rejects(refused, /RESOURCE_EXHAUSTED/);
    } finally {
      await big.close();
    }
    assert.equal(group.store.has('huge'), false);
    await until(() => server.stats().inflightBytes === 0);
  });

  it('refuses Sets past the bytes in flight with UNAVAILABLE, then takes them again', async () => {
    const auth = { authorization: 'Bearer sesame' };
    const session = open();
    const frames = ['a', 'b'].map((key) => framedSet(key, MiB - 100));
    const held = frames.map((frame) => {
      const call = rawCall(session, auth);
      call.stream.write(frame.subarray(0, 1024));
      return { call, frame };
    });
    await until(() => server.stats().inflightBytes > 2 * MiB);
    const third = rawCall(session, auth);
    third.stream.end(framedSet('c', 10));
    assert.equal(await third.status, 14, 'UNAVAILABLE');
    const stats = server.stats();
    assert.ok(stats.peakInflightBytes <= stats.maxInflightBytes, 'never past the cap');
    assert.equal(stats.refusedRequests, 1);
    for (const { call, frame } of held) call.stream.end(frame.subarray(1024));
    assert.deepEqual(await Promise.all(held.map(({ call }) => call.status)), [0, 0]);
    await until(() => server.stats().inflightBytes === 0);
    const again = rawCall(session, auth);
    again.stream.end(framedSet('c', 10));
    assert.equal(await again.status, 0, 'a later Set fits once the budget is free');
    assert.equal(group.store.get('a')?.value.byteLength, MiB - 100);
    session.destroy();
  });

  it('ends a call whose message stops halfway with DEADLINE_EXCEEDED', async () => {
    const session = open();
    const call = rawCall(session, { authorization: 'Bearer sesame' });
    call.stream.write(framedSet('slow', 1000).subarray(0, 100));
    assert.equal(await call.status, 4, 'DEADLINE_EXCEEDED');
    await until(() => server.stats().inflightBytes === 0);
    assert.equal(group.store.has('slow'), false);
    session.destroy();
  });

  it('closes connections left idle', async () => {
    const silent = await rawConnect(server.address.port);
    await silent.closed;
    const idle = open();
    await new Promise<void>((resolve) => idle.once('close', () => resolve()));
  });
});

describe('gRPC peer server streams per connection', { timeout: 30_000 }, () => {
  it('lets a client queue the calls past maxConcurrentStreams; all are answered', async () => {
    const group = new FakeGroup('g');
    let open = 0;
    let most = 0;
    const gate = deferred();
    group.load = async (key) => {
      open++;
      most = Math.max(most, open);
      await gate.promise;
      open--;
      return { value: new TextEncoder().encode(key), expireAt: 0, minuteQps: 0 };
    };
    // Unary calls, one HTTP/2 stream each (the Exchange stream's own cap is maxStreamRequests).
    const transport = grpcTransport({ maxConcurrentStreams: 2, stream: false });
    const server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: recordingLogger().logger,
    });
    try {
      const client = transport.client(`http://127.0.0.1:${server.address.port}`);
      const gets = ['a', 'b', 'c', 'd', 'e'].map((k) => client.get('g', k));
      await until(() => open >= 2);
      gate.resolve();
      const values = await Promise.all(gets);
      assert.deepEqual(
        values.map((v) => new TextDecoder().decode(v.value)),
        ['a', 'b', 'c', 'd', 'e'],
      );
      assert.equal(most, 2, 'never more than two calls at once on the connection');
    } finally {
      await transport.close();
      await server.close(100);
    }
  });
});

describe('gRPC peer server connection limit', { timeout: 30_000 }, () => {
  it('refuses connections past maxConnections, logs it, and keeps the others working', async () => {
    const group = new FakeGroup('g');
    const { logger, lines } = recordingLogger();
    const transport = grpcTransport({ maxConnections: 4 });
    const server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger,
    });
    const url = `http://127.0.0.1:${server.address.port}`;
    const client = transport.client(url);
    const kept = [];
    try {
      await client.set('g', 'k', new Uint8Array([1]), 0); // the client's connection: 1 of 4
      for (let i = 0; i < 3; i++) kept.push(await rawConnect(server.address.port));
      await until(() => server.stats().connections === 4);
      const excess = await Promise.all(
        Array.from({ length: 3 }, () => rawConnect(server.address.port).catch(() => undefined)),
      );
      await Promise.all(excess.map((c) => c?.closed));
      await until(() => server.stats().refusedConnections === 3);
      const warned = lines.filter((l) => l.level === 'warn' && l.fields.server === 'peer');
      assert.equal(warned.length, 1);
      assert.equal(warned[0]?.fields.refused, 1);
      const got = await client.get('g', 'k');
      assert.deepEqual([...got.value], [1], 'the existing connection still works');
    } finally {
      for (const c of kept) c.socket.destroy();
      await transport.close();
      await server.close(100);
    }
  });
});

describe('gRPC writes and their deadline', { timeout: 10_000 }, () => {
  it('a Set whose message comes after its grpc-timeout is DEADLINE_EXCEEDED and not applied; one in time gets the deadline', async () => {
    const group = new FakeGroup('g');
    const transport = grpcTransport({ maxValueBytes: MiB });
    const server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: recordingLogger().logger,
    });
    const session = connect(`http://127.0.0.1:${server.address.port}`).on('error', () => {});
    try {
      const frame = framedSet('late', 10);
      const late = rawCall(session, { 'grpc-timeout': '20m' });
      // The headers go now and start the 20 ms; the message is finished well after.
      late.stream.write(frame.subarray(0, 1));
      await sleep(100);
      late.stream.end(frame.subarray(1));
      assert.equal(await late.status, 4, 'DEADLINE_EXCEEDED');
      assert.equal(group.store.has('late'), false);
      assert.deepEqual(group.seen, []);

      const before = Date.now();
      const onTime = rawCall(session, { 'grpc-timeout': '60S' });
      onTime.stream.end(framedSet('on-time', 10));
      assert.equal(await onTime.status, 0, 'OK');
      assert.equal(group.store.get('on-time')?.value.byteLength, 10);
      const deadline = group.writeDeadlines.at(-1);
      assert.ok(deadline !== undefined, 'the group was given the deadline');
      assert.ok(deadline >= before + 59_000 && deadline <= Date.now() + 60_000, `${deadline}`);
    } finally {
      session.destroy();
      await transport.close();
      await server.close(0);
    }
  });
});
