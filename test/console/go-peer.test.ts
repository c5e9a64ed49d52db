// go-peer.test.ts: a real golang/groupcache peer in the ring shows in the console's cluster
// view as answering, with no stats (it has no stats call), beside peercache members.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ClusterView } from '../../src/api/console.js';
import { createApiHandler } from '../../src/api/server.js';
import { createScoresLoader } from '../../src/loaders/scores.js';
import { type CacheNode, createNode } from '../../src/node/node.js';
import { goPeerBinary, peerUrls, startGoPeer } from '../support/gopeer.js';
import { cleanupAfter } from '../support/process.js';

const build = await goPeerBinary();
const skip = typeof build === 'string' ? false : build.skip;

describe('console with a Go groupcache peer', { skip }, () => {
  const registry = cleanupAfter();
  let node: CacheNode;
  let goUrl: string;
  const server = createServer();

  before(async () => {
    const [self, go] = await peerUrls(2);
    goUrl = go as string;
    await startGoPeer({ self: goUrl, peers: [self as string, goUrl], registry });
    node = createNode({ self, peers: [self as string, goUrl] });
    node.newGroup('scores', { cacheBytes: 1 << 20, load: createScoresLoader() });
    await node.listen();
    server.on('request', createApiHandler(node));
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  });
  after(async () => {
    server.close();
    await node?.close();
  });

  it('shows the Go peer as answering, without stats, and its ring share', async () => {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/console/api/cluster`);
    const view = (await res.json()) as ClusterView;
    const go = view.members.find((m) => m.url === goUrl);
    assert.equal(go?.noStats, true, JSON.stringify(go));
    assert.equal(go?.answering, true);
    assert.equal(go?.stats, undefined);
    assert.ok((go?.share ?? 0) > 0);
    const self = view.members.find((m) => m.self);
    assert.equal(self?.answering, true);
    assert.ok(self?.stats?.groups.scores !== undefined);
  });
});
