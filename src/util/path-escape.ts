// path-escape.ts: percent-encoding of group names and keys in URL path segments, both ways
// (peer URLs, the origin loader's URLs).

import { InvalidArgumentError } from '../errors.js';

const extraReserved = /[!'()*]/g;
const hasExtraReserved = /[!'()*]/;
const needsDecoding = /[%+]/;
const needsPercentDecoding = /%/;

function percentEncodeChar(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}

/**
 * escapePathSegment percent-encodes a group name or key for one URL path segment,
 * so that a Go server (which decodes the path and keeps `+` as `+`) and ours both
 * recover the exact string: every byte outside RFC 3986's unreserved set
 * (`A-Z a-z 0-9 - . _ ~`) is encoded, space as `%20`, `+` as `%2B`, `/` as `%2F`,
 * `%` as `%25`, and non-ASCII as its UTF-8 bytes.
 *
 * Throws InvalidArgumentError for a string with a lone UTF-16 surrogate, which
 * has no UTF-8 form.
 */
export function escapePathSegment(s: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(s);
  } catch (err) {
    throw new InvalidArgumentError('key or group is not valid Unicode (lone surrogate)', {
      cause: err,
    });
  }
  return hasExtraReserved.test(encoded)
    ? encoded.replace(extraReserved, percentEncodeChar)
    : encoded;
}

/**
 * unescapePathSegment decodes one raw URL path segment as peers send it: `%XX`
 * as a byte, `+` as a space (what Go clients mean: they escape with
 * `url.QueryEscape`), the bytes then read as UTF-8. With `plusIsSpace` false
 * (mailgun v2's and groupcache-go's clients escape with `url.PathEscape`, which leaves `+` as
 * is) a `+` stays a `+`. Returns `undefined` when the segment is malformed: a
 * bad `%` escape, a raw non-ASCII character, or bytes that are not valid UTF-8.
 */
export function unescapePathSegment(raw: string, plusIsSpace = true): string | undefined {
  if (!isAscii(raw)) return undefined;
  if (!(plusIsSpace ? needsDecoding : needsPercentDecoding).test(raw)) return raw;
  // decodeURIComponent refuses what this must refuse, with a URIError: a `%` without two
  // hex digits after it, and bytes that are not UTF-8 (overlong forms, surrogates, past
  // U+10FFFF). A `+` becomes a space before decoding, so an escaped `%2B` stays a `+`.
  try {
    return decodeURIComponent(plusIsSpace ? raw.replaceAll('+', ' ') : raw);
  } catch {
    return undefined;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return false;
  }
  return true;
}
