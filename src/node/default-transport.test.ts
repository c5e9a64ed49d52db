// default-transport.test.ts: createNode's default HTTP transport, imported on first need,
// behaves as the real one: clients, a server, a mounted handler, closing, bad options.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { freePort } from '../../test/support/process.js';
import { UnavailableError } from '../errors.js';
import { createHttpPeerHandler } from '../transport/http/server.js';
import { FakeGroup, fakeLookup, startServer } from '../transport/http/testing.js';
import { LazyHttpTransport } from './default-transport.js';
import { createNode } from './node.js';

describe('the default HTTP transport', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('serves and asks peers once imported, like httpTransport()', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const owner = createNode({ self: url, peers: [url] });
    closers.push(() => owner.close());
    owner.newGroup('g', { cacheBytes: 1 << 20, load: (key) => `owner's ${key}` });
    await owner.listen();
    const client = createNode({ member: false, peers: [url] });
    closers.push(() => client.close());
    const group = client.newGroup('g', { cacheBytes: 1 << 20, load: () => null });
    assert.equal(client.transport.name, 'http');
    assert.equal((await group.get('k')).toString(), "owner's k");
    assert.equal(client.transport.client(url), client.transport.client(url), 'one client per peer');
  });

  it("mounts as a handler in the application's own server", async () => {
    const node = createNode({ self: 'http://127.0.0.1:1' });
    closers.push(() => node.close());
    node.newGroup('g', { cacheBytes: 1 << 20, load: (key) => `value of ${key}` });
    const server = createServer(node.handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.close();
      await once(server, 'close');
    });
    const { port } = server.address() as AddressInfo;
    const transport = new LazyHttpTransport({});
    closers.push(() => transport.close());
    const got = await transport.client(`http://127.0.0.1:${port}`).get('g', 'k');
    assert.equal(new TextDecoder().decode(got.value), 'value of k');
  });

  it('forwards removeMany: one _remove-keys in the groupcache-go dialect', async () => {
    const group = new FakeGroup('g');
    const methods: string[] = [];
    const handle = createHttpPeerHandler(fakeLookup(group), { dialect: 'groupcache-go' });
    const server = await startServer((req, res) => {
      methods.push(req.method ?? '');
      handle(req, res);
    });
    closers.push(() => server.close());
    const transport = new LazyHttpTransport({ dialect: 'groupcache-go' });
    closers.push(() => transport.close());
    await transport.client(server.url).removeMany?.('g', ['a', 'b']);
    assert.deepEqual(methods, ['POST']);
    assert.deepEqual(group.seen, ['a', 'b']);
  });

  it('a client closed before its first request fails, and the next one is fresh', async () => {
    const transport = new LazyHttpTransport({});
    closers.push(() => transport.close());
    const first = transport.client('http://127.0.0.1:9');
    first.close();
    await assert.rejects(first.get('g', 'k'), UnavailableError);
    assert.notEqual(transport.client('http://127.0.0.1:9'), first);
  });

  it('a bad option is reported when the transport is first used', async () => {
    const node = createNode({
      self: `http://127.0.0.1:${await freePort()}`,
      http: { requestTimeoutMs: -1 },
    });
    closers.push(() => node.close());
    await assert.rejects(node.listen(), TypeError);
  });
});
