// api.test.ts: property-based fuzzing of the API server's decoding: form-encoded queries (keys,
// groups, ttl), paths, methods and bodies, sent byte for byte to a real server over loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type ApiServer, parseQuery, startApiServer } from '../../src/api/server.js';
import { type CacheNode, createNode } from '../../src/node/node.js';
import { type RawAnswer, rawRequest } from '../support/raw-http.js';
import { type Expected, expect, GROUP, groupBytes, keyBytes, LIMITS, loaded } from './fixtures.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from './runs.js';

const seed = fuzzSeed();
/** A second group, so that `group` is required and an unknown one is possible. */
const OTHER = 'other';
const unreserved = /^[A-Za-z0-9\-._~]$/;

/** formEncode writes `bytes` form-encoded: unreserved ASCII raw or escaped, space as `+` or `%20`. */
function formEncode(bytes: Uint8Array, raw: boolean[]): string {
  let out = '';
  bytes.forEach((b, i) => {
    const asIs = raw[i % Math.max(1, raw.length)] ?? false;
    const c = String.fromCharCode(b);
    if (asIs && unreserved.test(c)) out += c;
    else if (asIs && b === 0x20) out += '+';
    else out += `%${b.toString(16).padStart(2, '0')}`;
  });
  return out;
}

/** statusFor is the status the API must answer a GET of `expected` with (`group` was given). */
function statusFor(expected: Expected, group: Uint8Array): number {
  switch (expected.kind) {
    case 'malformed':
    case 'empty key':
      return 400;
    case 'key too large':
      return 414;
    case 'no such group':
      // An empty group is a bad request; a group that is not served, unknown.
      if (group.byteLength === 0) return 400;
      return Buffer.from(group).toString('utf8') === OTHER ? 200 : 404;
    case 'ok':
      return 200;
  }
}

describe(`API query decoding (FUZZ_SEED=${seed})`, () => {
  it('parseQuery inverts form encoding: each name gets its first value', () => {
    const name = fc.oneof(
      fc.constantFrom('key', 'group', 'ttl', 'x'),
      fc.string({ unit: 'binary', maxLength: 6 }),
    );
    const pairs = fc.array(fc.tuple(name, fc.string({ unit: 'binary', maxLength: 10 })), {
      maxLength: 6,
    });
    fc.assert(
      fc.property(pairs, (entries) => {
        const query = new URLSearchParams(entries).toString();
        const got = parseQuery(query);
        const strict = new Set(['key', 'group', 'ttl']);
        const seen = new Map<string, string>();
        for (const [n, v] of entries) {
          if (!seen.has(n)) seen.set(n, v);
          else if (strict.has(n)) {
            assert.equal(got, `${n} given twice`);
            return;
          }
        }
        // An empty name with an empty value writes `=`: the same as nothing to a reader.
        assert.ok(typeof got !== 'string', got as string);
        assert.deepEqual(got, seen);
      }),
      fuzzRuns(500, seed),
    );
  });

  it('parseQuery refuses malformed escapes and UTF-8 with a message, never a throw', () => {
    const query = fc.stringMatching(/^([a-z=&+]|%[0-9a-fA-FgG]{0,2}|%[89a-fA-F][0-9a-fA-F])*$/);
    fc.assert(
      fc.property(query, (q) => {
        const got = parseQuery(q);
        if (typeof got === 'string') {
          assert.match(got, /malformed|given twice/);
          return;
        }
        for (const [n, v] of got) {
          assert.ok(n.isWellFormed() && v.isWellFormed(), 'decoded text is well-formed');
        }
      }),
      fuzzRuns(500, seed),
    );
  });
});

describe(`API server decoding fuzz (FUZZ_SEED=${seed})`, { timeout: fuzzTimeout(60_000) }, () => {
  let node: CacheNode;
  let api: ApiServer;
  let good = 0;

  before(async () => {
    node = createNode();
    for (const name of [GROUP, OTHER]) {
      node.newGroup(name, {
        cacheBytes: 1 << 20,
        maxKeyBytes: LIMITS.maxKeyBytes,
        maxValueBytes: LIMITS.maxValueBytes,
        load: (key) => loaded(key),
      });
    }
    api = await startApiServer(node, '127.0.0.1', 0, {
      maxKeyBytes: LIMITS.maxKeyBytes,
      maxBodyBytes: LIMITS.maxValueBytes,
      maxUrlBytes: 4096,
      shutdownGraceMs: 0,
    });
  });
  after(async () => {
    await api.close();
    await node.close();
  });

  const send = (method: string, target: string, body?: Uint8Array): Promise<RawAnswer> =>
    rawRequest({
      origin: api.url,
      method,
      target,
      ...(body === undefined
        ? {}
        : { body, headers: { 'content-length': String(body.byteLength) } }),
    });

  const target = (key: string) => `/api?group=${GROUP}&key=${encodeURIComponent(key)}`;

  /** stillServes checks that a good request, after a bad one, is answered right. */
  async function stillServes(): Promise<void> {
    const key = `good ${good++}`;
    const answer = await send('GET', target(key));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.text, loaded(key), 'the server still answers');
  }

  it('answers a GET of any encoded group and key bytes as the model says, with the exact key', async () => {
    const raw = fc.array(fc.boolean(), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(groupBytes(), keyBytes(), raw, fc.boolean(), async (g, k, how, keyFirst) => {
        const params = [`group=${formEncode(g, how)}`, `key=${formEncode(k, how)}`];
        if (keyFirst) params.reverse();
        const answer = await send('GET', `/api?${params.join('&')}`);
        const expected = expect(g, k);
        assert.equal(answer.status, statusFor(expected, g), `${expected.kind}: ${answer.text}`);
        if (answer.status === 200) {
          assert.equal(answer.text, loaded(Buffer.from(k).toString('utf8')));
        } else {
          assert.match(answer.headers['content-type'] ?? '', /^text\/plain/);
          assert.equal(answer.text.trimEnd().includes('\n'), false, 'one line of text');
        }
      }),
      fuzzRuns(150, seed),
    );
  });

  it('takes a PUT ttl only as a whole number of milliseconds, and stores the exact body', async () => {
    const ttl = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('0', '3600000', '999999999999999', '1e3', '-1', '1.5', '', ' 1', '0x10'),
      fc.bigInt({ min: 0n, max: 10n ** 16n }).map(String),
      fc.string({ maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
        ttl,
        fc.uint8Array({ maxLength: LIMITS.maxValueBytes + 16 }),
        async (key, t, body) => {
          const query = t === undefined ? '' : `&ttl=${encodeURIComponent(t)}`;
          const answer = await send('PUT', `${target(key)}${query}`, body);
          const wholeMs = t === undefined || /^\d{1,15}$/.test(t);
          const want = !wholeMs ? 400 : body.byteLength > LIMITS.maxValueBytes ? 413 : 204;
          assert.equal(answer.status, want, answer.text);
          if (want !== 204) return;
          // A ttl of a minute or more (or none) outlives the next request.
          if (t === undefined || Number(t) === 0 || Number(t) >= 60_000) {
            assert.deepEqual((await send('GET', target(key))).body, Buffer.from(body));
          }
          assert.equal((await send('DELETE', target(key))).status, 204);
          assert.equal((await send('GET', target(key))).text, loaded(key));
        },
      ),
      fuzzRuns(100, seed),
    );
  });

  it('answers any path, query and method with a precise status, never 500, and keeps serving', async () => {
    const method = fc.oneof(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'HEAD', 'OPTIONS'),
      fc.stringMatching(/^[A-Z]{1,8}$/),
    );
    const path = fc.oneof(
      fc.constantFrom('/api', '/peers', '/stats', '/healthz', '/metrics', '/api/', '//api'),
      fc.stringMatching(/^\/[a-z/%.]{0,8}$/),
    );
    const query = fc.oneof(
      fc.constant(''),
      fc.stringMatching(/^(key|group|ttl|x|=|&|\+|%[0-9a-fA-FzZ]{0,2}|[a-z0-9]){0,16}$/),
      fc.string({ unit: 'binary', maxLength: 12 }).map((s) => encodeURIComponent(s)),
    );
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        query,
        fc.uint8Array({ maxLength: 32 }),
        async (m, p, q, b) => {
          const answer = await send(m, q === '' ? p : `${p}?${q}`, m === 'PUT' ? b : undefined);
          assert.ok(
            [200, 204, 400, 404, 405, 413, 414].includes(answer.status),
            `${m} ${p}?${q}: ${answer.status} ${answer.text}`,
          );
          await stillServes();
        },
      ),
      fuzzRuns(150, seed),
    );
  });
});
