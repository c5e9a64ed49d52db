// server.test.ts: the API handler, in process, over a real node:http server on port 0.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { makeTestCerts } from '../../test/support/certs.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { freePort } from '../../test/support/process.js';
import { DeadlineExceededError, InvalidArgumentError, UnavailableError } from '../errors.js';
import { createScoresLoader } from '../loaders/scores.js';
import { type CacheNode, createNode } from '../node/node.js';
import { MemoryNetwork } from '../transport/memory/network.js';
import { memoryTransport } from '../transport/memory/transport.js';
import { type ApiHandlerOptions, createApiHandler, parseQuery, startApiServer } from './server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** call sends one request with node:http (no client-side URL clean-up) and reads the whole reply. */
function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: Uint8Array | string; headers?: Record<string, string | number> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function serve(
  node: CacheNode,
  options?: ApiHandlerOptions,
): Promise<{ base: string; server: Server }> {
  const server = createServer(createApiHandler(node, options));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Each error body is one line of plain text. */
function assertOneLine(r: Reply, status: number, includes?: string): void {
  assert.equal(r.status, status, r.text);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.equal(r.text.trimEnd().includes('\n'), false, r.text);
  if (includes !== undefined)
    assert.ok(r.text.includes(includes), `${JSON.stringify(r.text)} lacks ${includes}`);
}

describe('API handler, one group', () => {
  let node: CacheNode;
  let base: string;
  let server: Server;
  let slowStarted: () => void = () => {};
  let slowAborted: (reason: unknown) => void = () => {};
  const clock = new ManualClock();

  before(async () => {
    node = createNode({ clock });
    const scores = createScoresLoader({ delayMs: 0 });
    node.newGroup('scores', {
      cacheBytes: 1 << 20,
      load: (key, ctx) => {
        if (key === 'unavailable') throw new UnavailableError('database is down');
        if (key === 'deadline') throw new DeadlineExceededError('database timed out');
        if (key === 'crash') throw new Error('boom\nsecond line');
        if (key === 'slow') {
          slowStarted();
          return new Promise((_, reject) => {
            ctx.signal.addEventListener('abort', () => {
              slowAborted(ctx.signal.reason);
              reject(ctx.signal.reason);
            });
          });
        }
        return scores(key, ctx);
      },
    });
    ({ base, server } = await serve(node, { maxBodyBytes: 1024 }));
  });
  after(() => stop(server));

  test('GET /api returns the raw value', async () => {
    const r = await call(base, 'GET', '/api?key=Tom');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.text, '630');
    const named = await call(base, 'GET', '/api?key=Peter&group=scores');
    assert.equal(named.text, '999');
  });

  test('GET /api of an unknown key is 404', async () => {
    assertOneLine(await call(base, 'GET', '/api?key=Nobody'), 404, 'not found');
  });

  test('PUT stores bytes exactly, DELETE removes them', async () => {
    const value = Buffer.from([0, 255, 10, 13, 0x80, 1, 2, 3]);
    const put = await call(base, 'PUT', '/api?key=bin%20key%2B%2F%25', { body: value });
    assert.equal(put.status, 204, put.text);
    const got = await call(base, 'GET', '/api?key=bin+key%2B%2F%25');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, value);
    const del = await call(base, 'DELETE', '/api?key=bin%20key%2B%2F%25');
    assert.equal(del.status, 204);
    assertOneLine(await call(base, 'GET', '/api?key=bin%20key%2B%2F%25'), 404);
  });

  test('PUT of an empty body stores an empty value', async () => {
    assert.equal((await call(base, 'PUT', '/api?key=empty', { body: '' })).status, 204);
    const got = await call(base, 'GET', '/api?key=empty');
    assert.equal(got.status, 200);
    assert.equal(got.body.byteLength, 0);
  });

  test('PUT with ttl expires the value; a bad ttl is 400', async () => {
    assert.equal((await call(base, 'PUT', '/api?key=brief&ttl=30', { body: 'x' })).status, 204);
    assert.equal((await call(base, 'GET', '/api?key=brief')).text, 'x');
    await clock.advance(29);
    assert.equal((await call(base, 'GET', '/api?key=brief')).text, 'x', 'alive until its ttl');
    await clock.advance(1);
    assertOneLine(await call(base, 'GET', '/api?key=brief'), 404);
    for (const ttl of ['abc', '-1', '1.5', '', '1e3']) {
      assertOneLine(await call(base, 'PUT', `/api?key=k&ttl=${ttl}`, { body: 'x' }), 400, 'ttl');
    }
  });

  test('a body over the limit is 413, streamed or declared', async () => {
    assertOneLine(
      await call(base, 'PUT', '/api?key=big', { body: Buffer.alloc(2048) }),
      413,
      '1024',
    );
    const declared = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        `${base}/api?key=big`,
        { method: 'PUT', headers: { 'Content-Length': 100 * 1024 * 1024 }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body,
              text: body.toString(),
            });
          });
        },
      );
      req.on('error', reject);
      req.write('only the start');
    });
    assertOneLine(declared, 413);
    assertOneLine(await call(base, 'GET', '/api?key=big'), 404);
  });

  test('missing, empty, malformed and oversized keys', async () => {
    assertOneLine(await call(base, 'GET', '/api'), 400, 'missing key');
    assertOneLine(await call(base, 'GET', '/api?group=scores'), 400, 'missing key');
    assertOneLine(await call(base, 'GET', '/api?key='), 400, 'empty key');
    assertOneLine(await call(base, 'PUT', '/api?key=', { body: 'x' }), 400, 'empty key');
    assertOneLine(await call(base, 'DELETE', '/api?key='), 400, 'empty key');
    assertOneLine(await call(base, 'GET', '/api?key=%E0%A4%A'), 400, 'malformed');
    assertOneLine(await call(base, 'GET', '/api?key=%FF'), 400, 'malformed');
    assertOneLine(await call(base, 'GET', '/api?key=a&key=b'), 400, 'twice');
    assertOneLine(await call(base, 'GET', `/api?key=${'k'.repeat(4097)}`), 414, '4096');
    assert.equal((await call(base, 'GET', `/api?key=${'k'.repeat(4096)}`)).status, 404);
  });

  test('unknown and empty group', async () => {
    assertOneLine(await call(base, 'GET', '/api?key=Tom&group=nope'), 404, 'no such group: nope');
    assertOneLine(
      await call(base, 'PUT', '/api?key=Tom&group=nope', { body: 'x' }),
      404,
      'no such group',
    );
    assertOneLine(await call(base, 'GET', '/api?key=Tom&group='), 400, 'empty group');
  });

  test('wrong methods are 405 with Allow', async () => {
    for (const method of ['POST', 'PATCH', 'HEAD']) {
      const r = await call(base, method, '/api?key=Tom');
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'GET, PUT, DELETE');
    }
    for (const path of ['/peers', '/stats', '/metrics', '/healthz']) {
      const r = await call(base, 'POST', path);
      assertOneLine(r, 405);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  test('unknown paths are 404', async () => {
    assertOneLine(await call(base, 'GET', '/'), 404);
    assertOneLine(await call(base, 'GET', '/api/extra?key=Tom'), 404);
  });

  test('loader errors map through httpStatus: 503, 504, 500 as one line', async () => {
    assertOneLine(await call(base, 'GET', '/api?key=unavailable'), 503, 'database is down');
    assertOneLine(await call(base, 'GET', '/api?key=deadline'), 504, 'database timed out');
    assertOneLine(await call(base, 'GET', '/api?key=crash'), 500, 'boom second line');
  });

  test('a client that disconnects aborts its load', async () => {
    const started = new Promise<void>((resolve) => {
      slowStarted = resolve;
    });
    const aborted = new Promise<unknown>((resolve) => {
      slowAborted = resolve;
    });
    const req = request(`${base}/api?key=slow`, { agent: false });
    req.on('error', () => {});
    req.end();
    await started;
    req.destroy();
    const reason = await aborted;
    assert.equal((reason as { code?: string }).code, 'CANCELLED');
  });

  test('GET /peers, /stats, /metrics and /healthz', async () => {
    const peers = await call(base, 'GET', '/peers');
    assert.equal(peers.status, 200);
    assert.equal(peers.headers['content-type'], 'application/json');
    const info = JSON.parse(peers.text) as Record<string, unknown>;
    assert.equal(info.self, 'local');
    assert.deepEqual(info.peers, ['local']);
    assert.equal(info.source, 'static');
    assert.equal(typeof info.updatedAt, 'string');
    assert.deepEqual(info.peerHealthy, {}, 'a single node has no peers to judge');
    assert.deepEqual(info.unhealthyPeers, {});

    const before = JSON.parse((await call(base, 'GET', '/stats')).text);
    await call(base, 'GET', '/api?key=Jack');
    await call(base, 'GET', '/api?key=Jack');
    const stats = await call(base, 'GET', '/stats');
    assert.equal(stats.headers['content-type'], 'application/json');
    const after = JSON.parse(stats.text);
    const g = after.groups.scores;
    assert.deepEqual(Object.keys(after.groups), ['scores']);
    assert.equal(g.stats.gets - before.groups.scores.stats.gets, 2);
    assert.equal(g.stats.cacheHits - before.groups.scores.stats.cacheHits, 1);
    assert.equal(typeof g.main.bytes, 'number');
    assert.ok(g.main.items >= 1);
    assert.equal(typeof g.hot.items, 'number');
    // Jack is among the hot keys with the two gets it just had (other tests' keys may be too).
    assert.deepEqual(
      (g.hotKeys as Array<{ key: string }>).find((k) => k.key === 'Jack'),
      { key: 'Jack', count: 2, error: 0 },
    );

    const metrics = await call(base, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers['content-type'], node.metrics.registry.contentType);
    assert.match(metrics.text, /^peercache_group_gets_total\{group="scores"\} \d+$/m);

    const health = await call(base, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.text, 'ok\n');
    assert.equal((await call(base, 'HEAD', '/healthz')).status, 200);
  });

  test('still serves after all of the above', async () => {
    assert.equal((await call(base, 'GET', '/healthz')).status, 200);
    assert.equal((await call(base, 'GET', '/api?key=Sam')).text, '567');
  });
});

describe('API handler, limits and group choice', () => {
  test('a URL over the limit is 414', async () => {
    const node = createNode();
    node.newGroup('g', { cacheBytes: 1024, load: () => 'v' });
    const { base, server } = await serve(node, { maxUrlBytes: 100 });
    try {
      assertOneLine(await call(base, 'GET', `/api?key=k&pad=${'x'.repeat(100)}`), 414, 'URL');
      assert.equal((await call(base, 'GET', '/api?key=k')).text, 'v');
    } finally {
      await stop(server);
    }
  });

  test('with several groups the group is required; with none, 404', async () => {
    const node = createNode();
    node.newGroup('alpha', { cacheBytes: 1024, load: (k) => `a:${k}` });
    node.newGroup('beta', { cacheBytes: 1024, load: (k) => `b:${k}` });
    const { base, server } = await serve(node);
    try {
      assertOneLine(await call(base, 'GET', '/api?key=x'), 400, 'alpha, beta');
      assert.equal((await call(base, 'GET', '/api?key=x&group=beta')).text, 'b:x');
      const stats = JSON.parse((await call(base, 'GET', '/stats')).text);
      assert.deepEqual(Object.keys(stats.groups), ['alpha', 'beta']);
    } finally {
      await stop(server);
    }
    const empty = await serve(createNode());
    try {
      assertOneLine(await call(empty.base, 'GET', '/api?key=x'), 404, 'no such group');
    } finally {
      await stop(empty.server);
    }
  });

  test('once the closing signal aborts, requests get 503', async () => {
    const node = createNode();
    node.newGroup('g', { cacheBytes: 1024, load: (k) => k });
    const closing = new AbortController();
    const { base, server } = await serve(node, { signal: closing.signal });
    try {
      assert.equal((await call(base, 'GET', '/api?key=a')).text, 'a');
      closing.abort();
      const r = await call(base, 'GET', '/api?key=a');
      assertOneLine(r, 503, 'shutting down');
      assert.equal(r.headers.connection, 'close');
    } finally {
      await stop(server);
    }
  });

  test('a set whose owner peer is unreachable is 503', async () => {
    const deadPort = await freePort();
    const self = 'http://127.0.0.1:1';
    const dead = `http://127.0.0.1:${deadPort}`;
    const node = createNode({ self, peers: [self, dead] });
    node.newGroup('g', { cacheBytes: 1024, load: (k) => k });
    let key = 'k0';
    for (let i = 0; node.ownerOf(key) !== dead; i++) key = `k${i}`;
    const { base, server } = await serve(node);
    try {
      assertOneLine(await call(base, 'PUT', `/api?key=${key}`, { body: 'v' }), 503);
    } finally {
      await stop(server);
      await node.close();
    }
  });
});

describe('API handler, POST /clear', () => {
  test('empties the group everywhere and answers its generation; bad requests are 400, 404, 405', async () => {
    const node = createNode();
    let loads = 0;
    node.newGroup('g', {
      cacheBytes: 1024,
      load: (k) => {
        loads++;
        return k;
      },
    });
    const { base, server } = await serve(node);
    try {
      await call(base, 'GET', '/api?key=a');
      const r = await call(base, 'POST', '/clear?group=g');
      assert.equal(r.status, 200, r.text);
      const answer = JSON.parse(r.text) as { generation: number; unsupported: string[] };
      assert.equal(answer.generation, node.getGroup('g')?.generation);
      assert.ok(answer.generation > 0);
      assert.deepEqual(answer.unsupported, []);
      await call(base, 'GET', '/api?key=a');
      assert.equal(loads, 2, 'the key was loaded again after the clear');
      assertOneLine(await call(base, 'POST', '/clear'), 400, 'missing group');
      assertOneLine(await call(base, 'POST', '/clear?group='), 400, 'empty group');
      assertOneLine(await call(base, 'POST', '/clear?group=nope'), 404, 'no such group: nope');
      assertOneLine(await call(base, 'POST', '/clear?group=%zz'), 400);
      const wrong = await call(base, 'DELETE', '/clear?group=g');
      assertOneLine(wrong, 405);
      assert.equal(wrong.headers.allow, 'POST');
    } finally {
      await stop(server);
      await node.close();
    }
  });

  test('a peer that cannot be told is a 503 naming it', async () => {
    const network = new MemoryNetwork();
    const self = 'http://a:1';
    const gone = 'http://b:1';
    const node = createNode({ self, peers: [self, gone], transport: memoryTransport(network) });
    node.newGroup('g', { cacheBytes: 1024, load: (k) => k });
    await node.listen();
    const { base, server } = await serve(node);
    try {
      assertOneLine(await call(base, 'POST', '/clear?group=g'), 503, gone);
      assert.deepEqual(node.getGroup('g')?.clearPending, [gone]);
    } finally {
      await stop(server);
      await node.close();
    }
  });
});

describe('startApiServer', () => {
  test('serves on a port from the OS; close() is idempotent and stops it', async () => {
    const node = createNode();
    node.newGroup('scores', { cacheBytes: 1024, load: createScoresLoader({ delayMs: 0 }) });
    const api = await startApiServer(node, '127.0.0.1', 0);
    assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await call(api.url, 'GET', '/api?key=Tom')).text, '630');
    const closed = api.close();
    assert.equal(api.close(), closed);
    await closed;
    await assert.rejects(call(api.url, 'GET', '/healthz'), /ECONNREFUSED/);
  });

  test('rejects when the address is taken', async () => {
    const node = createNode();
    const api = await startApiServer(node, '127.0.0.1', 0);
    try {
      await assert.rejects(startApiServer(node, '127.0.0.1', api.address.port), /EADDRINUSE/);
    } finally {
      await api.close();
    }
  });
});

describe('API token', () => {
  const token = 'api-token-0123';
  let node: CacheNode;
  let base: string;
  let server: Server;
  let loads = 0;

  before(async () => {
    node = createNode();
    node.newGroup('scores', {
      cacheBytes: 1 << 20,
      load: (key) => {
        loads++;
        return `value of ${key}`;
      },
    });
    ({ base, server } = await serve(node, { token }));
  });
  after(() => stop(server));

  const routes: [string, string][] = [
    ['GET', '/api?key=k'],
    ['PUT', '/api?key=planted'],
    ['DELETE', '/api?key=kept'],
    ['GET', '/peers'],
    ['GET', '/stats'],
    ['GET', '/metrics'],
    ['GET', '/nowhere'],
  ];

  test('a missing or wrong token is 401 with a Bearer challenge, on every route but /healthz', async () => {
    await node.getGroup('scores')!.set('kept', 'kept value');
    for (const authorization of [undefined, `Bearer ${token}x`, `Basic ${token}`, token]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      for (const [method, path] of routes) {
        const r = await call(base, method, path, { headers, body: method === 'PUT' ? 'evil' : '' });
        assertOneLine(r, 401, 'unauthenticated');
        assert.match(String(r.headers['www-authenticate']), /^Bearer /);
      }
    }
    assert.equal(loads, 0, 'no load ran');
    assert.equal(node.getGroup('scores')!.peek('planted'), undefined, 'nothing was stored');
    assert.equal(
      node.getGroup('scores')!.peek('kept')?.toString(),
      'kept value',
      'nothing removed',
    );
    const health = await call(base, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.text, 'ok\n');
  });

  test('the right token is served', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const got = await call(base, 'GET', '/api?key=k', { headers });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'value of k');
    assert.equal((await call(base, 'PUT', '/api?key=planted', { headers, body: 'v' })).status, 204);
    assert.equal(node.getGroup('scores')!.peek('planted')?.toString(), 'v');
    assert.equal((await call(base, 'GET', '/stats', { headers })).status, 200);
  });

  test('a token that cannot travel in a header is refused up front', () => {
    assert.throws(() => createApiHandler(node, { token: 'has space' }), InvalidArgumentError);
    assert.throws(() => createApiHandler(node, { token: '' }), InvalidArgumentError);
  });
});

describe('startApiServer over TLS', () => {
  test('serves https with the token; a client that does not trust the CA is refused', async () => {
    const certs = makeTestCerts();
    const node = createNode();
    node.newGroup('scores', { cacheBytes: 1024, load: createScoresLoader({ delayMs: 0 }) });
    const api = await startApiServer(node, '127.0.0.1', 0, {
      token: 'tls-token',
      tls: { cert: certs.node.cert, key: certs.node.key },
    });
    try {
      assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const get = (options: { ca?: Buffer; authorization?: string }) =>
        new Promise<number>((resolve, reject) => {
          const req = httpsRequest(
            `${api.url}/api?key=Tom`,
            {
              agent: false,
              ...(options.ca ? { ca: options.ca } : {}),
              headers: options.authorization ? { authorization: options.authorization } : {},
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end();
        });
      assert.equal(await get({ ca: certs.ca, authorization: 'Bearer tls-token' }), 200);
      assert.equal(await get({ ca: certs.ca }), 401);
      await assert.rejects(get({ ca: certs.rogueCa, authorization: 'Bearer tls-token' }), {
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    } finally {
      await api.close();
      certs.cleanup();
    }
  });
});

describe('parseQuery', () => {
  test('decodes form encoding and rejects malformed input', () => {
    const q = parseQuery('key=a+b%2Bc&group=g&x&key2=%E2%82%AC');
    assert.ok(q instanceof Map);
    assert.equal(q.get('key'), 'a b+c');
    assert.equal(q.get('group'), 'g');
    assert.equal(q.get('x'), '');
    assert.equal(q.get('key2'), '€');
    assert.equal(typeof parseQuery('key=%E0%A4%A'), 'string');
    assert.equal(typeof parseQuery('key=%zz'), 'string');
    assert.equal(typeof parseQuery('group=a&group=b'), 'string');
  });
});

describe('GET /readyz', () => {
  test('is 503 until the node serves peers, 200 while ready, and 503 from the moment it leaves; no token needed', async () => {
    const network = new MemoryNetwork();
    const self = 'http://a:8001';
    const node = createNode({ self, peers: [self], transport: memoryTransport(network) });
    node.newGroup('scores', { cacheBytes: 1024, load: (k) => k });
    const { base, server } = await serve(node, { token: 'api-token-0123' });
    try {
      assertOneLine(await call(base, 'GET', '/readyz'), 503, 'not ready: starting');
      await node.listen();
      const ready = await call(base, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.text, 'ready\n');
      assert.equal((await call(base, 'HEAD', '/readyz')).status, 200);
      assert.equal((await call(base, 'POST', '/readyz')).status, 405);
      const leaving = node.leave();
      assertOneLine(await call(base, 'GET', '/readyz'), 503, 'not ready: leaving');
      assert.equal((await call(base, 'GET', '/healthz')).status, 200, 'alive while it leaves');
      await leaving;
      await node.close();
      assertOneLine(await call(base, 'GET', '/readyz'), 503, 'not ready: closed');
    } finally {
      await stop(server);
      await node.close();
    }
  });
});
