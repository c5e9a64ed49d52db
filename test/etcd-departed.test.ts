// etcd-departed.test.ts: 100 membership changes through a real etcd, each a member registered
// at a fresh address and the previous one deregistered (its lease revoked): the watching node
// follows every change, and afterwards keeps open only the last member's connections, sockets
// and metric series.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noopLogger } from '../src/core/logger.js';
import { createEtcdMembership } from '../src/membership/etcd/index.js';
import type { Membership } from '../src/membership/membership.js';
import { type CacheNode, createNode } from '../src/node/node.js';
import { httpTransport } from '../src/transport/http/index.js';
import {
  addressOf,
  canCountSockets,
  openSockets,
  type Peer,
  peerSeries,
  startPeer,
} from './support/churn.js';
import { type EtcdServer, etcdBinary, startEtcd, suiteCleanup } from './support/etcd.js';
import { waitFor } from './support/process.js';

const binary = await etcdBinary();
const skip =
  typeof binary !== 'string'
    ? binary.skip
    : canCountSockets
      ? false
      : 'no /proc/self/fd to count sockets in';

const CHANGES = 100;
const SELF = 'http://127.0.0.1:1';
const SERVICE = `departed-${process.pid}`;
/** Quick retries and coalescing, so each change is applied within tens of ms. */
const TIMING = { retryMinMs: 50, retryMaxMs: 250, coalesceMs: 20 };

describe('membership changes through etcd', { skip, timeout: 120_000 }, () => {
  const cleanup = suiteCleanup();
  let etcd: EtcdServer;
  let peer: Peer;
  let node: CacheNode;
  const members: Membership[] = [];

  before(async () => {
    etcd = await startEtcd({ cleanup });
    peer = await startPeer(httpTransport());
  });
  after(async () => {
    await node?.close();
    await Promise.all(members.map((m) => m.close()));
    await peer?.close();
  });

  /** register makes `url` a member the way a node does: a lease, its key, a watch. */
  const register = async (url: string): Promise<Membership> => {
    const membership = createEtcdMembership({
      endpoints: etcd.endpoint,
      self: url,
      service: SERVICE,
      leaseTtlSeconds: 10,
      timing: TIMING,
      failFast: true,
    });
    members.push(membership);
    await membership.start(() => {});
    return membership;
  };

  it(`${CHANGES} changes with fresh addresses: sockets and series stay bounded`, async () => {
    node = createNode({
      self: SELF,
      transport: httpTransport(),
      logger: noopLogger,
      membership: createEtcdMembership({
        endpoints: etcd.endpoint,
        self: SELF,
        service: SERVICE,
        timing: TIMING,
        failFast: true,
      }),
    });
    const group = node.newGroup('g', { cacheBytes: 0, load: (key) => `local:${key}` });
    // The node serves no peers here: nobody asks it, so it only follows the membership.
    await node.start();
    await waitFor(() => JSON.stringify(node.peers().peers) === JSON.stringify([SELF]));

    let previous: Membership | undefined;
    let baseline = 0;
    for (let i = 0; i < CHANGES; i++) {
      const url = peer.url(addressOf(i));
      const current = await register(url);
      await previous?.close();
      previous = current;
      const want = JSON.stringify([SELF, url].sort());
      await waitFor(() => JSON.stringify(node.peers().peers) === want, {
        timeoutMs: 10_000,
        message: `change ${i}: the ring is ${JSON.stringify(node.peers().peers)}`,
      });
      let key = '';
      for (let k = 0; key === ''; k++) if (node.ownerOf(`k${k}`) === url) key = `k${k}`;
      assert.equal((await group.get(key)).toString(), `peer:${key}`, `change ${i}`);
      // Counted once the first member is in, so the node's own connections are in the baseline.
      if (i === 0) baseline = openSockets();
    }

    const last = addressOf(CHANGES - 1);
    await waitFor(() => peer.proxy.open <= 4, {
      timeoutMs: 5_000,
      message: `connections through the proxy: ${peer.proxy.open}`,
    });
    assert.equal(peer.proxy.openOn(last), peer.proxy.open);
    // Each peer connection is up to 4 sockets here (ours, the proxy's two, the server's);
    // each registered member has its connection to etcd.
    await waitFor(() => openSockets() <= baseline + 16, {
      timeoutMs: 5_000,
      message: `open sockets: ${openSockets()}, ${baseline} after the first change`,
    });
    const series = await peerSeries(node);
    assert.deepEqual([...series], [peer.url(last)]);
  });
});
