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
  // The int64 as protobuf writes it: two's complement, as an unsigned 64-bit varint.
  const expireBits = expire === 0n ? 0n : BigInt.asUintN(64, expire);
  let size = 1 + varintBytes(length) + length;
  if (withQps) size += 9;
  if (expire !== 0n) size += 1 + varint64Bytes(expireBits);
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
    writeVarint64(out, at + 1, expireBits);
  }
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/** varintBytes is the length of `n` (a non-negative safe integer) as a varint. */
function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/** writeVarint writes `n` (a non-negative safe integer) at `at`; returns the end. */
function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/** varint64Bytes is the length of the unsigned 64-bit `n` as a varint. */
function varint64Bytes(n: bigint): number {
  let bytes = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    bytes++;
  }
  return bytes;
}

/** writeVarint64 writes the unsigned 64-bit `n` at `at`. */
function writeVarint64(out: Uint8Array, at: number, n: bigint): void {
  while (n >= 0x80n) {
    out[at++] = Number(n & 0x7fn) | 0x80;
    n >>= 7n;
  }
  out[at] = Number(n);
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
