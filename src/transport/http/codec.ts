// codec.ts: the HTTP transport's protobuf messages (golang/groupcache's GetResponse and
// SetRequest), imported with the transport's first request rather than with the transport.
import { create, fromBinary, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
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

/** encodeGetResponse encodes an answer; `expire` (ns) and `minuteQps` are left out when 0. */
export function encodeGetResponse(
  value: Uint8Array,
  expire: bigint,
  minuteQps: number,
): Uint8Array {
  const init: MessageInitShape<typeof GetResponseSchema> = { value };
  if (minuteQps > 0) init.minuteQps = minuteQps;
  if (expire !== 0n) init.expire = expire;
  return toBinary(GetResponseSchema, create(GetResponseSchema, init));
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
