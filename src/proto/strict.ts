// strict.ts: decoding of protobuf requests that refuses string fields whose bytes are not UTF-8.
import { isUtf8 } from 'node:buffer';
import { type DescMessage, fromBinary, type MessageShape, ScalarType } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { InvalidArgumentError } from '../errors.js';

/**
 * fromBinaryStrict decodes `bytes` as a message of `schema`, as `fromBinary`
 * does, but refuses a message whose string fields are not well-formed UTF-8.
 *
 * proto2 strings (the groupcache messages are proto2, as golang/groupcache's
 * are) are decoded without validation: `fromBinary` turns each malformed
 * sequence into U+FFFD, so the keys `\x80`, `\xBF` and `\uFFFD` would all name
 * the same entry. A key that is not text has no JavaScript string of its own,
 * so it is refused rather than folded.
 *
 * Throws InvalidArgumentError naming the field when a string is not UTF-8, and
 * whatever `fromBinary` throws when the bytes are not a message at all.
 */
export function fromBinaryStrict<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
): MessageShape<Desc> {
  const message = fromBinary(schema, bytes);
  // The bytes decoded, so the walk below meets only well-formed fields.
  const bad = malformedString(schema, bytes, 0);
  if (bad !== undefined) {
    throw new InvalidArgumentError(`bad request: ${bad} is not UTF-8`);
  }
  return message;
}

/** The depth past which nested messages are not walked (fromBinary's own recursion limit). */
const maxDepth = 100;

/**
 * malformedString returns the name of the first string field of `schema` (in
 * nested messages too, as `outer.inner`; map entries are not walked) whose
 * bytes in `bytes` are not UTF-8, or undefined when every one is.
 */
function malformedString(
  schema: DescMessage,
  bytes: Uint8Array,
  depth: number,
): string | undefined {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    const field = schema.fields.find((f) => f.number === number);
    if (field === undefined || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, number);
      continue;
    }
    const payload = reader.bytes();
    const isString =
      (field.fieldKind === 'scalar' ||
        (field.fieldKind === 'list' && field.listKind === 'scalar')) &&
      field.scalar === ScalarType.STRING;
    if (isString && !isUtf8(payload)) return field.name;
    const nested =
      field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message')
        ? field.message
        : undefined;
    if (nested !== undefined && depth < maxDepth) {
      const inner = malformedString(nested, payload, depth + 1);
      if (inner !== undefined) return `${field.name}.${inner}`;
    }
  }
  return undefined;
}
