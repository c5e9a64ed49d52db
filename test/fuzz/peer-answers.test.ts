// peer-answers.test.ts: property-based fuzzing of how the HTTP, gRPC and tcp peer clients decode
// answers: any status, body or GetResponse bytes from a peer give the decoded value or a
// CacheError, never another exception.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { after, before, describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  Server as GrpcServer,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import fc from 'fast-check';
import type { PeerClient, PeerValue } from '../../src/core/peers.js';
import { CacheError, isCacheError, peerUnreachable } from '../../src/errors.js';
import { GetResponseSchema } from '../../src/proto/gen/groupcache_pb.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { httpTransport } from '../../src/transport/http/index.js';
import {
  codeOf,
  FrameReader,
  FrameType,
  HEADER_BYTES,
  LENGTH_BYTES,
  OK,
} from '../../src/transport/tcp/frame.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import type { PeerTransport } from '../../src/transport/transport.js';
import { GROUP, LIMITS, mutated } from './fixtures.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from './runs.js';

const seed = fuzzSeed();

/** getResponse draws the bytes of an answer to a Get: well-formed, mutated or random. */
const getResponse: fc.Arbitrary<Uint8Array> = (() => {
  const valid = fc
    .record({
      value: fc.uint8Array({ maxLength: LIMITS.maxValueBytes + 8 }),
      minuteQps: fc.double(),
      expire: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    })
    .map((init) => toBinary(GetResponseSchema, create(GetResponseSchema, init)));
  return fc.oneof(valid, valid.chain(mutated), fc.uint8Array({ maxLength: 64 }));
})();

/**
 * checkGet runs `get` and checks its outcome against `bytes`, the answer sent:
 * the decoded value when the bytes are a GetResponse within the limit, else a CacheError.
 */
async function checkGet(client: PeerClient, bytes: Uint8Array, ok: boolean): Promise<void> {
  let want: Uint8Array | undefined;
  if (ok) {
    try {
      const message = fromBinary(GetResponseSchema, bytes);
      if (message.value.byteLength <= LIMITS.maxValueBytes) want = message.value;
    } catch {
      // Malformed: the client must fail the call.
    }
  }
  let got = await outcome(client);
  if (want !== undefined && got instanceof CacheError && peerUnreachable(got)) {
    // A good answer lost on the way (a connection reset on a loaded machine) says
    // nothing of decoding, and a decoding fault would repeat: ask once more.
    got = await outcome(client);
  }
  if (want === undefined) {
    assert.ok(got instanceof CacheError, 'a bad answer was taken as a value');
    return;
  }
  assert.ok(!(got instanceof CacheError), `a good answer failed: ${String(got)}`);
  assert.deepEqual(Buffer.from(got.value), Buffer.from(want));
  assert.ok(Number.isFinite(got.expireAt) && got.expireAt >= 0, `expireAt ${got.expireAt}`);
  assert.ok(Number.isFinite(got.minuteQps) && got.minuteQps >= 0, `qps ${got.minuteQps}`);
}

/** outcome is what a Get of the stand-in peer gives: a value, or the CacheError it failed with. */
async function outcome(client: PeerClient): Promise<PeerValue | CacheError> {
  try {
    return await client.get(GROUP, 'k');
  } catch (err) {
    assert.ok(isCacheError(err), `a CacheError, got ${String(err)}`);
    return err;
  }
}

describe(`HTTP peer client answer fuzz (FUZZ_SEED=${seed})`, {
  timeout: fuzzTimeout(60_000),
}, () => {
  let fake: Server;
  let transport: PeerTransport;
  let client: PeerClient;
  let answer: { status: number; body: Uint8Array; type: string } = {
    status: 200,
    body: new Uint8Array(0),
    type: 'application/x-protobuf',
  };

  before(async () => {
    // A stand-in peer that answers whatever the property chose.
    fake = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(answer.status, { 'content-type': answer.type });
        res.end(answer.body);
      });
    });
    fake.listen(0, '127.0.0.1');
    await once(fake, 'listening');
    transport = httpTransport({ ...LIMITS, requestTimeoutMs: 5_000 });
    client = transport.client(`http://127.0.0.1:${(fake.address() as AddressInfo).port}`);
  });
  after(async () => {
    await transport.close();
    fake.closeAllConnections();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  it('turns any answer into the value it encodes or a CacheError', async () => {
    const statusCode = fc.oneof(
      { weight: 3, arbitrary: fc.constant(200) },
      { weight: 1, arbitrary: fc.integer({ min: 201, max: 599 }) },
    );
    await fc.assert(
      fc.asyncProperty(statusCode, getResponse, fc.boolean(), async (code, body, text) => {
        answer = {
          status: code,
          body,
          type: text ? 'text/plain; charset=utf-8' : 'application/x-protobuf',
        };
        await checkGet(client, body, code === 200);
        // Set and Remove read no body: any 200 is a success, anything else a CacheError.
        for (const call of [
          () => client.set(GROUP, 'k', new Uint8Array(1), 0),
          () => client.remove(GROUP, 'k'),
        ]) {
          try {
            await call();
            assert.equal(code, 200);
          } catch (err) {
            assert.ok(isCacheError(err), `a CacheError, got ${String(err)}`);
            assert.notEqual(code, 200);
          }
        }
      }),
      fuzzRuns(150, seed),
    );
  });
});

describe(`gRPC peer client answer fuzz (FUZZ_SEED=${seed})`, {
  timeout: fuzzTimeout(60_000),
}, () => {
  let fake: GrpcServer;
  let transport: PeerTransport;
  let client: PeerClient;
  let answer: { code: status; details: string; body: Uint8Array } = {
    code: status.OK,
    details: '',
    body: new Uint8Array(0),
  };

  before(async () => {
    // A stand-in peer whose answers are raw bytes, so they need not decode.
    fake = new GrpcServer();
    const raw = {
      path: '/groupcachepb.GroupCache/Get',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    };
    fake.addService(
      { get: raw },
      {
        get: (_call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => {
          if (answer.code === status.OK) done(null, Buffer.from(answer.body));
          else done({ code: answer.code, details: answer.details });
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      fake.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    transport = grpcTransport({ ...LIMITS, requestTimeoutMs: 5_000 });
    client = transport.client(`http://127.0.0.1:${port}`);
  });
  after(async () => {
    await transport.close();
    fake.forceShutdown();
  });

  it('turns any answer into the value it encodes or a CacheError', async () => {
    const code = fc.oneof(
      { weight: 3, arbitrary: fc.constant(status.OK) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 16 }) as fc.Arbitrary<status> },
    );
    await fc.assert(
      fc.asyncProperty(
        code,
        fc.string({ maxLength: 40 }),
        getResponse,
        async (c, details, body) => {
          answer = { code: c, details, body };
          await checkGet(client, body, c === status.OK);
        },
      ),
      fuzzRuns(150, seed),
    );
  });
});

describe(`tcp peer client answer fuzz (FUZZ_SEED=${seed})`, {
  timeout: fuzzTimeout(60_000),
}, () => {
  let fake: NetServer;
  const sockets = new Set<Socket>();
  let transport: PeerTransport;
  let client: PeerClient;
  let answer: { status: number; body: Uint8Array } = { status: OK, body: new Uint8Array(0) };

  before(async () => {
    // A stand-in peer that answers each request, under its own id, with the chosen status and body.
    fake = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      const reader = new FrameReader(1 << 20, (buf, start) => {
        if (buf[start] === FrameType.Hello || buf[start] === FrameType.Cancel) return;
        const frame = Buffer.alloc(LENGTH_BYTES + HEADER_BYTES + 1 + answer.body.byteLength);
        frame.writeUInt32BE(frame.length - LENGTH_BYTES, 0);
        frame[4] = FrameType.Response;
        frame.writeUInt32BE(buf.readUInt32BE(start + 1), 5);
        frame[9] = answer.status;
        frame.set(answer.body, 10);
        socket.write(frame);
      });
      socket.on('data', (chunk) => reader.push(chunk));
    });
    fake.listen(0, '127.0.0.1');
    await once(fake, 'listening');
    transport = tcpTransport({ ...LIMITS, requestTimeoutMs: 5_000, minBackoffMs: 0 });
    client = transport.client(`http://127.0.0.1:${(fake.address() as AddressInfo).port}`);
  });
  after(async () => {
    await transport.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  it('turns any status and body into the value they encode or a CacheError', async () => {
    // An OK GET body: expireAt and minuteQps (doubles), then the value.
    const okBody = fc
      .tuple(fc.double(), fc.double(), fc.uint8Array({ maxLength: LIMITS.maxValueBytes + 8 }))
      .map(([expireAt, qps, value]) => {
        const head = Buffer.alloc(16);
        head.writeDoubleBE(expireAt, 0);
        head.writeDoubleBE(qps, 8);
        return new Uint8Array(Buffer.concat([head, value]));
      });
    const body = fc.oneof(okBody, okBody.chain(mutated), fc.uint8Array({ maxLength: 40 }));
    const statusByte = fc.oneof(
      { weight: 3, arbitrary: fc.constant(OK) },
      { weight: 1, arbitrary: fc.nat(255) },
    );
    await fc.assert(
      fc.asyncProperty(statusByte, body, async (status, bytes) => {
        answer = { status, body: bytes };
        const value = Buffer.from(bytes).subarray(16);
        const good =
          status === OK && bytes.byteLength >= 16 && value.length <= LIMITS.maxValueBytes;
        try {
          const got = await client.get(GROUP, 'k');
          assert.ok(good, `status ${status} and ${bytes.byteLength} bytes were taken as a value`);
          assert.deepEqual(Buffer.from(got.value), value);
          assert.ok(Number.isFinite(got.expireAt) && got.expireAt >= 0, `expireAt ${got.expireAt}`);
          assert.ok(Number.isFinite(got.minuteQps) && got.minuteQps >= 0, `qps ${got.minuteQps}`);
        } catch (err) {
          assert.ok(isCacheError(err), `a CacheError, got ${String(err)}`);
          assert.ok(!good, `a good answer failed: ${String(err)}`);
          if (status !== OK && codeOf(status) === 'NOT_FOUND')
            assert.ok(isCacheError(err, 'NOT_FOUND'));
        }
      }),
      fuzzRuns(150, seed),
    );
  });
});
