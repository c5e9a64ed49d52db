// grpc.test.ts: the gRPC transport's own promises: the status table over the wire, the health
// service, options, channels and their lifecycle, and logging of server faults.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { Logger } from '../../core/logger.js';
import { noopLogger } from '../../core/logger.js';
import {
  ErrorCode,
  errorFromCode,
  InvalidArgumentError,
  isCacheError,
  peerUnreachable,
} from '../../errors.js';
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from '../../proto/gen/grpc/health/v1/health_pb.js';
import { deferred, FakeGroup, fakeLookup } from '../http/testing.js';
import type { PeerServer, PeerTransport } from '../transport.js';
import { GROUP_CACHE_SERVICE, grpcTransport } from './index.js';
import { errorFromStatus, grpcStatus } from './status.js';

const serveOptions = (logger: Logger = noopLogger) => ({
  host: '127.0.0.1',
  port: 0,
  signal: new AbortController().signal,
  logger,
});

describe('the status table', () => {
  it('maps every error code to a gRPC status and back to the same code', () => {
    for (const code of Object.values(ErrorCode)) {
      const back = errorFromStatus('http://p', 'Get', grpcStatus[code], 'why');
      // A CANCELLED the caller did not ask for means the peer dropped the call.
      const want = code === 'CANCELLED' ? 'UNAVAILABLE' : code;
      assert.equal(back.code, want, `${code} → ${status[grpcStatus[code]]}`);
    }
    assert.equal(grpcStatus.TOO_LARGE, status.RESOURCE_EXHAUSTED);
  });

  it('keeps the owner message for NOT_FOUND and names the peer otherwise', () => {
    assert.equal(
      errorFromStatus('http://p', 'Get', status.NOT_FOUND, 'not found: k').message,
      'not found: k',
    );
    assert.match(
      errorFromStatus('http://p', 'Get', status.INTERNAL, 'boom').message,
      /http:\/\/p.*Get.*INTERNAL.*boom/,
    );
  });

  it('treats statuses it does not know as UNAVAILABLE, so the caller falls back', () => {
    for (const code of [
      status.FAILED_PRECONDITION,
      status.UNIMPLEMENTED,
      status.ABORTED,
      status.UNAVAILABLE,
    ]) {
      const err = errorFromStatus('http://p', 'Get', code, '');
      assert.equal(err.code, 'UNAVAILABLE');
      assert.equal(peerUnreachable(err), true);
    }
  });

  it('marks the peer’s answers remote, so no caller falls back on them', () => {
    for (const code of ['NOT_FOUND', 'INTERNAL', 'INVALID_ARGUMENT', 'UNAUTHENTICATED'] as const) {
      const err = errorFromStatus('http://p', 'Get', grpcStatus[code], 'why');
      assert.equal(err.remote, true, code);
      assert.equal(peerUnreachable(err), false, code);
    }
    // grpc-js gives DEADLINE_EXCEEDED for the call's own deadline too: not an answer.
    const late = errorFromStatus('http://p', 'Get', status.DEADLINE_EXCEEDED, '');
    assert.equal(late.remote, false);
    assert.equal(peerUnreachable(late), true);
  });
});

describe('a gRPC server and client', () => {
  const group = new FakeGroup('g');
  const warnings: string[] = [];
  const logger: Logger = { ...noopLogger, warn: (_fields, message) => warnings.push(message) };
  let transport: PeerTransport;
  let server: PeerServer;
  let url: string;

  before(async () => {
    transport = grpcTransport();
    server = await transport.serve(fakeLookup(group), serveOptions(logger));
    url = `http://127.0.0.1:${server.address.port}`;
  });
  after(async () => {
    await server.close(0);
    await transport.close();
  });

  it('carries every error code of a group across the wire by the table', async () => {
    const client = transport.client(url);
    for (const code of Object.values(ErrorCode)) {
      group.load = async () => {
        throw errorFromCode(code, `the group said ${code}`);
      };
      const err = await client.get('g', 'k').then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      );
      assert.ok(isCacheError(err));
      assert.equal(err.code, code === 'CANCELLED' ? 'UNAVAILABLE' : code, code);
      assert.match(err.message, new RegExp(`the group said ${code}`));
    }
    group.load = undefined;
  });

  it('logs server faults, not a caller’s bad luck', async () => {
    const client = transport.client(url);
    warnings.length = 0;
    await assert.rejects(client.get('g', 'absent'), { code: 'NOT_FOUND' });
    assert.deepEqual(warnings, []);
    group.load = async () => {
      throw new Error('database down');
    };
    await assert.rejects(client.get('g', 'k'), { code: 'INTERNAL' });
    group.load = undefined;
    assert.deepEqual(warnings, ['peer request failed']);
  });

  it('sends any error text safely, however long or odd', async () => {
    const client = transport.client(url);
    group.load = async () => {
      throw new Error(`odd \ud800 text ${'x'.repeat(100_000)}`);
    };
    const err = await client.get('g', 'k').catch((e: unknown) => e);
    group.load = undefined;
    assert.ok(isCacheError(err, 'INTERNAL'));
    assert.match(err.message, /odd \uFFFD text x+…/);
    assert.ok(err.message.length < 2_000);
    // And the server still serves.
    group.store.set('ok', { value: Uint8Array.of(1), expireAt: 0, minuteQps: 0 });
    assert.deepEqual((await client.get('g', 'ok')).value, Uint8Array.of(1));
  });

  it('gives a peer value a buffer of its own', async () => {
    // Larger than what Node's buffer pool serves, so the copy's buffer is its own exactly.
    const value = new Uint8Array(5000).fill(7);
    group.store.set('own', { value, expireAt: 0, minuteQps: 2.5 });
    const got = await transport.client(url).get('g', 'own');
    assert.deepEqual(got.value, value);
    assert.equal(got.value.byteOffset, 0);
    assert.equal(got.value.buffer.byteLength, 5000);
    assert.equal(got.owned, true, 'answered as owned: the group need not copy it again');
    assert.equal(got.minuteQps, 2.5);
  });

  it('answers grpc.health.v1.Health/Check for the server and the peer service', async () => {
    const host = new URL(url).host;
    assert.equal(await healthCheck(host, ''), HealthCheckResponse_ServingStatus.SERVING);
    assert.equal(
      await healthCheck(host, GROUP_CACHE_SERVICE),
      HealthCheckResponse_ServingStatus.SERVING,
    );
    assert.equal(await healthCheck(host, 'some.Other'), status.NOT_FOUND);
  });
});

describe('a closing gRPC server', () => {
  it('drains in-flight calls while refusing new ones, health checks included', async () => {
    const group = new FakeGroup('g');
    const release = deferred<void>();
    const started = deferred<void>();
    group.load = async () => {
      started.resolve();
      await release.promise;
      return { value: Uint8Array.of(7), expireAt: 0, minuteQps: 0 };
    };
    const transport = grpcTransport();
    const server = await transport.serve(fakeLookup(group), serveOptions());
    try {
      const url = `http://127.0.0.1:${server.address.port}`;
      const host = new URL(url).host;
      // A health client connected before the close: its connection stays open while draining.
      const health = new Client(host, credentials.createInsecure());
      assert.equal(await healthCheck(host, '', health), HealthCheckResponse_ServingStatus.SERVING);
      const call = transport.client(url).get('g', 'k');
      await started.promise;
      const closing = server.close(5_000);
      assert.equal(await healthCheck(host, '', health), status.UNAVAILABLE);
      health.close();
      release.resolve();
      assert.deepEqual((await call).value, Uint8Array.of(7));
      await closing;
    } finally {
      release.resolve();
      await server.close(0);
      await transport.close();
    }
  });
});

describe('grpcTransport options and lifecycle', () => {
  it('refuses bad options with InvalidArgumentError', () => {
    assert.throws(() => grpcTransport({ maxValueBytes: -1 }), InvalidArgumentError);
    assert.throws(() => grpcTransport({ maxValueBytes: 1.5 }), InvalidArgumentError);
    assert.throws(() => grpcTransport({ maxKeyBytes: 0 }), InvalidArgumentError);
    assert.throws(() => grpcTransport({ requestTimeoutMs: 0 }), InvalidArgumentError);
    assert.throws(() => grpcTransport({ requestTimeoutMs: Number.NaN }), InvalidArgumentError);
  });

  it('keeps one client per peer URL, and refuses URLs it cannot dial', async () => {
    const transport = grpcTransport();
    assert.equal(transport.name, 'grpc');
    const a = transport.client('http://127.0.0.1:1');
    assert.equal(transport.client('http://127.0.0.1:1'), a);
    assert.notEqual(transport.client('http://127.0.0.1:2'), a);
    assert.equal(a.url, 'http://127.0.0.1:1');
    // https:// peers are dialled with TLS (see test/security); other schemes cannot be dialled.
    assert.equal(transport.client('https://127.0.0.1:3').url, 'https://127.0.0.1:3');
    assert.throws(() => transport.client('ftp://127.0.0.1:3'), InvalidArgumentError);
    assert.throws(() => transport.client('not a url'), InvalidArgumentError);
    await transport.close();
  });

  it('close is idempotent; calls after it fail UNAVAILABLE without a hang', async () => {
    const group = new FakeGroup('g');
    group.store.set('k', { value: Uint8Array.of(1), expireAt: 0, minuteQps: 0 });
    const transport = grpcTransport();
    const server = await transport.serve(fakeLookup(group), serveOptions());
    const url = `http://127.0.0.1:${server.address.port}`;
    assert.deepEqual((await transport.client(url).get('g', 'k')).value, Uint8Array.of(1));
    await transport.close();
    await transport.close();
    await assert.rejects(transport.client(url).get('g', 'k'), { code: 'UNAVAILABLE' });
    await assert.rejects(transport.client('http://127.0.0.1:9').get('g', 'k'), {
      code: 'UNAVAILABLE',
    });
    const first = server.close(0);
    assert.equal(server.close(0), first);
    await first;
  });

  it("a client's close releases it: its calls fail, the URL gets a fresh client", async () => {
    const group = new FakeGroup('g');
    group.store.set('k', { value: Uint8Array.of(1), expireAt: 0, minuteQps: 0 });
    const transport = grpcTransport();
    const server = await transport.serve(fakeLookup(group), serveOptions());
    try {
      const url = `http://127.0.0.1:${server.address.port}`;
      const old = transport.client(url);
      assert.deepEqual((await old.get('g', 'k')).value, Uint8Array.of(1));
      old.close?.();
      await assert.rejects(old.get('g', 'k'), { code: 'UNAVAILABLE' });
      const fresh = transport.client(url);
      assert.notEqual(fresh, old);
      assert.deepEqual((await fresh.get('g', 'k')).value, Uint8Array.of(1));
    } finally {
      await transport.close();
      await server.close(0);
    }
  });

  it('serve rejects when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const transport = grpcTransport();
    try {
      await assert.rejects(transport.serve(fakeLookup(), { ...serveOptions(), port }), /./);
    } finally {
      await transport.close();
      await new Promise((r) => blocker.close(r));
    }
  });

  it('refuses a set over maxValueBytes before sending it', async () => {
    const transport = grpcTransport({ maxValueBytes: 10 });
    // Nothing listens there: a refusal before sending is the only way to get TOO_LARGE.
    const client = transport.client('http://127.0.0.1:9');
    await assert.rejects(client.set('g', 'k', new Uint8Array(11), 0), { code: 'TOO_LARGE' });
    await transport.close();
  });
});

/** healthCheck asks `host` about `service`: the serving status, or the failed call's status code. */
async function healthCheck(host: string, service: string, client?: Client): Promise<number> {
  const own = client ?? new Client(host, credentials.createInsecure());
  try {
    return await new Promise<number>((resolve) => {
      own.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (m: Uint8Array) => Buffer.from(m),
        (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
        toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })),
        new Metadata(),
        { deadline: Date.now() + 5_000 },
        (err: ServiceError | null, res?: { status: number }) =>
          resolve(err ? err.code : (res?.status ?? -1)),
      );
    });
  } finally {
    if (client === undefined) own.close();
  }
}
