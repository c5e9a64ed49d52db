// grpc.test.ts: property-based fuzzing of the gRPC peer server's decoding: raw, random and
// mutated GetRequest/SetRequest/RemoveRequest bytes sent by a real client to a real server, as
// unary calls and as requests of the Exchange stream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { noopLogger } from '../../src/core/logger.js';
import {
  GetRequestSchema,
  GetResponseSchema,
  type StreamResponse,
  StreamResponsesSchema,
} from '../../src/proto/gen/groupcache_pb.js';
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from '../../src/proto/gen/grpc/health/v1/health_pb.js';
import { GROUP_CACHE_SERVICE, grpcTransport } from '../../src/transport/grpc/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import {
  type Expected,
  expect,
  fuzzRegistry,
  GROUP,
  groupBytes,
  keyBytes,
  LIMITS,
  loaded,
  MALFORMED_UTF8,
  mutated,
} from './fixtures.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from './runs.js';

const seed = fuzzSeed();
const service = '/groupcachepb.GroupCache';
const methods = ['Get', 'Set', 'Remove'] as const;

/** Answer is a call's outcome: its status code and, on OK, the raw response. */
interface Answer {
  code: status;
  details: string;
  response?: Buffer;
}

/** message writes fields 1 (group) and 2 (key) as raw bytes, then any `extra` fields. */
function message(group: Uint8Array, key: Uint8Array, extra?: (w: BinaryWriter) => void): Buffer {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).bytes(group);
  w.tag(2, WireType.LengthDelimited).bytes(key);
  extra?.(w);
  return Buffer.from(w.finish());
}

/** statusFor is the status a peer server must answer a request of `expected` with. */
function statusFor(expected: Expected): status {
  switch (expected.kind) {
    case 'malformed':
    case 'empty key':
      return status.INVALID_ARGUMENT;
    case 'key too large':
      return status.RESOURCE_EXHAUSTED;
    case 'no such group':
      return status.FAILED_PRECONDITION;
    case 'ok':
      return status.OK;
  }
}

describe(`gRPC peer server decoding fuzz (FUZZ_SEED=${seed})`, {
  timeout: fuzzTimeout(60_000),
}, () => {
  let transport: PeerTransport;
  let server: PeerServer;
  let client: Client;

  before(async () => {
    transport = grpcTransport(LIMITS);
    server = await transport.serve(fuzzRegistry(), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    client = new Client(`127.0.0.1:${server.address.port}`, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close(0);
    await transport.close();
  });

  /**
   * call sends `bytes` as the request of `method` (a GroupCache rpc, or a full
   * path), as they are. An INTERNAL or UNAVAILABLE answer is asked again once:
   * the server answers the same bytes the same way, so only a call lost in
   * transport (a reset session on a loaded machine) answers differently.
   */
  async function call(method: string, bytes: Uint8Array): Promise<Answer> {
    const first = await callOnce(method, bytes);
    if (first.code !== status.INTERNAL && first.code !== status.UNAVAILABLE) return first;
    return callOnce(method, bytes);
  }

  function callOnce(method: string, bytes: Uint8Array): Promise<Answer> {
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        method.startsWith('/') ? method : `${service}/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(bytes),
        new Metadata(),
        { deadline: Date.now() + 5_000 },
        (err: ServiceError | null, response?: Buffer) => {
          if (err) resolve({ code: err.code, details: err.details });
          else resolve({ code: status.OK, details: '', response });
        },
      );
    });
  }

  /** getValue asks for `key` and returns the value, failing on any other answer. */
  async function getValue(key: string): Promise<Buffer> {
    const answer = await call(
      'Get',
      toBinary(GetRequestSchema, create(GetRequestSchema, { group: GROUP, key })),
    );
    assert.equal(answer.code, status.OK, `Get ${JSON.stringify(key)}: ${answer.details}`);
    return Buffer.from(fromBinary(GetResponseSchema, answer.response!).value);
  }

  it('refuses keys that are not UTF-8 instead of folding them into U+FFFD', async () => {
    for (const bad of MALFORMED_UTF8) {
      for (const method of methods) {
        const answer = await call(method, message(Buffer.from(GROUP), bad));
        assert.equal(
          answer.code,
          status.INVALID_ARGUMENT,
          `${method} of key ${Buffer.from(bad).toString('hex')}`,
        );
      }
      // Nor may a group name be folded.
      const answer = await call(
        'Get',
        message(Buffer.concat([Buffer.from(GROUP), bad]), Buffer.from('k')),
      );
      assert.equal(answer.code, status.INVALID_ARGUMENT);
    }
    // A value set under U+FFFD is not what 0x80 or 0xBF would name, and is served as itself.
    const set = message(Buffer.from(GROUP), Buffer.from('\uFFFD'), (w) =>
      w.tag(3, WireType.LengthDelimited).bytes(Buffer.from('replacement')),
    );
    assert.equal((await call('Set', set)).code, status.OK);
    assert.equal((await getValue('\uFFFD')).toString(), 'replacement');
    assert.equal(
      (await call('Remove', message(Buffer.from(GROUP), Buffer.from('\uFFFD')))).code,
      status.OK,
    );
  });

  it('answers a Get of any group and key bytes as the model says, and serves the exact key', async () => {
    await fc.assert(
      fc.asyncProperty(groupBytes(), keyBytes(), async (group, key) => {
        const expected = expect(group, key);
        const answer = await call('Get', message(group, key));
        assert.equal(answer.code, statusFor(expected), `${expected.kind}: ${answer.details}`);
        if (expected.kind === 'ok') {
          const value = fromBinary(GetResponseSchema, answer.response!).value;
          assert.equal(Buffer.from(value).toString('utf8'), loaded(expected.key));
        }
      }),
      fuzzRuns(150, seed),
    );
  });

  it('stores a Set under the exact key, and Remove drops exactly that key', async () => {
    await fc.assert(
      fc.asyncProperty(
        groupBytes(),
        keyBytes(),
        fc.uint8Array({ maxLength: LIMITS.maxValueBytes + 16 }),
        async (group, key, value) => {
          const expected = expect(group, key);
          const set = message(group, key, (w) => w.tag(3, WireType.LengthDelimited).bytes(value));
          const answer = await call('Set', set);
          if (expected.kind !== 'ok') {
            assert.equal(
              answer.code,
              statusFor(expected),
              `Set, ${expected.kind}: ${answer.details}`,
            );
            return;
          }
          if (value.byteLength > LIMITS.maxValueBytes) {
            assert.equal(answer.code, status.RESOURCE_EXHAUSTED, answer.details);
            return;
          }
          assert.equal(answer.code, status.OK, answer.details);
          assert.deepEqual(await getValue(expected.key), Buffer.from(value));
          assert.equal((await call('Remove', message(group, key))).code, status.OK);
          assert.equal((await getValue(expected.key)).toString(), loaded(expected.key));
        },
      ),
      fuzzRuns(100, seed),
    );
  });

  it('answers random and mutated messages with a precise status, never INTERNAL, and keeps serving', async () => {
    const valid = fc
      .tuple(
        fc.constantFrom(...methods),
        groupBytes(),
        keyBytes(),
        fc.uint8Array({ maxLength: 64 }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      )
      .map(([method, group, key, value, expire]) => ({
        method,
        bytes: message(group, key, (w) => {
          if (method !== 'Set') return;
          w.tag(3, WireType.LengthDelimited).bytes(value);
          w.tag(4, WireType.Varint).int64(expire);
        }),
      }));
    const input = fc.oneof(
      fc.record({ method: fc.constantFrom(...methods), bytes: fc.uint8Array({ maxLength: 96 }) }),
      valid,
      valid.chain(({ method, bytes }) => mutated(bytes).map((m) => ({ method, bytes: m }))),
    );
    const allowed = new Set([
      status.OK,
      status.INVALID_ARGUMENT,
      status.RESOURCE_EXHAUSTED,
      status.FAILED_PRECONDITION,
    ]);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(input, async ({ method, bytes }) => {
        const answer = await call(method, bytes);
        assert.ok(allowed.has(answer.code), `${method}: ${status[answer.code]} ${answer.details}`);
        const key = `good-${n++}`;
        assert.equal((await getValue(key)).toString(), loaded(key), 'the server still answers');
      }),
      fuzzRuns(150, seed),
    );
  });

  /** StreamAnswer is how an Exchange stream ended and the answers it carried. */
  interface StreamAnswer {
    code: status;
    details: string;
    answers: StreamResponse[];
  }

  /**
   * exchange sends `bytes` as the one message of an Exchange stream, half-closes
   * it, and resolves once the server has ended it: after answering, or at once
   * with INVALID_ARGUMENT when the message does not decode.
   */
  function exchange(bytes: Uint8Array): Promise<StreamAnswer> {
    return new Promise((resolve) => {
      const stream = client.makeBidiStreamRequest(
        `${service}/Exchange`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        new Metadata(),
        { deadline: Date.now() + 5_000 },
      );
      const answers: StreamResponse[] = [];
      stream.on('data', (b: Buffer) =>
        answers.push(...fromBinary(StreamResponsesSchema, b).responses),
      );
      stream.on('error', () => {});
      stream.on('status', (s) => resolve({ code: s.code, details: s.details, answers }));
      stream.write(Buffer.from(bytes));
      stream.end();
    });
  }

  /** batch wraps request bytes in a StreamRequests message: field 1, repeated. */
  function batch(...requests: Uint8Array[]): Uint8Array {
    const w = new BinaryWriter();
    for (const r of requests) w.tag(1, WireType.LengthDelimited).bytes(r);
    return w.finish();
  }

  /** streamRequest is a StreamRequest of `id` whose op is field `op` holding `body`. */
  function streamRequest(id: number, op: number, body: Uint8Array): Uint8Array {
    const w = new BinaryWriter();
    w.tag(1, WireType.Varint).uint32(id);
    w.tag(op, WireType.LengthDelimited).bytes(body);
    return w.finish();
  }

  it('answers a Get of any group and key bytes on the stream as the model says', async () => {
    await fc.assert(
      fc.asyncProperty(groupBytes(), keyBytes(), async (group, key) => {
        const expected = expect(group, key);
        const got = await exchange(batch(streamRequest(7, 2, message(group, key))));
        if (expected.kind === 'malformed') {
          // Not UTF-8: the message as a whole does not decode, and ends the stream.
          assert.equal(got.code, status.INVALID_ARGUMENT, got.details);
          return;
        }
        assert.equal(got.code, status.OK, got.details);
        assert.equal(got.answers.length, 1, `answers: ${got.answers.map((a) => a.result.case)}`);
        const [answer] = got.answers;
        assert.equal(answer!.id, 7);
        const result = answer!.result;
        if (expected.kind === 'ok') {
          assert.equal(
            result.case,
            'value',
            `${result.case}: ${result.case === 'error' ? result.value.message : ''}`,
          );
          const value = result.case === 'value' ? result.value.value : new Uint8Array();
          // The exact key's value: what a unary Get answers (an earlier test may have set it).
          const unary = await getValue(expected.key);
          assert.deepEqual(Buffer.from(value), unary);
        } else {
          const code = result.case === 'error' ? result.value.code : status.OK;
          assert.equal(code, statusFor(expected), `${expected.kind}: ${result.case}`);
        }
      }),
      fuzzRuns(100, seed),
    );
  });

  it('answers random and mutated stream messages by id, or ends the stream INVALID_ARGUMENT, and keeps serving', async () => {
    const op = fc.constantFrom(2, 3, 4, 5);
    const valid = fc
      .tuple(fc.nat(), op, groupBytes(), keyBytes())
      .map(([id, field, group, key]) =>
        batch(
          streamRequest(id, field, message(group, key)),
          streamRequest(id + 1, 6, new Uint8Array()),
        ),
      );
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 96 }),
      valid,
      valid.chain((b) => mutated(b)),
    );
    const allowed = new Set([
      status.OK,
      status.NOT_FOUND,
      status.INVALID_ARGUMENT,
      status.RESOURCE_EXHAUSTED,
      status.FAILED_PRECONDITION,
    ]);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        const got = await exchange(bytes);
        assert.ok(
          got.code === status.OK || got.code === status.INVALID_ARGUMENT,
          `${status[got.code]} ${got.details}`,
        );
        for (const answer of got.answers) {
          const code = answer.result.case === 'error' ? answer.result.value.code : status.OK;
          assert.ok(allowed.has(code), `${status[code]} for request ${answer.id}`);
        }
        const key = `stream-good-${n++}`;
        assert.equal((await getValue(key)).toString(), loaded(key), 'the server still answers');
      }),
      fuzzRuns(150, seed),
    );
  });

  it('answers health checks of any service name or bytes with OK, NOT_FOUND or INVALID_ARGUMENT', async () => {
    const check = '/grpc.health.v1.Health/Check';
    const name = fc.oneof(
      fc.constantFrom('', GROUP_CACHE_SERVICE, `${GROUP_CACHE_SERVICE} `),
      fc.string({ unit: 'binary', maxLength: 20 }),
    );
    const valid = name.map((service) => ({
      service,
      bytes: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })),
    }));
    const input = fc.oneof(
      valid,
      valid.chain(({ bytes }) => mutated(bytes).map((m) => ({ service: undefined, bytes: m }))),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ service: undefined, bytes })),
      // A service name whose bytes are not UTF-8.
      keyBytes().map((b) => {
        const w = new BinaryWriter();
        w.tag(1, WireType.LengthDelimited).bytes(b);
        return { service: undefined, bytes: w.finish() };
      }),
    );
    await fc.assert(
      fc.asyncProperty(input, async ({ service: name, bytes }) => {
        const answer = await call(check, bytes);
        if (name !== undefined) {
          const served = name === '' || name === GROUP_CACHE_SERVICE;
          assert.equal(answer.code, served ? status.OK : status.NOT_FOUND, answer.details);
          if (served) {
            const reply = fromBinary(HealthCheckResponseSchema, answer.response!);
            assert.equal(reply.status, HealthCheckResponse_ServingStatus.SERVING);
          }
          return;
        }
        assert.ok(
          [status.OK, status.NOT_FOUND, status.INVALID_ARGUMENT].includes(answer.code),
          `${status[answer.code]} ${answer.details}`,
        );
      }),
      fuzzRuns(150, seed),
    );
  });
});
