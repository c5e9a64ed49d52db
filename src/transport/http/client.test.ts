// client.test.ts: tests the HTTP peer client against a scripted server: URLs, bodies, status mapping.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { create, fromBinary, isFieldSet, toBinary } from '@bufbuild/protobuf';
import { Agent, type Dispatcher } from 'undici';
import {
  type CacheError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  peerUnreachable,
  TooLargeError,
  UnauthenticatedError,
  UnavailableError,
} from '../../errors.js';
import { GetResponseSchema, SetRequestSchema } from '../../proto/gen/groupcache_pb.js';
import { createHttpTransport, type HttpTransport } from './client.js';
import { startServer, type TestServer, utf8 } from './testing.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The client's port: which connection the request came on. */
  port: number | undefined;
}

type Script = (res: ServerResponse, seen: Seen) => void;

function text(status: number, body: string): Script {
  return (res) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(body);
  };
}

function protobuf(bytes: Uint8Array): Script {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    res.end(bytes);
  };
}

/** waitUntil polls `check` every 10 ms, for up to 5 s. */
async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('the condition never held');
}

describe('HTTP peer client', () => {
  let server: TestServer;
  let transport: HttpTransport;
  let seen: Seen[] = [];
  let script: Script = text(200, '');

  before(async () => {
    server = await startServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          port: req.socket.remotePort,
        };
        seen.push(s);
        script(res, s);
      });
    });
    transport = createHttpTransport();
  });
  beforeEach(() => {
    seen = [];
    script = text(200, '');
  });
  after(async () => {
    await transport.close();
    await server.close();
  });

  function client() {
    return transport.client(server.url);
  }

  it('escapes group and key so a Go server decodes them exactly', async () => {
    script = protobuf(toBinary(GetResponseSchema, create(GetResponseSchema, {})));
    await client().get('my group', 'a b+c/d%e?f#g&h=é😀');
    assert.equal(seen[0]?.method, 'GET');
    assert.equal(
      seen[0]?.url,
      '/_groupcache/my%20group/a%20b%2Bc%2Fd%25e%3Ff%23g%26h%3D%C3%A9%F0%9F%98%80',
    );
  });

  it('uses the basePath option and a base URL with a path', async () => {
    const other = createHttpTransport({ basePath: '/cache/' });
    try {
      script = protobuf(new Uint8Array(0));
      await other.client(`${server.url}/prefix/`).get('g', 'k');
      assert.equal(seen[0]?.url, '/prefix/cache/g/k');
      assert.equal(other.client(`${server.url}/prefix/`).url, `${server.url}/prefix/`);
    } finally {
      await other.close();
    }
  });

  it('decodes a GetResponse as a Go peer sends it (value only)', async () => {
    script = protobuf(toBinary(GetResponseSchema, create(GetResponseSchema, { value: utf8('v') })));
    assert.deepEqual(await client().get('g', 'k'), {
      value: utf8('v'),
      expireAt: 0,
      minuteQps: 0,
      owned: true,
    });
  });

  it("gives each value bytes of its own, not a view of the socket's read buffer", async () => {
    // Larger than what Node's buffer pool serves, so the copy's buffer is its own exactly.
    const value = new Uint8Array(5000).fill(0x61);
    script = protobuf(toBinary(GetResponseSchema, create(GetResponseSchema, { value })));
    const got = await client().get('g', 'k');
    assert.deepEqual(got.value, value);
    // A cached view of a read buffer would keep the whole buffer (and other answers) alive.
    assert.equal(got.value.buffer.byteLength, value.byteLength);
    assert.equal(got.owned, true, 'answered as owned: the group need not copy it again');
  });

  it('decodes expiry in nanoseconds and minute QPS', async () => {
    const msg = create(GetResponseSchema, {
      value: utf8('v'),
      minuteQps: 3.25,
      expire: 1_700_000_000_123_456_789n,
    });
    script = protobuf(toBinary(GetResponseSchema, msg));
    assert.deepEqual(await client().get('g', 'k'), {
      value: utf8('v'),
      expireAt: 1_700_000_000_123,
      minuteQps: 3.25,
      owned: true,
    });
  });

  it('sends PUT with a SetRequest, expiry in nanoseconds', async () => {
    await client().set('g', 'k', utf8('val'), 1_700_000_000_123);
    const s = seen[0]!;
    assert.equal(s.method, 'PUT');
    assert.equal(s.url, '/_groupcache/g/k');
    assert.equal(s.headers['content-type'], 'application/x-protobuf');
    const req = fromBinary(SetRequestSchema, s.body);
    assert.equal(req.group, 'g');
    assert.equal(req.key, 'k');
    assert.deepEqual(Buffer.from(req.value), Buffer.from('val'));
    assert.equal(req.expire, 1_700_000_000_123_000_000n);
  });

  it('leaves expire out of a SetRequest that never expires', async () => {
    await client().set('g', 'k', utf8('val'), 0);
    const req = fromBinary(SetRequestSchema, seen[0]!.body);
    assert.equal(isFieldSet(req, SetRequestSchema.field.expire), false);
  });

  it('sends DELETE for remove', async () => {
    await client().remove('g', 'a/b');
    assert.equal(seen[0]?.method, 'DELETE');
    assert.equal(seen[0]?.url, '/_groupcache/g/a%2Fb');
  });

  const statusCases: [number, string, new (...args: never[]) => CacheError][] = [
    [404, 'no such group: g\n', UnavailableError],
    [404, 'no value for k\n', NotFoundError],
    [400, 'bad request\n', InvalidArgumentError],
    [413, 'too big\n', TooLargeError],
    [414, 'key too long\n', TooLargeError],
    [401, 'who are you\n', UnauthenticatedError],
    [403, 'go away\n', UnauthenticatedError],
    [500, 'db down\n', InternalError],
    [504, 'load timed out\n', DeadlineExceededError],
    [502, 'bad gateway\n', UnavailableError],
    [503, 'closing\n', UnavailableError],
    [302, 'moved\n', UnavailableError],
  ];
  for (const [status, body, kind] of statusCases) {
    it(`maps ${status} "${body.trim()}" to ${kind.name} for get, set and remove`, async () => {
      script = text(status, body);
      for (const call of [
        () => client().get('g', 'k'),
        () => client().set('g', 'k', utf8('v'), 0),
        () => client().remove('g', 'k'),
      ]) {
        const err = await call().catch((e: unknown) => e);
        assert.ok(err instanceof kind, `${status}: ${String(err)}`);
        // The peer's own answers are marked so that no caller falls back on them.
        const answered = kind !== UnavailableError;
        assert.equal(err.remote, answered, `${status}: remote`);
        assert.equal(peerUnreachable(err), !answered, `${status}: unreachable`);
        if (kind === NotFoundError) assert.equal(err.message, body.trim());
        else assert.ok(err.message.includes(String(status)) && err.message.includes(body.trim()));
      }
    });
  }

  it('truncates a long error body in the message', async () => {
    script = text(500, 'x'.repeat(200_000));
    const err = await client()
      .get('g', 'k')
      .catch((e: unknown) => e);
    assert.ok(err instanceof InternalError);
    assert.ok(err.message.length < 700, `message of ${err.message.length} chars`);
  });

  it('keeps using one connection across error answers (bodies are consumed)', async () => {
    const single = createHttpTransport({ connections: 1, requestTimeoutMs: 2000 });
    try {
      script = text(500, 'db down\n');
      for (let i = 0; i < 5; i++) {
        await assert.rejects(single.client(server.url).get('g', 'k'), InternalError);
      }
      script = text(404, 'no value\n');
      for (let i = 0; i < 5; i++) {
        await assert.rejects(single.client(server.url).get('g', 'k'), NotFoundError);
      }
      script = text(200, 'ignored body\n');
      await single.client(server.url).set('g', 'k', utf8('v'), 0);
      await single.client(server.url).remove('g', 'k');
      assert.equal(seen.length, 12);
      assert.equal(new Set(seen.map((s) => s.port)).size, 1);
    } finally {
      await single.close();
    }
  });

  it('drops a huge error body rather than leave the connection stuck', async () => {
    const single = createHttpTransport({ connections: 1, requestTimeoutMs: 2000 });
    try {
      script = text(500, 'x'.repeat(4 * 1024 * 1024));
      await assert.rejects(single.client(server.url).get('g', 'k'), InternalError);
      script = protobuf(new Uint8Array(0));
      await single.client(server.url).get('g', 'k');
    } finally {
      await single.close();
    }
  });

  it('maps a malformed protobuf body to UnavailableError', async () => {
    script = protobuf(new Uint8Array([0x0a, 0x05, 0x01]));
    const err = await client()
      .get('g', 'k')
      .catch((e: unknown) => e);
    assert.ok(err instanceof UnavailableError);
    assert.match(err.message, /malformed GetResponse/);
  });

  it('refuses a response over maxValueBytes, declared or streamed', async () => {
    const small = createHttpTransport({ maxValueBytes: 1000 });
    try {
      const big = toBinary(
        GetResponseSchema,
        create(GetResponseSchema, { value: new Uint8Array(10_000) }),
      );
      script = protobuf(big);
      await assert.rejects(small.client(server.url).get('g', 'k'), TooLargeError);
      script = (res) => {
        res.writeHead(200); // chunked: no Content-Length to judge by
        res.write(big.subarray(0, 5000));
        res.end(big.subarray(5000));
      };
      await assert.rejects(small.client(server.url).get('g', 'k'), TooLargeError);
      // Just over the limit once decoded, though the body fits the framing slack.
      script = protobuf(
        toBinary(GetResponseSchema, create(GetResponseSchema, { value: new Uint8Array(1001) })),
      );
      await assert.rejects(small.client(server.url).get('g', 'k'), TooLargeError);
      script = protobuf(
        toBinary(GetResponseSchema, create(GetResponseSchema, { value: new Uint8Array(1000) })),
      );
      assert.equal((await small.client(server.url).get('g', 'k')).value.byteLength, 1000);
    } finally {
      await small.close();
    }
  });

  it('maps a socket reset to UnavailableError with a cause', async () => {
    script = (res) => res.socket?.destroy();
    const err = await client()
      .get('g', 'k')
      .catch((e: unknown) => e);
    assert.ok(err instanceof UnavailableError);
    assert.ok(err.cause);
  });

  it('maps connection refused to UnavailableError with a cause', async () => {
    const gone = await startServer(() => {});
    const url = gone.url;
    await gone.close();
    const refused = await transport
      .client(url)
      .get('g', 'k')
      .catch((e: unknown) => e);
    assert.ok(refused instanceof UnavailableError, String(refused));
    assert.match(refused.message, /ECONNREFUSED/);
    assert.ok(refused.cause);
  });

  it('caches one client per base URL and rejects bad URLs', () => {
    assert.equal(transport.client(server.url), transport.client(server.url));
    assert.notEqual(transport.client(server.url), transport.client(`${server.url}/`));
    assert.throws(() => transport.client('not a url'), InvalidArgumentError);
    assert.throws(() => transport.client('ftp://127.0.0.1:1'), InvalidArgumentError);
  });

  it('rejects bad options with InvalidArgumentError', () => {
    assert.throws(() => createHttpTransport({ basePath: '_groupcache/' }), InvalidArgumentError);
    assert.throws(() => createHttpTransport({ basePath: '/_groupcache' }), InvalidArgumentError);
    assert.throws(() => createHttpTransport({ requestTimeoutMs: 0 }), InvalidArgumentError);
    assert.throws(() => createHttpTransport({ maxValueBytes: -1 }), InvalidArgumentError);
    assert.throws(() => createHttpTransport({ connections: 0 }), InvalidArgumentError);
  });

  it('rejects a key with a lone surrogate without sending it', async () => {
    await assert.rejects(client().get('g', '\uD800'), InvalidArgumentError);
    assert.equal(seen.length, 0);
  });

  it('sends through the given dispatcher and leaves it open on close', async () => {
    class CountingAgent extends Agent {
      count = 0;
      override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
        this.count++;
        return super.dispatch(options, handler);
      }
    }
    const agent = new CountingAgent();
    const hooked = createHttpTransport({ dispatcher: agent });
    try {
      script = protobuf(new Uint8Array(0));
      await hooked.client(server.url).get('g', 'k');
      await hooked.client(server.url).remove('g', 'k');
      assert.equal(agent.count, 2);
      await hooked.close();
      assert.equal(agent.closed, false);
      await hooked.client(server.url).get('g', 'k');
      assert.equal(agent.count, 3);
    } finally {
      await agent.close();
    }
  });

  it("a client's close releases it: its connection closes, the URL gets a fresh client", async () => {
    const t = createHttpTransport({ connections: 1 });
    try {
      script = protobuf(new Uint8Array(0));
      const old = t.client(server.url);
      await old.get('g', 'k');
      await old.get('g', 'k');
      assert.equal(seen.length, 2);
      assert.equal(seen[0]?.port, seen[1]?.port, 'one kept-alive connection');
      const open = () =>
        new Promise<number>((resolve, reject) =>
          server.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
        );
      // Other tests' clients may keep connections to the same server open.
      const withOld = await open();
      old.close();
      await assert.rejects(old.get('g', 'k'), UnavailableError);
      await waitUntil(async () => (await open()) === withOld - 1);
      const fresh = t.client(server.url);
      assert.notEqual(fresh, old);
      await fresh.get('g', 'k');
      assert.equal(seen.length, 3);
      assert.notEqual(seen[2]?.port, seen[0]?.port, 'the old connection was reused');
    } finally {
      await t.close();
    }
  });

  it('closing a client leaves a given dispatcher open', async () => {
    const agent = new Agent();
    const hooked = createHttpTransport({ dispatcher: agent });
    try {
      script = protobuf(new Uint8Array(0));
      const old = hooked.client(server.url);
      old.close();
      await assert.rejects(old.get('g', 'k'), UnavailableError);
      assert.equal(agent.closed, false);
      await hooked.client(server.url).get('g', 'k');
    } finally {
      await hooked.close();
      await agent.close();
    }
  });

  it('closes twice without error, then fails calls with UnavailableError', async () => {
    const t = createHttpTransport();
    script = protobuf(new Uint8Array(0));
    await t.client(server.url).get('g', 'k');
    await t.close();
    await t.close();
    await assert.rejects(t.client(server.url).get('g', 'k'), UnavailableError);
  });

  it('a closed server connection mid-body is UnavailableError', async () => {
    script = (res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write(new Uint8Array(10));
      setImmediate(() => res.socket?.destroy());
    };
    await assert.rejects(client().get('g', 'k'), UnavailableError);
    // The next request gets a fresh connection and works.
    script = protobuf(new Uint8Array(0));
    await client().get('g', 'k');
  });
});
