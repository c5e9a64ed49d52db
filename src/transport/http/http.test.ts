// http.test.ts: round trips through the HTTP client and server together, errors included.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CancelledError,
  DeadlineExceededError,
  ErrorCode,
  InternalError,
  InvalidArgumentError,
  isCacheError,
  NotFoundError,
  TooLargeError,
  UnavailableError,
} from '../../errors.js';
import { createHttpTransport, type HttpTransport } from './client.js';
import { createHttpPeerHandler } from './server.js';
import { deferred, FakeGroup, fakeLookup, startServer, type TestServer, utf8 } from './testing.js';

const trickyKeys = [
  'with space',
  'a+b',
  'a/b/c',
  '/leading/and/trailing/',
  '100%',
  '%2F',
  '%20+%2B',
  'what?x=1&y=2',
  'frag#ment',
  'é€中文',
  '😀🎉',
  '..',
  `${'x'.repeat(4088)}/+ %?#é`, // 4096 UTF-8 bytes, the server's default limit
];

describe('HTTP transport round trips', () => {
  const group = new FakeGroup('things');
  const oddGroup = new FakeGroup('odd group/+%');
  let server: TestServer;
  let transport: HttpTransport;

  before(async () => {
    server = await startServer(
      createHttpPeerHandler(fakeLookup(group, oddGroup), { maxValueBytes: 2 * 1024 * 1024 }),
    );
    transport = createHttpTransport();
  });
  after(async () => {
    await transport.close();
    await server.close();
  });

  it('gets a value with its expiry and minute QPS', async () => {
    const value = utf8('hello');
    group.store.set('k', { value, expireAt: 1_700_000_000_123, minuteQps: 12.5 });
    const got = await transport.client(server.url).get('things', 'k');
    assert.deepEqual(got, { value, expireAt: 1_700_000_000_123, minuteQps: 12.5, owned: true });
  });

  it('gets a value that never expires and has no QPS', async () => {
    group.store.set('k0', { value: utf8('v'), expireAt: 0, minuteQps: 0 });
    const got = await transport.client(server.url).get('things', 'k0');
    assert.deepEqual(got, { value: utf8('v'), expireAt: 0, minuteQps: 0, owned: true });
  });

  it('sets a value with and without expiry', async () => {
    const client = transport.client(server.url);
    await client.set('things', 'set1', utf8('one'), 1_800_000_000_456);
    assert.deepEqual(group.store.get('set1'), {
      value: utf8('one'),
      expireAt: 1_800_000_000_456,
      minuteQps: 0,
    });
    await client.set('things', 'set2', utf8('two'), 0);
    assert.equal(group.store.get('set2')?.expireAt, 0);
    assert.deepEqual((await client.get('things', 'set1')).expireAt, 1_800_000_000_456);
  });

  it('removes a value', async () => {
    const client = transport.client(server.url);
    group.store.set('gone', { value: utf8('x'), expireAt: 0, minuteQps: 0 });
    await client.remove('things', 'gone');
    assert.equal(group.store.has('gone'), false);
    await assert.rejects(client.get('things', 'gone'), NotFoundError);
  });

  it('round-trips tricky keys exactly', async () => {
    const client = transport.client(server.url);
    assert.equal(Buffer.byteLength(trickyKeys.at(-1)!), 4096);
    for (const key of trickyKeys) {
      await client.set('things', key, utf8(key), 0);
      assert.deepEqual(group.store.get(key)?.value, utf8(key), `set ${key}`);
      const got = await client.get('things', key);
      assert.deepEqual(got.value, utf8(key), `get ${key}`);
      assert.equal(group.seen.at(-1), key);
      await client.remove('things', key);
      assert.equal(group.store.has(key), false, `remove ${key}`);
    }
  });

  it('round-trips a tricky group name', async () => {
    const client = transport.client(server.url);
    await client.set('odd group/+%', 'k', utf8('v'), 0);
    assert.deepEqual((await client.get('odd group/+%', 'k')).value, utf8('v'));
  });

  it('round-trips binary, empty and 1 MiB values', async () => {
    const client = transport.client(server.url);
    const values = [
      Uint8Array.from({ length: 256 }, (_, i) => i),
      new Uint8Array(0),
      new Uint8Array(randomBytes(1024 * 1024)),
    ];
    for (const [i, value] of values.entries()) {
      await client.set('things', `bin${i}`, value, 0);
      assert.deepEqual(group.store.get(`bin${i}`)?.value, value);
      const got = await client.get('things', `bin${i}`);
      assert.equal(got.value.byteLength, value.byteLength);
      assert.deepEqual(Buffer.from(got.value), Buffer.from(value));
    }
  });
});

describe('HTTP transport errors', () => {
  const group = new FakeGroup('g');
  let server: TestServer;
  let transport: HttpTransport;
  const serverErrors: unknown[] = [];

  before(async () => {
    group.store.set('good', { value: utf8('fine'), expireAt: 0, minuteQps: 0 });
    server = await startServer(
      createHttpPeerHandler(fakeLookup(group), {
        maxValueBytes: 1024,
        onError: (err) => serverErrors.push(err),
      }),
    );
    transport = createHttpTransport();
  });
  after(async () => {
    await transport.close();
    await server.close();
  });

  async function stillServes(): Promise<void> {
    const got = await transport.client(server.url).get('g', 'good');
    assert.deepEqual(got.value, utf8('fine'));
  }

  it('maps the owner’s not-found to NotFoundError with its message', async () => {
    const err = await transport
      .client(server.url)
      .get('g', 'missing')
      .catch((e: unknown) => e);
    assert.ok(err instanceof NotFoundError);
    assert.equal(err.message, 'no value for missing');
    await stillServes();
  });

  it('maps an unknown group to UnavailableError', async () => {
    const err = await transport
      .client(server.url)
      .get('nope', 'k')
      .catch((e: unknown) => e);
    assert.ok(err instanceof UnavailableError);
    assert.match(err.message, /404.*no such group: nope/);
    await stillServes();
  });

  it('maps a loader failure (500) to a remote InternalError with status and message', async () => {
    group.load = async (key) => {
      if (key === 'boom') throw new Error('db down');
      if (key === 'internal') throw new InternalError('loader exploded');
      throw new NotFoundError();
    };
    try {
      for (const [key, text] of [
        ['boom', 'db down'],
        ['internal', 'loader exploded'],
      ] as const) {
        const err = await transport
          .client(server.url)
          .get('g', key)
          .catch((e: unknown) => e);
        assert.ok(err instanceof InternalError, key);
        assert.equal(err.remote, true, 'the peer answered');
        assert.match(err.message, new RegExp(`500: ${text}`));
      }
      assert.equal(serverErrors.length, 2);
    } finally {
      group.load = undefined;
    }
    await stillServes();
  });

  it('maps a rejected empty key to InvalidArgumentError', async () => {
    await assert.rejects(transport.client(server.url).get('g', ''), InvalidArgumentError);
    await stillServes();
  });

  it('maps a key over the server’s limit (414) to TooLargeError', async () => {
    await assert.rejects(transport.client(server.url).get('g', 'k'.repeat(4097)), TooLargeError);
    await stillServes();
  });

  it('maps a value over the server’s limit (413) to TooLargeError', async () => {
    const client = transport.client(server.url);
    await assert.rejects(client.set('g', 'big', new Uint8Array(4096), 0), TooLargeError);
    assert.equal(group.store.has('big'), false);
    await client.set('g', 'fits', new Uint8Array(1024), 0);
    assert.equal(group.store.get('fits')?.value.byteLength, 1024);
    await stillServes();
  });

  it('cancels on the caller’s signal, and the server’s signal aborts too', async () => {
    const entered = deferred<void>();
    const serverAborted = deferred<unknown>();
    group.load = (_key, signal) => {
      entered.resolve();
      signal?.addEventListener('abort', () => serverAborted.resolve(signal.reason));
      return new Promise(() => {}); // never answers on its own
    };
    try {
      const controller = new AbortController();
      const call = transport.client(server.url).get('g', 'slow', { signal: controller.signal });
      await entered.promise;
      controller.abort();
      await assert.rejects(call, CancelledError);
      const reason = await serverAborted.promise;
      assert.ok(isCacheError(reason, ErrorCode.Cancelled));
    } finally {
      group.load = undefined;
    }
    await stillServes();
  });

  it('maps a caller’s timeout signal to DeadlineExceededError', async () => {
    group.load = () => new Promise(() => {});
    try {
      await assert.rejects(
        transport.client(server.url).get('g', 'slow', { signal: AbortSignal.timeout(50) }),
        DeadlineExceededError,
      );
    } finally {
      group.load = undefined;
    }
  });

  it('fails at once with CancelledError on an already aborted signal', async () => {
    const before = group.seen.length;
    await assert.rejects(
      transport.client(server.url).get('g', 'good', { signal: AbortSignal.abort() }),
      CancelledError,
    );
    assert.equal(group.seen.length, before);
  });

  it('gives up after requestTimeoutMs with DeadlineExceededError', async () => {
    const serverAborted = deferred<void>();
    group.load = (_key, signal) => {
      signal?.addEventListener('abort', () => serverAborted.resolve());
      return new Promise(() => {});
    };
    const quick = createHttpTransport({ requestTimeoutMs: 100 });
    try {
      const err = await quick
        .client(server.url)
        .get('g', 'slow')
        .catch((e: unknown) => e);
      assert.ok(err instanceof DeadlineExceededError);
      assert.match(err.message, /100 ms/);
      await serverAborted.promise;
    } finally {
      group.load = undefined;
      await quick.close();
    }
    await stillServes();
  });
});
