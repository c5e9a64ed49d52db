// console.test.ts: the console's endpoints of the API, in process: the cluster view over a
// memory-transport cluster, the key inspector, a member that is down or is a Go peer, the
// static page and the API token.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTestCerts } from '../../test/support/certs.js';
import { createScoresLoader } from '../loaders/scores.js';
import { type CacheNode, createNode } from '../node/node.js';
import { MemoryNetwork, memoryTransport } from '../transport/memory/index.js';
import type { ClusterView, KeyView } from './console.js';
import { type ApiHandlerOptions, createApiHandler, startApiServer } from './server.js';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('console endpoints', () => {
  const network = new MemoryNetwork();
  const urls = ['http://10.0.0.1:8001', 'http://10.0.0.2:8001', 'http://10.0.0.3:8001'];
  let nodes: CacheNode[];
  let page: string;
  const servers: Server[] = [];

  async function api(options: ApiHandlerOptions = {}): Promise<string> {
    const server = createServer(
      createApiHandler(nodes[0] as CacheNode, { consoleDir: page, ...options }),
    );
    servers.push(server);
    return listen(server);
  }

  before(async () => {
    page = await mkdtemp(join(tmpdir(), 'peercache-console-'));
    await writeFile(join(page, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(page, 'app.js'), 'console.log(1)');
    nodes = urls.map((self) => {
      const node = createNode({ self, peers: urls, transport: memoryTransport(network) });
      node.newGroup('scores', { cacheBytes: 1 << 20, load: createScoresLoader() });
      return node;
    });
    await Promise.all(nodes.map((n) => n.listen()));
  });
  after(async () => {
    for (const s of servers) s.close();
    await Promise.all(nodes.map((n) => n.close()));
    await rm(page, { recursive: true, force: true });
  });

  test('the cluster view lists every member with its stats and shares that sum to 1', async () => {
    const base = await api();
    const view = (await (await fetch(`${base}/console/api/cluster`)).json()) as ClusterView;
    assert.equal(view.self, urls[0]);
    assert.equal(view.member, true);
    assert.equal(view.transport, 'memory');
    assert.deepEqual(view.members.map((m) => m.url).sort(), [...urls].sort());
    assert.ok(Math.abs(view.members.reduce((n, m) => n + m.share, 0) - 1) < 1e-12);
    for (const m of view.members) {
      assert.equal(m.answering, true, m.url);
      assert.equal(m.noStats, false);
      assert.equal(m.self, m.url === urls[0]);
      assert.ok(m.stats?.groups.scores !== undefined, `${m.url} reports its group`);
    }
  });

  test('the key inspector names the ring owner and who holds the key', async () => {
    const base = await api();
    const owner = nodes[0]?.ownerOf('Tom') as string;
    const asker = nodes.find((n) => n.self !== owner) as CacheNode;
    await asker.getGroup('scores')?.get('Tom');
    const view = (await (await fetch(`${base}/console/api/key?key=Tom`)).json()) as KeyView;
    assert.equal(view.owner, owner);
    assert.equal(view.group, 'scores');
    const of = (url: string) => view.members.find((m) => m.url === url)?.key;
    assert.deepEqual(of(owner)?.main?.bytes, 3);
    assert.equal(Buffer.from(of(owner)?.preview ?? '', 'base64').toString(), '630');
    // Nothing was loaded by looking: a key nobody asked for is held by nobody.
    const none = (await (await fetch(`${base}/console/api/key?key=Jack`)).json()) as KeyView;
    for (const m of none.members) assert.equal(m.key?.main, undefined);
    assert.equal(
      nodes.reduce((n, x) => n + (x.getGroup('scores')?.stats.localLoads ?? 0), 0),
      1,
    );
  });

  test('the key inspector refuses a missing key or an unknown group', async () => {
    const base = await api();
    assert.equal((await fetch(`${base}/console/api/key`)).status, 400);
    assert.equal((await fetch(`${base}/console/api/key?key=a&group=nope`)).status, 404);
  });

  test('serves the page without the token, and its data only with it', async () => {
    const base = await api({ token: 'sesame' });
    const index = await fetch(`${base}/console/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal((await fetch(`${base}/console/app.js`)).status, 200);
    for (const path of ['/console/api/cluster', '/console/api/key?key=Tom', '/stats']) {
      assert.equal((await fetch(`${base}${path}`)).status, 401, path);
    }
    const authorized = { headers: { Authorization: 'Bearer sesame' } };
    assert.equal((await fetch(`${base}/console/api/cluster`, authorized)).status, 200);
  });

  test('answers only the page files: 404 for others, a way out, or a page not built', async () => {
    const base = await api();
    for (const path of ['/console/nope.js', '/console/..%2fpackage.json', '/console/a/b.js']) {
      assert.equal((await fetch(`${base}${path}`)).status, 404, path);
    }
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/console/');
    assert.equal((await fetch(`${base}/console/`, { method: 'POST' })).status, 405);
    const unbuilt = await api({ consoleDir: join(page, 'missing') });
    const res = await fetch(`${unbuilt}/console/`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /not built/);
  });
});

describe('console over HTTPS', () => {
  test('with --api-tls the page and its data are served over HTTPS, the data with the token', async () => {
    const certs = makeTestCerts();
    const dir = await mkdtemp(join(tmpdir(), 'peercache-console-tls-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    const node = createNode();
    node.newGroup('scores', { cacheBytes: 1024, load: createScoresLoader() });
    const api = await startApiServer(node, '127.0.0.1', 0, {
      token: 'tls-token',
      consoleDir: dir,
      tls: { cert: certs.node.cert, key: certs.node.key },
    });
    const get = (path: string, authorization?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          `${api.url}${path}`,
          { agent: false, ca: certs.ca, headers: authorization ? { authorization } : {} },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      assert.match(api.url, /^https:/);
      const page = await get('/console/');
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>console<\/title>/);
      assert.equal((await get('/console/api/cluster')).status, 401);
      const data = await get('/console/api/cluster', 'Bearer tls-token');
      assert.equal(data.status, 200);
      assert.equal((JSON.parse(data.body) as ClusterView).members.length, 1);
    } finally {
      await api.close();
      await node.close();
      certs.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('console view of a gateway', () => {
  test('a client-only node says so and lists the members without itself', async () => {
    const network = new MemoryNetwork();
    const urls = ['http://10.1.0.1:8001', 'http://10.1.0.2:8001'];
    const members = urls.map((self) => {
      const node = createNode({ self, peers: urls, transport: memoryTransport(network) });
      node.newGroup('scores', { cacheBytes: 1 << 20, load: createScoresLoader() });
      return node;
    });
    await Promise.all(members.map((n) => n.listen()));
    const gateway = createNode({
      self: 'http://10.1.0.9:8001',
      peers: urls,
      member: false,
      transport: memoryTransport(network),
    });
    gateway.newGroup('scores', { cacheBytes: 1 << 20 });
    const server = createServer(createApiHandler(gateway));
    const base = await listen(server);
    try {
      const view = (await (await fetch(`${base}/console/api/cluster`)).json()) as ClusterView;
      assert.equal(view.member, false);
      assert.deepEqual(view.members.map((m) => m.url).sort(), urls);
      assert.ok(view.members.every((m) => m.answering && !m.self));
      assert.ok(Math.abs(view.members.reduce((n, m) => n + m.share, 0) - 1) < 1e-12);
    } finally {
      server.close();
      await Promise.all([gateway, ...members].map((n) => n.close()));
    }
  });
});

describe('console view of members that cannot give stats', () => {
  test('a member that is down is not answering; a Go-like peer answers but has no stats', async () => {
    // A peer that answers every request as a golang/groupcache peer answers an unknown group.
    const goPeer = createServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no such group: _peercache\n');
    });
    const goUrl = await listen(goPeer);
    const down = 'http://127.0.0.1:1';
    const self = 'http://127.0.0.1:2';
    const node = createNode({ self, peers: [self, goUrl, down] });
    node.newGroup('scores', { cacheBytes: 1 << 20, load: createScoresLoader() });
    const server = createServer(createApiHandler(node));
    const base = await listen(server);
    try {
      const view = (await (await fetch(`${base}/console/api/cluster`)).json()) as ClusterView;
      const of = (url: string) => view.members.find((m) => m.url === url);
      assert.equal(of(goUrl)?.noStats, true);
      assert.equal(of(goUrl)?.answering, true);
      assert.equal(of(down)?.answering, false);
      assert.equal(of(down)?.noStats, false);
      assert.ok((of(down)?.error ?? '') !== '');
      assert.equal(of(self)?.answering, true);
    } finally {
      server.close();
      goPeer.close();
      await node.close();
    }
  });
});
