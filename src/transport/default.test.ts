// default.test.ts: createNode's default transport, HTTP imported on first need, behaves as
// the real one: clients, a server, closing; and the lazy wrapper reports a failed load.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort } from '../../test/support/process.js';
import { InvalidArgumentError, UnavailableError } from '../errors.js';
import { createNode } from '../node/node.js';
import { defaultTransport, LazyTransport } from './default.js';
import { createHttpPeerHandler } from './http/server.js';
import { FakeGroup, fakeLookup, startServer } from './http/testing.js';
import { httpTransport } from './http/transport.js';

describe('the default transport', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('serves and asks peers over HTTP once imported, like httpTransport()', async () => {
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
    // A plain httpTransport() speaks to it: the default is that protocol with its defaults.
    const plain = httpTransport();
    closers.push(() => plain.close());
    const got = await plain.client(url).get('g', 'x');
    assert.equal(new TextDecoder().decode(got.value), "owner's x");
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
    const transport = new LazyTransport('http', async () =>
      httpTransport({ dialect: 'groupcache-go' }),
    );
    closers.push(() => transport.close());
    await transport.client(server.url).removeMany?.('g', ['a', 'b']);
    assert.deepEqual(methods, ['POST']);
    assert.deepEqual(group.seen, ['a', 'b']);
  });

  it('a client closed before its first request fails, and the next one is fresh', async () => {
    const transport = defaultTransport();
    closers.push(() => transport.close());
    const first = transport.client('http://127.0.0.1:9');
    first.close?.();
    await assert.rejects(first.get('g', 'k'), UnavailableError);
    assert.notEqual(transport.client('http://127.0.0.1:9'), first);
  });

  it('a transport that fails to load fails serve and requests with its error', async () => {
    let loads = 0;
    const transport = new LazyTransport('broken', async () => {
      loads++;
      throw new InvalidArgumentError('bad option');
    });
    assert.equal(transport.name, 'broken');
    await assert.rejects(
      transport.serve(
        { getGroup: () => undefined },
        {
          host: '127.0.0.1',
          port: 0,
          signal: new AbortController().signal,
          logger: {
            debug() {},
            info() {},
            warn() {},
            error() {},
          },
        },
      ),
      InvalidArgumentError,
    );
    await assert.rejects(
      transport.client('http://127.0.0.1:9').get('g', 'k'),
      InvalidArgumentError,
    );
    assert.equal(loads, 1, 'loaded once');
    await transport.close();
  });
});
