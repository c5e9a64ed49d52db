// limits.test.ts: the API server under slow, numerous and large clients: timeouts, the
// connection limit and the cap on PUT bytes in flight, against a real server on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { createNode } from '../node/node.js';
import { rawConnect, recordingLogger, until } from '../util/limits-testing.js';
import { type ApiServer, startApiServer } from './server.js';

const MiB = 1024 * 1024;

function putHead(key: string, length: number): string {
  return `PUT /api?key=${key} HTTP/1.1\r\nHost: api\r\nContent-Length: ${length}\r\n\r\n`;
}

describe('API server limits', { timeout: 30_000 }, () => {
  const node = createNode();
  node.newGroup('g', { cacheBytes: 64 * MiB, load: () => null });
  const { logger, lines } = recordingLogger();
  let api: ApiServer;

  before(async () => {
    api = await startApiServer(node, '127.0.0.1', 0, {
      logger,
      readTimeoutMs: 300,
      idleTimeoutMs: 400,
      maxInflightBytes: 4 * MiB,
    });
  });

  after(async () => {
    await api.close();
    await node.close();
  });

  async function healthz(): Promise<number> {
    const res = await request(`${api.url}/healthz`);
    await res.body.arrayBuffer();
    return res.statusCode;
  }

  it('logs its limits at start', () => {
    const line = lines.find((l) => l.message === 'server limits' && l.fields.server === 'api');
    assert.equal(line?.fields.maxInflightBytes, 4 * MiB);
    assert.equal(typeof line?.fields.maxConnections, 'number');
  });

  it('cuts a client whose headers never end, and one whose body stops halfway', async () => {
    const slow = await rawConnect(api.address.port);
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: api\r\n');
    const drip = setInterval(() => slow.socket.write('X-Slow: 1\r\n'), 50);
    try {
      assert.equal(await healthz(), 200, 'others are served meanwhile');
      await slow.closed;
    } finally {
      clearInterval(drip);
    }
    const half = await rawConnect(api.address.port);
    half.socket.write(putHead('half', 1000));
    half.socket.write(Buffer.alloc(100));
    await half.closed;
    assert.equal(api.stats().inflightBytes, 0);
    await assert.rejects(node.getGroup('g')?.get('half') ?? Promise.resolve(), /not found/i);
    assert.equal(await healthz(), 200);
  });

  it('refuses PUTs past the bytes in flight with 503 at once, then takes them again', async () => {
    const size = 1.5 * MiB;
    const body = Buffer.alloc(size, 1);
    const held = await Promise.all(
      ['a', 'b'].map(async (key) => {
        const c = await rawConnect(api.address.port);
        c.socket.write(putHead(key, size));
        c.socket.write(body.subarray(0, 1024));
        return c;
      }),
    );
    await until(() => api.stats().inflightBytes === 2 * size);
    const third = await request(`${api.url}/api?key=c`, { method: 'PUT', body });
    await third.body.arrayBuffer();
    assert.equal(third.statusCode, 503);
    assert.equal(third.headers['retry-after'], '1');
    const stats = api.stats();
    assert.ok(stats.peakInflightBytes <= stats.maxInflightBytes);
    assert.equal(stats.refusedRequests, 1);
    for (const c of held) c.socket.write(body.subarray(1024));
    await until(() => held.every((c) => c.text().startsWith('HTTP/1.1 204')));
    assert.equal(api.stats().inflightBytes, 0);
    const again = await request(`${api.url}/api?key=c`, { method: 'PUT', body });
    await again.body.arrayBuffer();
    assert.equal(again.statusCode, 204);
    const stored = await node.getGroup('g')?.get('c');
    assert.equal(stored?.length, size);
    for (const c of held) c.socket.destroy();
  });
});

describe('API server connection limit', { timeout: 30_000 }, () => {
  it('refuses connections past maxConnections and logs it; the others keep working', async () => {
    const node = createNode();
    node.newGroup('g', { cacheBytes: MiB, load: (key) => `v-${key}` });
    const { logger, lines } = recordingLogger();
    const api = await startApiServer(node, '127.0.0.1', 0, { logger, maxConnections: 4 });
    const kept = [];
    try {
      for (let i = 0; i < 4; i++) kept.push(await rawConnect(api.address.port));
      await until(() => api.stats().connections === 4);
      const excess = await Promise.all(
        Array.from({ length: 3 }, () => rawConnect(api.address.port).catch(() => undefined)),
      );
      await Promise.all(excess.map((c) => c?.closed));
      await until(() => api.stats().refusedConnections === 3);
      const warned = lines.filter((l) => l.level === 'warn' && l.fields.server === 'api');
      assert.equal(warned.length, 1);
      assert.equal(warned[0]?.fields.maxConnections, 4);
      const first = kept[0];
      assert.ok(first);
      first.socket.write('GET /api?key=x HTTP/1.1\r\nHost: api\r\n\r\n');
      await until(() => first.text().endsWith('v-x'));
      assert.match(first.text(), /^HTTP\/1\.1 200/);
    } finally {
      for (const c of kept) c.socket.destroy();
      await api.close();
      await node.close();
    }
  });
});
