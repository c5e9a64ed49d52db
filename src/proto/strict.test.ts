// strict.test.ts: fromBinaryStrict refuses string fields that are not UTF-8, and only those.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { isCacheError } from '../errors.js';
import { GetRequestSchema, SetRequestSchema } from './gen/groupcache_pb.js';
import { HealthCheckRequestSchema } from './gen/grpc/health/v1/health_pb.js';
import { fromBinaryStrict } from './strict.js';

/** raw writes fields 1 and 2 as raw bytes, then field 3 when given. */
function raw(group: number[], key: number[], value?: number[]): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(group));
  w.tag(2, WireType.LengthDelimited).bytes(new Uint8Array(key));
  if (value !== undefined) w.tag(3, WireType.LengthDelimited).bytes(new Uint8Array(value));
  return w.finish();
}

describe('fromBinaryStrict', () => {
  it('decodes well-formed messages as fromBinary does, U+FFFD included', () => {
    const bytes = toBinary(
      SetRequestSchema,
      create(SetRequestSchema, {
        group: 'g',
        key: '\uFFFD ключ 🔑',
        value: new Uint8Array([0x80]),
      }),
    );
    const message = fromBinaryStrict(SetRequestSchema, bytes);
    assert.equal(message.key, '\uFFFD ключ 🔑');
    assert.deepEqual([...message.value], [0x80]);
  });

  it('refuses 0x80 and 0xBF instead of folding them into U+FFFD, naming the field', () => {
    for (const bad of [[0x80], [0xbf], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x61, 0xe2, 0x82]]) {
      assert.throws(
        () => fromBinaryStrict(GetRequestSchema, raw([0x67], bad)),
        (err) => isCacheError(err, 'INVALID_ARGUMENT') && /key is not UTF-8/.test(err.message),
      );
      assert.throws(
        () => fromBinaryStrict(GetRequestSchema, raw(bad, [0x6b])),
        (err) => isCacheError(err, 'INVALID_ARGUMENT') && /group is not UTF-8/.test(err.message),
      );
    }
  });

  it('leaves bytes fields and unknown fields alone', () => {
    const unknown = new BinaryWriter();
    unknown.tag(9, WireType.LengthDelimited).bytes(new Uint8Array([0xff]));
    const bytes = new Uint8Array([...raw([0x67], [0x6b], [0xff, 0x80]), ...unknown.finish()]);
    assert.equal(fromBinaryStrict(SetRequestSchema, bytes).key, 'k');
  });

  it('checks a string field every time it appears: the last one wins, but each must be text', () => {
    const twice = new Uint8Array([...raw([0x67], [0x80]), ...raw([0x67], [0x6b])]);
    assert.throws(() => fromBinaryStrict(GetRequestSchema, twice), /key is not UTF-8/);
  });

  it('passes on what fromBinary throws for bytes that are not a message', () => {
    assert.throws(
      () => fromBinaryStrict(GetRequestSchema, new Uint8Array([0x0a, 0x05, 0x61])),
      (err) => !isCacheError(err),
    );
    // proto3 strings are validated by fromBinary itself.
    assert.throws(() =>
      fromBinaryStrict(HealthCheckRequestSchema, new Uint8Array([0x0a, 0x01, 0x80])),
    );
  });
});
