// codec.ts: the HTTP transport's protobuf messages (golang/groupcache's GetResponse and
// SetRequest), imported with the transport's first request rather than with the transport.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type GetResponse,
  GetResponseSchema,
  type SetRequest,
  SetRequestSchema,
} from '../../proto/gen/groupcache_pb.js';
import { fromBinaryStrict } from '../../proto/strict.js';
import { int64Size, varintSize, writeInt64, writeVarint } from '../varint.js';

/** Codec is this module, as the client and the server hold it once imported. */
export type Codec = typeof import('./codec.js');

/** decodeGetResponse decodes an owner's answer; throws on a malformed one. */
export function decodeGetResponse(bytes: Uint8Array): GetResponse {
  return fromBinary(GetResponseSchema, bytes);
}

/**
 * encodeGetResponse encodes an answer, byte for byte as `toBinary` of the
 * GetResponse would (field 1, then 2, then 3), written by hand into one buffer:
 * it is the owner's only protobuf work per get. `expire` (ns) and `minuteQps`
 * are left out when 0.
 */
export function encodeGetResponse(
  value: Uint8Array,
  expire: bigint,
  minuteQps: number,
): Uint8Array {
  const length = value.byteLength;
  const withQps = minuteQps > 0;
  let size = 1 + varintSize(length) + length;
  if (withQps) size += 9;
  if (expire !== 0n) size += 1 + int64Size(expire);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x0a; // field 1, length-delimited
  let at = writeVarint(out, 1, length);
  out.set(value, at);
  at += length;
  if (withQps) {
    out[at] = 0x11; // field 2, 64-bit
    out.writeDoubleLE(minuteQps, at + 1);
    at += 9;
  }
  if (expire !== 0n) {
    out[at] = 0x18; // field 3, varint
    writeInt64(out, at + 1, expire);
  }
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/** encodeSetRequest encodes a write; `expire` (ns) is left out when 0. */
export function encodeSetRequest(
  group: string,
  key: string,
  value: Uint8Array,
  expire: bigint,
): Uint8Array {
  const request = create(SetRequestSchema, { group, key, value });
  if (expire !== 0n) request.expire = expire;
  return toBinary(SetRequestSchema, request);
}

/**
 * decodeSetRequest decodes a write, strictly: a group or key that is not UTF-8
 * must not be folded into one that is. Throws on a malformed one.
 */
export function decodeSetRequest(body: Uint8Array): SetRequest {
  return fromBinaryStrict(SetRequestSchema, body);
}
