// batch-limits.test.ts: a gRPC server refuses a GetMany over the batch limits whole, as a unary
// call and on the Exchange stream, RESOURCE_EXHAUSTED, before any key reaches the group.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { noopLogger } from '../../core/logger.js';
import { MAX_BATCH_KEY_BYTES, MAX_BATCH_KEYS } from '../../limits.js';
import {
  GetManyRequestSchema,
  type GetManyResponse,
  StreamRequestSchema,
  StreamRequestsSchema,
  type StreamResponse,
  type StreamResponses,
} from '../../proto/gen/groupcache_pb.js';
import { until } from '../../util/limits-testing.js';
import { FakeGroup, fakeLookup, utf8 } from '../http/testing.js';
import type { PeerServer, PeerTransport } from '../transport.js';
import { groupCacheMethods } from './service.js';
import { rawExchange } from './testing.js';
import { grpcTransport } from './transport.js';

/** The batches no client of ours sends (it splits them): too many keys, too many bytes of keys. */
const tooMany = Array.from({ length: MAX_BATCH_KEYS + 1 }, (_, i) => `k${i}`);
const tooWide = Array.from({ length: Math.ceil(MAX_BATCH_KEY_BYTES / 4096) + 1 }, (_, i) =>
  `${i}:`.padEnd(4096, 'x'),
);

describe('a gRPC server and a GetMany over the batch limits', () => {
  const group = new FakeGroup('g');
  group.store.set('k0', { value: utf8('v0'), expireAt: 0, minuteQps: 0 });
  let transport: PeerTransport;
  let server: PeerServer;
  let raw: Client;

  before(async () => {
    transport = grpcTransport({ maxKeyBytes: 8192 });
    server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    raw = new Client(`127.0.0.1:${server.address.port}`, credentials.createInsecure());
  });
  after(async () => {
    raw.close();
    await server.close(0);
    await transport.close();
  });

  /** unary sends a unary GetMany of `keys`: its status code, and its answer when OK. */
  const unary = (keys: string[]) =>
    new Promise<{ code: number; answer?: GetManyResponse }>((resolve) => {
      const method = groupCacheMethods.getMany;
      raw.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        create(GetManyRequestSchema, { group: 'g', keys }),
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (err: ServiceError | null, answer?: GetManyResponse) =>
          resolve(err ? { code: err.code } : { code: status.OK, answer }),
      );
    });

  it('as a unary call: RESOURCE_EXHAUSTED, and the server serves on', async () => {
    group.seen.length = 0;
    assert.equal((await unary(tooMany)).code, status.RESOURCE_EXHAUSTED);
    assert.equal((await unary(tooWide)).code, status.RESOURCE_EXHAUSTED);
    assert.deepEqual(group.seen, [], 'no key reached the group');
    const within = await unary(tooMany.slice(0, MAX_BATCH_KEYS));
    assert.equal(within.code, status.OK, 'a batch at the limit is served');
    assert.equal(within.answer?.results.length, MAX_BATCH_KEYS);
    assert.equal(group.seen.length, MAX_BATCH_KEYS);
  });

  it('on the Exchange stream: the request is answered RESOURCE_EXHAUSTED, and the stream serves on', async () => {
    group.seen.length = 0;
    const exchange = rawExchange(server.address.port);
    const call = exchange.call;
    const answers: StreamResponse[] = [];
    call.on('data', (batch: StreamResponses) => answers.push(...batch.responses));
    const getMany = (id: number, keys: string[]) =>
      create(StreamRequestSchema, {
        id,
        op: { case: 'getMany', value: create(GetManyRequestSchema, { group: 'g', keys }) },
      });
    call.write(
      create(StreamRequestsSchema, {
        requests: [getMany(1, tooMany), getMany(2, tooWide), getMany(3, ['k0'])],
      }),
    );
    await until(() => answers.some((a) => a.id === 3));
    const refusal = (id: number) => {
      const found = answers.filter((a) => a.id === id);
      assert.equal(found.length, 1, `request ${id} has one answer, for the whole batch`);
      const result = found[0]?.result;
      return result?.case === 'error' ? result.value.code : undefined;
    };
    assert.deepEqual(
      [refusal(1), refusal(2)],
      [status.RESOURCE_EXHAUSTED, status.RESOURCE_EXHAUSTED],
    );
    const served = answers.find((a) => a.id === 3)?.result;
    assert.equal(served?.case, 'value');
    assert.deepEqual(group.seen, ['k0'], 'only the batch within the limits reached the group');
    call.end();
    await exchange.close();
  });
});
