// exchange-codec.test.ts: the hand-written Exchange encoders write what @bufbuild/protobuf
// reads back as the same messages of groupcache.proto, whatever the fields hold, byte for
// byte as its toBinary writes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  create,
  fromBinary,
  isFieldSet,
  type MessageInitShape,
  toBinary,
} from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  GetManyRequestSchema,
  GetRequestSchema,
  GetResponseSchema,
  RemoveRequestSchema,
  SetRequestSchema,
  StreamErrorSchema,
  type StreamRequest,
  StreamRequestSchema,
  StreamRequestsSchema,
  type StreamResponse,
  StreamResponseSchema,
  StreamResponsesSchema,
} from '../../proto/gen/groupcache_pb.js';
import { encodeRequests, encodeResponses, hasIndex } from './exchange-codec.js';

const text = fc.string({ unit: 'grapheme', maxLength: 20 });
const uint32 = fc.nat({ max: 2 ** 32 - 1 });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
/** A generation: often none (0), else any uint64, past the safe whole numbers too. */
const uint64 = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const bytes = fc.uint8Array({ maxLength: 300 });

const op: fc.Arbitrary<StreamRequest['op']> = fc.oneof(
  fc.record({ group: text, key: text }).map((v) => ({
    case: 'get' as const,
    value: create(GetRequestSchema, v),
  })),
  fc.record({ group: text, key: text }).map((v) => ({
    case: 'remove' as const,
    value: create(RemoveRequestSchema, v),
  })),
  fc.record({ group: text, key: text, value: bytes, expire: int64 }).map((v) => ({
    case: 'set' as const,
    value: create(SetRequestSchema, v),
  })),
  fc.record({ group: text, keys: fc.array(text, { maxLength: 5 }) }).map((v) => ({
    case: 'getMany' as const,
    value: create(GetManyRequestSchema, v),
  })),
  fc.constant({ case: 'cancel' as const, value: true }),
);

const request = fc
  .record({ id: uint32, op, timeoutMs: uint32, traceparent: text, generation: uint64 })
  .map((v) => create(StreamRequestSchema, v));

const response = fc
  .record({
    id: uint32,
    result: fc.oneof(
      fc.constant({ case: undefined }),
      fc
        .record({
          value: bytes,
          minuteQps: fc.double({ noNaN: true }),
          expire: int64,
        })
        .map((v) => ({ case: 'value' as const, value: create(GetResponseSchema, v) })),
      fc.record({ code: uint32, message: text }).map((v) => ({
        case: 'error' as const,
        value: { $typeName: 'groupcachepb.StreamError' as const, ...v },
      })),
    ),
    index: fc.option(uint32, { nil: undefined }),
    // As the server builds answers: a generation only where it has one.
    generation: fc.option(uint64, { nil: undefined }),
  })
  .map(({ id, result, index, generation }) => {
    const r = { $typeName: 'groupcachepb.StreamResponse', id, result } as StreamResponse;
    if (index !== undefined) r.index = index;
    if (generation !== undefined) r.generation = generation;
    return r;
  });

const hex = (b: unknown) => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : b);

/** requestFields are a request's field values (protobuf-es's defaults for those absent). */
function requestFields(r: StreamRequest) {
  const v = r.op.value as Record<string, unknown> | boolean | undefined;
  const field = (name: string) => (typeof v === 'object' ? v[name] : undefined);
  return {
    id: r.id,
    op: r.op.case,
    group: field('group'),
    key: field('key'),
    keys: field('keys'),
    value: hex(field('value')),
    expire: String(field('expire')),
    cancel: typeof v === 'boolean' ? v : undefined,
    timeoutMs: r.timeoutMs,
    traceparent: r.traceparent,
    generation: String(r.generation),
  };
}

/** responseFields are an answer's field values; `hasIndex` tells whether it carries an index. */
function responseFields(r: StreamResponse, indexed: boolean) {
  const { result } = r;
  const value = result.case === 'value' ? result.value : undefined;
  const error = result.case === 'error' ? result.value : undefined;
  return {
    id: r.id,
    result: result.case,
    value: hex(value?.value),
    // -0 travels as 0: a double that is zero is not written.
    minuteQps: value === undefined ? undefined : value.minuteQps === 0 ? 0 : value.minuteQps,
    expire: String(value?.expire),
    code: error?.code,
    message: error?.message,
    index: indexed ? r.index : 'none',
    // Absent from an answer built without one: protobuf-es reads it back as 0.
    generation: String(r.generation ?? 0n),
  };
}

const indexOf = (r: StreamResponse) => isFieldSet(r, StreamResponseSchema.field.index);

/*
 * The messages again, made with create() from only the optional fields the encoders write
 * (those not 0 or empty; a GetResponse's and a SetRequest's value always): toBinary writes
 * each field it is given, so it writes these as the encoders must.
 */

function requestAsWritten(r: StreamRequest): StreamRequest {
  let op: MessageInitShape<typeof StreamRequestSchema>['op'] = r.op;
  if (r.op.case === 'set') {
    const { group, key, value, expire } = r.op.value;
    const set = create(SetRequestSchema, { group, key, value });
    if (expire !== 0n) set.expire = expire;
    op = { case: 'set', value: set };
  }
  const init: MessageInitShape<typeof StreamRequestSchema> = { id: r.id, op };
  if (r.timeoutMs > 0) init.timeoutMs = r.timeoutMs;
  if (r.traceparent !== '') init.traceparent = r.traceparent;
  if (r.generation !== 0n) init.generation = r.generation;
  return create(StreamRequestSchema, init);
}

function responseAsWritten(r: StreamResponse): StreamResponse {
  let result: MessageInitShape<typeof StreamResponseSchema>['result'] = { case: undefined };
  if (r.result.case === 'value') {
    const { value, minuteQps, expire } = r.result.value;
    const g = create(GetResponseSchema, { value });
    if (minuteQps !== 0) g.minuteQps = minuteQps;
    if (expire !== 0n) g.expire = expire;
    result = { case: 'value', value: g };
  } else if (r.result.case === 'error') {
    const { code, message } = r.result.value;
    result = { case: 'error', value: create(StreamErrorSchema, { code, message }) };
  }
  const init: MessageInitShape<typeof StreamResponseSchema> = { id: r.id, result };
  if (hasIndex(r)) init.index = r.index;
  if (r.generation) init.generation = r.generation;
  return create(StreamResponseSchema, init);
}

describe('Exchange codecs', () => {
  it('encodeRequests writes what protobuf-es reads back as the same requests', () => {
    fc.assert(
      fc.property(fc.array(request, { maxLength: 20 }), (requests) => {
        const decoded = fromBinary(StreamRequestsSchema, encodeRequests(requests));
        assert.deepEqual(decoded.requests.map(requestFields), requests.map(requestFields));
      }),
      { numRuns: 300 },
    );
  });

  it('encodeRequests and encodeResponses write what toBinary writes, byte for byte', () => {
    const batches = fc.record({
      requests: fc.array(request, { maxLength: 20 }),
      responses: fc.array(response, { maxLength: 20 }),
    });
    fc.assert(
      fc.property(batches, ({ requests, responses }) => {
        const theirRequests = create(StreamRequestsSchema, {
          requests: requests.map(requestAsWritten),
        });
        assert.deepEqual(
          encodeRequests(requests),
          Buffer.from(toBinary(StreamRequestsSchema, theirRequests)),
        );
        const theirResponses = create(StreamResponsesSchema, {
          responses: responses.map(responseAsWritten),
        });
        assert.deepEqual(
          encodeResponses(responses),
          Buffer.from(toBinary(StreamResponsesSchema, theirResponses)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('encodeResponses writes what protobuf-es reads back as the same answers, an index only where one was set', () => {
    fc.assert(
      fc.property(fc.array(response, { maxLength: 20 }), (responses) => {
        const expected = responses.map((r) => responseFields(r, hasIndex(r)));
        const ours = encodeResponses(responses);
        const theirs = fromBinary(StreamResponsesSchema, ours).responses;
        assert.deepEqual(
          theirs.map((r) => responseFields(r, indexOf(r))),
          expected,
        );
      }),
      { numRuns: 300 },
    );
  });
});
