// server.test.ts: tests the HTTP peer handler with raw requests: paths, Go-client escapes, statuses.

import assert from 'node:assert/strict';
import type { IncomingMessage, RequestListener } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, fromBinary, isFieldSet, toBinary } from '@bufbuild/protobuf';
import { Agent } from 'undici';
import {
  CancelledError,
  InvalidArgumentError,
  TooLargeError,
  UnavailableError,
} from '../../errors.js';
import { GetResponseSchema, SetRequestSchema } from '../../proto/gen/groupcache_pb.js';
import { createHttpPeerHandler, type HttpPeerHandlerOptions } from './server.js';
import { deferred, FakeGroup, fakeLookup, startServer, type TestServer, utf8 } from './testing.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

function setRequest(group: string, key: string, value: Uint8Array, expire = 0n): Uint8Array {
  return toBinary(SetRequestSchema, create(SetRequestSchema, { group, key, value, expire }));
}

describe('HTTP peer handler', () => {
  const group = new FakeGroup('g');
  const errors: unknown[] = [];
  let server: TestServer;
  let agent: Agent;

  async function send(
    method: string,
    path: string,
    body?: Uint8Array | Readable,
    target: TestServer = server,
  ): Promise<Answer> {
    const res = await agent.request({ origin: target.url, path, method, body });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body: bytes, text: bytes.toString() };
  }

  async function withServer(
    listener: RequestListener,
    fn: (s: TestServer) => Promise<void>,
  ): Promise<void> {
    const s = await startServer(listener);
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  }

  before(async () => {
    group.store.set('good', { value: utf8('fine'), expireAt: 0, minuteQps: 0 });
    server = await startServer(
      createHttpPeerHandler(fakeLookup(group), {
        maxValueBytes: 1024,
        onError: (err) => errors.push(err),
      }),
    );
    // One connection: every answer must leave it usable for the next request.
    agent = new Agent({ connections: 1 });
  });
  afterEach(async () => {
    group.load = undefined;
    errors.length = 0;
    const res = await send('GET', '/_groupcache/g/good');
    assert.equal(res.status, 200, 'the server still serves');
  });
  after(async () => {
    await agent.close();
    await server.close();
  });

  it('answers GET with a GetResponse in protobuf', async () => {
    const res = await send('GET', '/_groupcache/g/good');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/x-protobuf');
    const msg = fromBinary(GetResponseSchema, res.body);
    assert.equal(Buffer.from(msg.value).toString(), 'fine');
    assert.equal(isFieldSet(msg, GetResponseSchema.field.minuteQps), false);
    assert.equal(isFieldSet(msg, GetResponseSchema.field.expire), false);
  });

  it('sends minute_qps and expire (ns) when they are set', async () => {
    group.store.set('hot', { value: utf8('v'), expireAt: 1_700_000_000_123, minuteQps: 7 });
    const msg = fromBinary(GetResponseSchema, (await send('GET', '/_groupcache/g/hot')).body);
    assert.equal(msg.minuteQps, 7);
    assert.equal(msg.expire, 1_700_000_000_123_000_000n);
  });

  it('decodes what a Go client sends: + as space, %2B as plus', async () => {
    group.store.set('hello world+x€', { value: utf8('go'), expireAt: 0, minuteQps: 0 });
    const res = await send('GET', '/_groupcache/g/hello+world%2Bx%e2%82%ac');
    assert.equal(res.status, 200);
    assert.equal(group.seen.at(-1), 'hello world+x€');
  });

  it('splits at the first raw slash; later slashes belong to the key', async () => {
    await send('GET', '/_groupcache/g/a/b%2Fc');
    assert.equal(group.seen.at(-1), 'a/b/c');
  });

  it('ignores the query string', async () => {
    const res = await send('GET', '/_groupcache/g/good?x=1&y=%ZZ');
    assert.equal(res.status, 200);
    assert.equal(group.seen.at(-1), 'good');
  });

  it('answers 400 bad request without a slash after the group', async () => {
    for (const path of ['/_groupcache/g', '/_groupcache/']) {
      const res = await send('GET', path);
      assert.equal(res.status, 400, path);
      assert.equal(res.text, 'bad request\n');
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    }
  });

  it('answers 400 to malformed percent-encoding or UTF-8, in key or group', async () => {
    for (const path of [
      '/_groupcache/g/%E0%A4%A',
      '/_groupcache/g/%ZZ',
      '/_groupcache/g/%FF',
      '/_groupcache/g/%C3%28',
      '/_groupcache/%FF/k',
    ]) {
      assert.equal((await send('GET', path)).status, 400, path);
    }
  });

  it('answers 400 to an empty key', async () => {
    const res = await send('GET', '/_groupcache/g/');
    assert.equal(res.status, 400);
    assert.match(res.text, /empty key/);
  });

  it('answers 414 to a key over maxKeyBytes (UTF-8 bytes)', async () => {
    assert.equal((await send('GET', `/_groupcache/g/${'k'.repeat(4097)}`)).status, 414);
    assert.equal((await send('GET', `/_groupcache/g/${'%E2%82%AC'.repeat(1366)}`)).status, 414);
    // Exactly at the limit is served (here: not found).
    assert.equal((await send('GET', `/_groupcache/g/${'k'.repeat(4096)}`)).status, 404);
  });

  it('answers 404 "no such group: X" exactly as Go does', async () => {
    const res = await send('GET', '/_groupcache/no%20pe/k');
    assert.equal(res.status, 404);
    assert.equal(res.text, 'no such group: no pe\n');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  });

  it('answers 404 with the message when the loader says not found', async () => {
    const res = await send('GET', '/_groupcache/g/missing');
    assert.equal(res.status, 404);
    assert.equal(res.text, 'no value for missing\n');
    assert.equal(errors.length, 0);
  });

  it('answers 500 with the loader’s message and reports it', async () => {
    const boom = new Error('db down');
    group.load = async () => {
      throw boom;
    };
    const res = await send('GET', '/_groupcache/g/k');
    assert.equal(res.status, 500);
    assert.equal(res.text, 'db down\n');
    assert.deepEqual(errors, [boom]);
  });

  it('answers a CacheError with the status of its code', async () => {
    const cases = [
      [new InvalidArgumentError('bad key'), 400],
      [new TooLargeError('too big'), 413],
      [new UnavailableError('closing'), 503],
    ] as const;
    for (const [err, status] of cases) {
      group.load = async () => {
        throw err;
      };
      const res = await send('GET', '/_groupcache/g/k');
      assert.equal(res.status, status);
      assert.equal(res.text, `${err.message}\n`);
    }
  });

  it('stores a PUT SetRequest, converting expire from ns', async () => {
    const body = setRequest('g', 'a b', utf8('val'), 1_700_000_000_123_000_000n);
    const res = await send('PUT', '/_groupcache/g/a%20b', body);
    assert.equal(res.status, 200);
    assert.equal(res.body.byteLength, 0);
    const stored = group.store.get('a b');
    assert.equal(stored?.expireAt, 1_700_000_000_123);
    assert.deepEqual(Buffer.from(stored?.value ?? []), Buffer.from('val'));
  });

  it('answers 400 to a malformed SetRequest', async () => {
    const res = await send('PUT', '/_groupcache/g/k', new Uint8Array([0x0a, 0x09, 0x01]));
    assert.equal(res.status, 400);
    assert.match(res.text, /malformed SetRequest/);
    assert.equal(group.store.has('k'), false);
  });

  it('answers 400 when the SetRequest names another group or key', async () => {
    for (const body of [setRequest('other', 'k', utf8('v')), setRequest('g', 'k2', utf8('v'))]) {
      const res = await send('PUT', '/_groupcache/g/k', body);
      assert.equal(res.status, 400);
    }
    assert.equal(group.store.has('k'), false);
  });

  it('answers 413 to a value over maxValueBytes, declared, streamed or decoded', async () => {
    const big = setRequest('g', 'k', new Uint8Array(4096));
    const declared = await send('PUT', '/_groupcache/g/k', big);
    assert.equal(declared.status, 413);
    const streamed = await send('PUT', '/_groupcache/g/k', Readable.from([big]));
    assert.equal(streamed.status, 413);
    // Fits the body allowance but the value is one byte over.
    const justOver = await send(
      'PUT',
      '/_groupcache/g/k',
      setRequest('g', 'k', new Uint8Array(1025)),
    );
    assert.equal(justOver.status, 413);
    assert.equal(group.store.has('k'), false);
    const fits = await send('PUT', '/_groupcache/g/k', setRequest('g', 'k', new Uint8Array(1024)));
    assert.equal(fits.status, 200);
    assert.equal(group.store.get('k')?.value.byteLength, 1024);
  });

  it('removes on DELETE with an empty 200', async () => {
    group.store.set('del', { value: utf8('x'), expireAt: 0, minuteQps: 0 });
    const res = await send('DELETE', '/_groupcache/g/del');
    assert.equal(res.status, 200);
    assert.equal(res.body.byteLength, 0);
    assert.equal(group.store.has('del'), false);
  });

  it('hands PUT and DELETE the time Peercache-Timeout gives them, as GET', async () => {
    const before = Date.now();
    const headers = { 'peercache-timeout': '60000' };
    const put = await agent.request({
      origin: server.url,
      path: '/_groupcache/g/timed',
      method: 'PUT',
      body: setRequest('g', 'timed', utf8('v')),
      headers,
    });
    await put.body.dump();
    assert.equal(put.statusCode, 200);
    const del = await agent.request({
      origin: server.url,
      path: '/_groupcache/g/timed',
      method: 'DELETE',
      headers,
    });
    await del.body.dump();
    assert.equal(del.statusCode, 200);
    const [set, removed] = group.writeDeadlines.slice(-2);
    for (const deadline of [set, removed]) {
      assert.ok(deadline !== undefined, 'the group was given the deadline');
      assert.ok(deadline >= before + 60_000 && deadline <= Date.now() + 60_000, `${deadline}`);
    }
    // Without the header there is no deadline.
    await send('DELETE', '/_groupcache/g/timed');
    assert.equal(group.writeDeadlines.at(-1), undefined);
  });

  it('answers 504 to a PUT whose body comes after its Peercache-Timeout, and stores nothing', {
    timeout: 10_000,
  }, async () => {
    const arrived = deferred();
    const handler = createHttpPeerHandler(fakeLookup(group), { maxValueBytes: 1024 });
    await withServer(
      (req, res) => {
        arrived.resolve();
        return handler(req, res);
      },
      async (s) => {
        const body = new PassThrough();
        const answer = agent.request({
          origin: s.url,
          path: '/_groupcache/g/late',
          method: 'PUT',
          body,
          headers: { 'peercache-timeout': '20' },
        });
        // One byte first: the client sends the headers with the body's first bytes.
        const bytes = setRequest('g', 'late', utf8('too late'));
        body.write(bytes.subarray(0, 1));
        // The headers are in, so the 20 ms run from here; the rest comes after them.
        await arrived.promise;
        await sleep(60);
        body.end(bytes.subarray(1));
        const res = await answer;
        const text = await res.body.text();
        assert.equal(res.statusCode, 504);
        assert.match(text, /set arrived \d+ ms past its deadline; not applied/);
        assert.equal(group.store.has('late'), false);
        assert.equal(group.seen.includes('late'), false);
      },
    );
  });

  it('answers 405 with Allow to other methods', async () => {
    for (const method of ['POST', 'PATCH', 'HEAD']) {
      const res = await send(method, '/_groupcache/g/k');
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, PUT, DELETE');
    }
  });

  it('answers 404 outside basePath, or calls next when given', async () => {
    assert.equal((await send('GET', '/other/g/good')).status, 404);
    const handler = createHttpPeerHandler(fakeLookup(group));
    await withServer(
      (req, res) =>
        handler(req, res, () => {
          res.writeHead(299);
          res.end('next');
        }),
      async (s) => {
        const res = await send('GET', '/other/g/good', undefined, s);
        assert.equal(res.status, 299);
        assert.equal((await send('GET', '/_groupcache/g/good', undefined, s)).status, 200);
      },
    );
  });

  it('matches basePath against originalUrl when a framework rewrote url', async () => {
    const handler = createHttpPeerHandler(fakeLookup(group), { basePath: '/peers/' });
    await withServer(
      (req, res) => {
        // As Express does for app.use('/peers', handler).
        const mounted = req as IncomingMessage & { originalUrl?: string };
        mounted.originalUrl = req.url;
        req.url = req.url?.slice('/peers'.length);
        handler(req, res);
      },
      async (s) => {
        assert.equal((await send('GET', '/peers/g/good', undefined, s)).status, 200);
      },
    );
  });

  it('aborts the group’s signal when signalFor’s signal aborts', async () => {
    const outer = new AbortController();
    const entered = deferred();
    group.load = (_key, signal) => {
      entered.resolve();
      return new Promise((_, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason));
      });
    };
    const options: HttpPeerHandlerOptions = { signalFor: () => outer.signal };
    await withServer(createHttpPeerHandler(fakeLookup(group), options), async (s) => {
      const answer = send('GET', '/_groupcache/g/slow', undefined, s);
      await entered.promise;
      outer.abort(new CancelledError('shutting down'));
      const res = await answer;
      assert.equal(res.status, 499);
      assert.equal(res.text, 'shutting down\n');
    });
  });

  it('answers 500 when the group lookup itself throws, and reports it', async () => {
    const broken = new Error('lookup broke');
    const handler = createHttpPeerHandler(
      {
        getGroup: () => {
          throw broken;
        },
      },
      { onError: (err) => errors.push(err) },
    );
    await withServer(handler, async (s) => {
      const res = await send('GET', '/_groupcache/g/k', undefined, s);
      assert.equal(res.status, 500);
      assert.deepEqual(errors, [broken]);
      assert.equal((await send('DELETE', '/_groupcache/g/k', undefined, s)).status, 500);
    });
  });

  it('rejects bad options with InvalidArgumentError', () => {
    const groups = fakeLookup(group);
    assert.throws(() => createHttpPeerHandler(groups, { basePath: 'x/' }), InvalidArgumentError);
    assert.throws(() => createHttpPeerHandler(groups, { basePath: '/x' }), InvalidArgumentError);
    assert.throws(() => createHttpPeerHandler(groups, { maxKeyBytes: 0 }), InvalidArgumentError);
    assert.throws(
      () => createHttpPeerHandler(groups, { maxValueBytes: 1.5 }),
      InvalidArgumentError,
    );
  });
});
