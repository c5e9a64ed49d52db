// path-escape.test.ts: tests percent-encoding of group names and keys, both ways.

import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError } from '../errors.js';
import { escapePathSegment, unescapePathSegment } from './path-escape.js';

const tricky = [
  'plain',
  'with space',
  'a+b',
  'a/b/c',
  '100%',
  '%2F',
  'what?',
  'frag#ment',
  "!'()*",
  'é€中文',
  '😀 emoji',
  '\uFEFFbom',
  '\u0000nul\u0001',
  '&=;:@,$[]',
  '..',
  '-._~',
];

describe('escapePathSegment', () => {
  it('encodes the characters a Go server would misread', () => {
    assert.equal(escapePathSegment('a b'), 'a%20b');
    assert.equal(escapePathSegment('a+b'), 'a%2Bb');
    assert.equal(escapePathSegment('a/b'), 'a%2Fb');
    assert.equal(escapePathSegment('50%'), '50%25');
    assert.equal(escapePathSegment('?#'), '%3F%23');
    assert.equal(escapePathSegment("!'()*"), '%21%27%28%29%2A');
  });

  it('encodes non-ASCII as UTF-8 bytes', () => {
    assert.equal(escapePathSegment('é'), '%C3%A9');
    assert.equal(escapePathSegment('😀'), '%F0%9F%98%80');
  });

  it('leaves unreserved characters alone', () => {
    assert.equal(escapePathSegment('AZaz09-._~'), 'AZaz09-._~');
  });

  it('emits only unreserved characters and escapes a Go path decoder reverses', () => {
    for (const s of tricky) {
      const e = escapePathSegment(s);
      assert.match(e, /^([A-Za-z0-9\-._~]|%[0-9A-F]{2})*$/, s);
      // Go's server decodes the path like decodeURIComponent (no '+' rule).
      assert.equal(decodeURIComponent(e), s);
    }
  });

  it('rejects a lone surrogate', () => {
    assert.throws(() => escapePathSegment('a\uD800b'), InvalidArgumentError);
  });
});

describe('unescapePathSegment', () => {
  it('reverses escapePathSegment exactly', () => {
    for (const s of tricky) assert.equal(unescapePathSegment(escapePathSegment(s)), s);
  });

  it('decodes what Go clients send (url.QueryEscape: + is a space)', () => {
    assert.equal(unescapePathSegment('hello+world%2Bx'), 'hello world+x');
    assert.equal(unescapePathSegment('a%2fb%e2%82%ac'), 'a/b€');
  });

  it('keeps unescaped characters as they are', () => {
    assert.equal(unescapePathSegment("a:b@c!d'e"), "a:b@c!d'e");
    assert.equal(unescapePathSegment(''), '');
  });

  it('keeps a byte-order mark', () => {
    assert.equal(unescapePathSegment('%EF%BB%BFx'), '\uFEFFx');
  });

  it('rejects malformed escapes', () => {
    for (const raw of ['%', '%4', 'a%G0', '%E0%A4%A', '%%41']) {
      assert.equal(unescapePathSegment(raw), undefined, raw);
    }
  });

  it('rejects bytes that are not UTF-8', () => {
    for (const raw of ['%FF', '%C3', '%C3%28', '%ED%A0%80']) {
      assert.equal(unescapePathSegment(raw), undefined, raw);
    }
  });

  it('rejects raw non-ASCII characters', () => {
    assert.equal(unescapePathSegment('é'), undefined);
    assert.equal(unescapePathSegment('é%20'), undefined);
  });

  it('agrees with a byte-by-byte decoder on drawn escapes, valid UTF-8 or not', () => {
    const piece = fc.oneof(
      fc.constantFrom('a', 'Z', '0', '-', '+', ':', '%', '%4', '%g1', 'é', ' '),
      fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
      fc.constantFrom('%C0%80', '%F4%90%80%80', '%ED%BF%BF', '%F0%9F%98%80', '%E2%82%AC'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.boolean(), (pieces, plusIsSpace) => {
        const raw = pieces.join('');
        assert.equal(unescapePathSegment(raw, plusIsSpace), byteDecode(raw, plusIsSpace), raw);
      }),
      { numRuns: 2000 },
    );
  });
});

/** byteDecode is the reference: each escape a byte, `+` a space or not, then strict UTF-8. */
function byteDecode(raw: string, plusIsSpace: boolean): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code >= 0x80) return undefined;
    if (code === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(code === 0x2b && plusIsSpace ? 0x20 : code);
    }
  }
  const buf = Buffer.from(bytes);
  return isUtf8(buf) ? buf.toString('utf8') : undefined;
}
