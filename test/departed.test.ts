// departed.test.ts: a node whose peers keep changing address (as on Kubernetes, where every
// restart is a new address) keeps open only its members' connections and metric series; a
// request in flight to a peer that leaves still completes; and nothing dials a peer after it
// left. Over real sockets, for the http, tcp and grpc transports: one real peer server
// behind a counting proxy on 0.0.0.0, reached at a fresh 127.0.x.y address for each change.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Group } from '../src/core/group.js';
import { noopLogger } from '../src/core/logger.js';
import { type CacheNode, createNode } from '../src/node/node.js';
import { grpcTransport } from '../src/transport/grpc/index.js';
import { httpTransport } from '../src/transport/http/index.js';
import { tcpTransport } from '../src/transport/tcp/index.js';
import type { PeerTransport } from '../src/transport/transport.js';
import {
  addressOf,
  canCountSockets,
  openSockets,
  type Peer,
  peerSeries,
  startPeer,
} from './support/churn.js';
import { waitFor } from './support/process.js';

const CHANGES = 1000;
const SELF = 'http://127.0.0.1:1';
/** client builds the node under test: it never listens, and loads `local:key` when it owns a key. */
function client(transport: PeerTransport): { node: CacheNode; group: Group } {
  const node = createNode({ self: SELF, transport, logger: noopLogger });
  const group = node.newGroup('g', { cacheBytes: 0, load: (key) => `local:${key}` });
  return { node, group };
}

/** keyOf finds a key starting with `prefix` that `url` owns on the node's ring. */
function keyOf(node: CacheNode, url: string, prefix = 'k'): string {
  for (let i = 0; ; i++) if (node.ownerOf(`${prefix}${i}`) === url) return `${prefix}${i}`;
}

type Make = () => PeerTransport;
const transports: Array<[string, Make]> = [
  ['http', () => httpTransport()],
  ['tcp', () => tcpTransport({ minBackoffMs: 10, maxBackoffMs: 50 })],
  ['grpc', () => grpcTransport()],
];

for (const [name, make] of transports) {
  describe(`departed peers over ${name}`, { timeout: 120_000 }, () => {
    let peer: Peer;
    const nodes: CacheNode[] = [];
    before(async () => {
      peer = await startPeer(make());
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.close()));
      await peer.close();
    });

    it(`${CHANGES} changes with a fresh address each: sockets and series stay bounded`, {
      skip: canCountSockets ? false : 'no /proc/self/fd to count sockets in',
    }, async () => {
      const { node, group } = client(make());
      nodes.push(node);
      const baseline = openSockets();
      const acceptedBefore = peer.proxy.accepted;
      for (let i = 0; i < CHANGES; i++) {
        const url = peer.url(addressOf(i));
        node.setPeers([SELF, url]);
        const key = keyOf(node, url);
        assert.equal((await group.get(key)).toString(), `peer:${key}`, `change ${i}`);
      }
      // Every change really opened a connection of its own.
      assert.ok(peer.proxy.accepted - acceptedBefore >= CHANGES);
      // Only the last member's connections stay; a transport opens a few per peer at most.
      await waitFor(() => peer.proxy.open <= 4, {
        timeoutMs: 5_000,
        message: `connections through the proxy: ${peer.proxy.open}`,
      });
      assert.equal(peer.proxy.openOn(addressOf(CHANGES - 1)), peer.proxy.open);
      // Each connection is up to 4 sockets here: ours, the proxy's two, the server's.
      await waitFor(() => openSockets() <= baseline + 16, {
        timeoutMs: 5_000,
        message: `open sockets: ${openSockets()}, ${baseline} before`,
      });
      const series = await peerSeries(node);
      assert.ok(series.size <= 1, `series of ${series.size} peers`);
      for (const p of series) assert.equal(p, peer.url(addressOf(CHANGES - 1)));
    });

    it('a request in flight to a peer that leaves completes, then its connection closes', async () => {
      const { node, group } = client(make());
      nodes.push(node);
      const address = '127.0.200.1';
      const url = peer.url(address);
      node.setPeers([SELF, url]);
      const key = keyOf(node, url, 'slow');
      const waitingBefore = peer.gate.waiting;
      const pending = group.get(key);
      await waitFor(() => peer.gate.waiting > waitingBefore, { message: 'the peer is loading' });
      node.setPeers([SELF]);
      assert.equal(node.ownerOf(key), SELF);
      assert.ok(peer.proxy.openOn(address) > 0, 'the connection closed under the request');
      peer.gate.open();
      assert.equal((await pending).toString(), `peer:${key}`);
      await waitFor(() => peer.proxy.openOn(address) === 0, {
        message: `connections to ${address} still open: ${peer.proxy.openOn(address)}`,
      });
      assert.deepEqual([...(await peerSeries(node))], []);
    });
  });

  describe(`a peer that died and left, over ${name}`, { timeout: 60_000 }, () => {
    it('is not dialled again once it left the ring', async () => {
      const dead = await startPeer(make());
      const { node, group } = client(make());
      try {
        const address = '127.0.201.1';
        const url = dead.url(address);
        node.setPeers([SELF, url]);
        const keys = Array.from({ length: 20 }, (_, i) => keyOf(node, url, `d${i}-`));
        assert.equal((await group.get(keys[0] as string)).toString(), `peer:${keys[0]}`);
        // The peer dies while calls go to it; they fall back to local loads.
        dead.proxy.refuse();
        for (const key of keys) {
          const got = (await group.get(key)).toString();
          assert.ok(got === `local:${key}` || got === `peer:${key}`, got);
        }
        await waitFor(() =>
          group.get(keys[1] as string).then((v) => v.toString().startsWith('local:')),
        );
        node.setPeers([SELF]);
        const dialled = dead.proxy.acceptedOn(address);
        await sleep(1_500);
        assert.equal(
          dead.proxy.acceptedOn(address),
          dialled,
          `${dead.proxy.acceptedOn(address) - dialled} connection attempts after the peer left`,
        );
      } finally {
        await node.close();
        await dead.close();
      }
    });
  });
}
