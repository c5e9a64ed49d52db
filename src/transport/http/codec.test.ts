// codec.test.ts: the hand-written GetResponse encoder against @bufbuild/protobuf's, byte for
// byte, over drawn values, expiries (the whole int64 range) and rates.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, fromBinary, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { GetResponseSchema } from '../../proto/gen/groupcache_pb.js';
import { encodeGetResponse } from './codec.js';

/** reference is the GetResponse as toBinary writes it, fields left out as the encoder leaves them. */
function reference(value: Uint8Array, expire: bigint, minuteQps: number): Uint8Array {
  const init: MessageInitShape<typeof GetResponseSchema> = { value };
  if (minuteQps > 0) init.minuteQps = minuteQps;
  if (expire !== 0n) init.expire = expire;
  return toBinary(GetResponseSchema, create(GetResponseSchema, init));
}

test('encodeGetResponse writes what toBinary writes, and it decodes to the same fields', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 16_000, max: 70_000 }).map((n) => new Uint8Array(n).fill(7)),
      ),
      fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
      fc.oneof(fc.constant(0), fc.double()),
      (value, expire, minuteQps) => {
        const bytes = encodeGetResponse(value, expire, minuteQps);
        assert.deepEqual(Buffer.from(bytes), Buffer.from(reference(value, expire, minuteQps)));
        const decoded = fromBinary(GetResponseSchema, bytes);
        assert.deepEqual(Buffer.from(decoded.value), Buffer.from(value));
        assert.equal(decoded.expire, expire);
      },
    ),
    { numRuns: 300 },
  );
});
