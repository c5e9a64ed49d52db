// http-peer.test.ts: property-based fuzzing of the HTTP peer server's decoding: request paths
// (percent-encoding, the group/key split, UTF-8), methods and SetRequest bodies, sent byte for
// byte to a real server over loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { noopLogger } from '../../src/core/logger.js';
import { isCacheError } from '../../src/errors.js';
import { GetResponseSchema } from '../../src/proto/gen/groupcache_pb.js';
import { httpTransport } from '../../src/transport/http/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { escapePathSegment, unescapePathSegment } from '../../src/util/path-escape.js';
import { type RawAnswer, rawRequest } from '../support/raw-http.js';
import {
  type Expected,
  expect,
  fuzzRegistry,
  GROUP,
  groupBytes,
  keyBytes,
  LIMITS,
  loaded,
  MALFORMED_UTF8,
  mutated,
} from './fixtures.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from './runs.js';

const seed = fuzzSeed();
const base = '/_groupcache/';
const unreserved = /^[A-Za-z0-9\-._~]$/;

/** Style is how one byte of a path segment is written: raw when it may be, `+`, or `%xx`/`%XX`. */
type Style = 'raw' | 'plus' | 'lower' | 'upper';

/** writeSegment writes `bytes` as a path segment, each byte in one of the ways a peer may write it. */
function writeSegment(bytes: Uint8Array, styles: Style[]): string {
  let out = '';
  bytes.forEach((b, i) => {
    const style = styles[i % Math.max(1, styles.length)] ?? 'upper';
    const c = String.fromCharCode(b);
    if (style === 'raw' && unreserved.test(c)) out += c;
    else if (style === 'plus' && b === 0x20) out += '+';
    else {
      const hex = b.toString(16).padStart(2, '0');
      out += `%${style === 'lower' ? hex : hex.toUpperCase()}`;
    }
  });
  return out;
}

const styles = fc.array(fc.constantFrom<Style>('raw', 'plus', 'lower', 'upper'), {
  minLength: 1,
  maxLength: 8,
});

/** statusFor is the status an HTTP peer server must answer a GET of `expected` with. */
function statusFor(expected: Expected): number {
  switch (expected.kind) {
    case 'malformed':
    case 'empty key':
      return 400;
    case 'key too large':
      return 414;
    case 'no such group':
      return 404;
    case 'ok':
      return 200;
  }
}

/** setRequest writes a SetRequest whose group and key are raw bytes. */
function setRequest(group: Uint8Array, key: Uint8Array, value: Uint8Array): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).bytes(group);
  w.tag(2, WireType.LengthDelimited).bytes(key);
  w.tag(3, WireType.LengthDelimited).bytes(value);
  return w.finish();
}

describe(`HTTP peer path escaping fuzz (FUZZ_SEED=${seed})`, () => {
  it('unescapePathSegment inverts escapePathSegment for any text, into one plain ASCII segment', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), (text) => {
        const segment = escapePathSegment(text);
        assert.match(segment, /^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$/);
        assert.equal(unescapePathSegment(segment), text);
      }),
      fuzzRuns(1000, seed),
    );
  });

  it('escapePathSegment refuses a lone surrogate with InvalidArgumentError', () => {
    const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), lone, fc.string({ maxLength: 6 }), (a, bad, b) => {
        assert.throws(
          () => escapePathSegment(`${a}${bad}${b}`),
          (err) => isCacheError(err, 'INVALID_ARGUMENT'),
        );
      }),
      fuzzRuns(300, seed),
    );
  });

  it('unescapePathSegment reads any raw segment as its UTF-8 text, or refuses it', () => {
    const raw = fc.oneof(
      fc.stringMatching(/^(%[0-9a-fA-F]{2}|%[0-9a-zA-Z]{0,2}|[+a-z/.~]|[\x80-\xff])*$/),
      fc.string({ maxLength: 16 }),
    );
    fc.assert(
      fc.property(raw, (segment) => {
        const text = unescapePathSegment(segment);
        if (text === undefined) return;
        // What it read is text, and escaping it again and reading that gives it back.
        assert.ok(text.isWellFormed());
        assert.equal(unescapePathSegment(escapePathSegment(text)), text);
      }),
      fuzzRuns(1000, seed),
    );
  });
});

describe(`HTTP peer server decoding fuzz (FUZZ_SEED=${seed})`, {
  timeout: fuzzTimeout(60_000),
}, () => {
  let transport: PeerTransport;
  let server: PeerServer;
  let origin: string;
  let good = 0;

  before(async () => {
    transport = httpTransport(LIMITS);
    server = await transport.serve(fuzzRegistry(), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    origin = `http://127.0.0.1:${server.address.port}`;
  });
  after(async () => {
    await server.close(0);
    await transport.close();
  });

  const send = (method: string, target: string, body?: Uint8Array): Promise<RawAnswer> =>
    rawRequest({
      origin,
      method,
      target,
      ...(body === undefined
        ? {}
        : { body, headers: { 'content-length': String(body.byteLength) } }),
    });

  /** value GETs `key` of the group and returns the value's bytes, failing on any other answer. */
  async function value(key: string): Promise<Buffer> {
    const answer = await send('GET', `${base}${GROUP}/${encodeURIComponent(key)}`);
    assert.equal(answer.status, 200, `GET ${JSON.stringify(key)}: ${answer.text}`);
    return Buffer.from(fromBinary(GetResponseSchema, answer.body).value);
  }

  /** stillServes checks that a good request, after a bad one, is answered right. */
  async function stillServes(): Promise<void> {
    const key = `good ${good++}`;
    assert.equal((await value(key)).toString(), loaded(key), 'the server still answers');
  }

  it('answers a GET of any escaped group and key bytes as the model says, and serves the exact key', async () => {
    await fc.assert(
      fc.asyncProperty(groupBytes(), keyBytes(), styles, async (group, key, how) => {
        const expected = expect(group, key);
        const answer = await send(
          'GET',
          `${base}${writeSegment(group, how)}/${writeSegment(key, how)}`,
        );
        assert.equal(answer.status, statusFor(expected), `${expected.kind}: ${answer.text}`);
        if (expected.kind === 'ok') {
          const got = fromBinary(GetResponseSchema, answer.body).value;
          assert.equal(Buffer.from(got).toString('utf8'), loaded(expected.key));
        }
      }),
      fuzzRuns(150, seed),
    );
  });

  it('ignores a Peercache-Timeout that is not 1 to 8 digits, and honours one that leaves time', async () => {
    const header = fc.oneof(
      fc.stringMatching(/^[\x21-\x7e]{0,12}$/).filter((v) => !/^\d{1,8}$/.test(v)),
      fc.constantFrom('123456789', '-1', '1e3', '0x10', '1.5', '+5', '١٢'),
      fc.integer({ min: 1_000, max: 99_999_999 }).map(String),
    );
    await fc.assert(
      fc.asyncProperty(header, async (timeout) => {
        const key = `timeout ${good++}`;
        const answer = await rawRequest({
          origin,
          method: 'GET',
          target: `${base}${GROUP}/${encodeURIComponent(key)}`,
          headers: { 'peercache-timeout': timeout },
        });
        assert.equal(answer.status, 200, `${JSON.stringify(timeout)}: ${answer.text}`);
        const got = fromBinary(GetResponseSchema, answer.body).value;
        assert.equal(Buffer.from(got).toString(), loaded(key));
      }),
      fuzzRuns(100, seed),
    );
  });

  it('answers any path and method with a precise status, never 500, and keeps serving', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.stringMatching(/^(%[0-9a-fA-FzZ]{0,2}|[+/.~]|[a-z]){0,10}$/),
    );
    const target = fc.oneof(
      fc.array(segment, { maxLength: 4 }).map((parts) => `${base}${parts.join('/')}`),
      fc.tuple(segment, segment).map(([g, k]) => `${base}${GROUP}${g}/${k}`),
      segment.map((s) => `/${s}`),
    );
    const method = fc.oneof(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'HEAD', 'OPTIONS', 'PATCH'),
      fc.stringMatching(/^[A-Z]{1,8}$/),
    );
    await fc.assert(
      fc.asyncProperty(method, target, async (m, t) => {
        // Characters no request line may hold are left out: they are the parser's business.
        const path = t.replace(/[\s\u0000-\u001f\u007f#?]/g, '');
        const answer = await send(m, path, m === 'PUT' ? new Uint8Array(0) : undefined);
        assert.ok(
          [200, 400, 404, 405, 413, 414].includes(answer.status),
          `${m} ${JSON.stringify(path)}: ${answer.status} ${answer.text}`,
        );
        await stillServes();
      }),
      fuzzRuns(150, seed),
    );
  });

  it('refuses a SetRequest whose group or key is not UTF-8, even when it folds into the URL', async () => {
    for (const bad of MALFORMED_UTF8) {
      const folded = Buffer.from(bad).toString('utf8');
      const body = setRequest(Buffer.from(GROUP), bad, Buffer.from('forged'));
      const answer = await send('PUT', `${base}${GROUP}/${encodeURIComponent(folded)}`, body);
      assert.equal(answer.status, 400, `key ${Buffer.from(bad).toString('hex')}: ${answer.text}`);
      assert.equal((await value(folded)).toString(), loaded(folded), 'nothing was stored');
    }
  });

  it('stores a PUT only when its SetRequest names the URL exactly, and keeps serving', async () => {
    const url = fc.string({ unit: 'binary', minLength: 1, maxLength: 8 });
    const body = fc.oneof(
      // The URL's own group and key.
      fc.constant('same' as const),
      fc.tuple(groupBytes(), keyBytes()),
    );
    await fc.assert(
      fc.asyncProperty(
        url,
        body,
        fc.uint8Array({ maxLength: LIMITS.maxValueBytes + 16 }),
        async (key, fields, v) => {
          const keyBytes = Buffer.from(key);
          const [group, bodyKey] = fields === 'same' ? [Buffer.from(GROUP), keyBytes] : fields;
          const b = setRequest(group, bodyKey, v);
          const answer = await send('PUT', `${base}${GROUP}/${encodeURIComponent(key)}`, b);
          const same = Buffer.from(group).equals(Buffer.from(GROUP)) && keyBytes.equals(bodyKey);
          let want = !same ? 400 : v.byteLength > LIMITS.maxValueBytes ? 413 : 200;
          // A body past the value limit may be refused for its size before it is decoded.
          if (want === 400 && b.byteLength > LIMITS.maxValueBytes && answer.status === 413)
            want = 413;
          assert.equal(answer.status, want, answer.text);
          if (want === 200) {
            assert.deepEqual(await value(key), Buffer.from(v));
            const removed = await send('DELETE', `${base}${GROUP}/${encodeURIComponent(key)}`);
            assert.equal(removed.status, 200);
          }
          assert.equal((await value(key)).toString(), loaded(key), 'nothing else was stored');
        },
      ),
      fuzzRuns(100, seed),
    );
  });

  it('answers random and mutated SetRequest bodies with 200, 400 or 413, never 500', async () => {
    const valid = fc
      .tuple(groupBytes(), keyBytes(), fc.uint8Array({ maxLength: 64 }))
      .map(([g, k, v]) => setRequest(g, k, v));
    const body = fc.oneof(fc.uint8Array({ maxLength: 128 }), valid, valid.chain(mutated));
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const answer = await send('PUT', `${base}${GROUP}/mutant`, b);
        assert.ok([200, 400, 413].includes(answer.status), `${answer.status} ${answer.text}`);
        await stillServes();
      }),
      fuzzRuns(150, seed),
    );
  });
});
