// refused.test.ts: TLS refuses strangers on both transports: a server certificate from another
// CA, a client certificate from another CA (or none) under mutual TLS, and a plain-text client.
// The call fails UNAVAILABLE, nothing reaches a group, and a node falls back to loading locally.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { PeerClient } from '../../src/core/peers.js';
import { type CacheNode, createNode, type NodeOptions } from '../../src/node/node.js';
import type { TlsOptions } from '../../src/security/tls.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { httpTransport } from '../../src/transport/http/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { makeTestCerts } from '../support/certs.js';
import { freePorts } from '../support/process.js';
import { GROUP, Owner, serveOwner } from './owner.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

type Make = (tls: TlsOptions) => PeerTransport;
const kinds: Record<string, { make: Make; node: (tls: TlsOptions) => Partial<NodeOptions> }> = {
  http: {
    make: (tls) => httpTransport({ tls }),
    node: (tls) => ({ transport: httpTransport({ tls }) }),
  },
  grpc: {
    make: (tls) => grpcTransport({ tls }),
    node: (tls) => ({ transport: grpcTransport({ tls }) }),
  },
};

for (const [kind, { make, node: nodeTls }] of Object.entries(kinds)) {
  describe(`${kind}: TLS refuses peers from another CA`, { timeout: 60_000 }, () => {
    const transports: PeerTransport[] = [];
    const servers: PeerServer[] = [];
    const open = (tls: TlsOptions) => {
      const t = make(tls);
      transports.push(t);
      return t;
    };
    const serve = async (tls: TlsOptions, owner: Owner) => {
      const { server, port } = await serveOwner(open(tls), owner);
      servers.push(server);
      return port;
    };
    after(async () => {
      await Promise.all(servers.map((s) => s.close(0)));
      await Promise.all(transports.map((t) => t.close()));
    });

    /** refused checks that get, set and remove all fail UNAVAILABLE. */
    const refused = async (client: PeerClient, what: string) => {
      await assert.rejects(client.get(GROUP, 'k'), { code: 'UNAVAILABLE' }, `${what}: get`);
      await assert.rejects(
        client.set(GROUP, 'k', Uint8Array.of(1), 0),
        { code: 'UNAVAILABLE' },
        `${what}: set`,
      );
      await assert.rejects(client.remove(GROUP, 'k'), { code: 'UNAVAILABLE' }, `${what}: remove`);
    };

    it('a server certificate from another CA fails the call, before any group is asked', async () => {
      const owner = new Owner();
      const port = await serve({ ...certs.rogueNode }, owner);
      const url = `https://127.0.0.1:${port}`;
      await refused(open({ ca: certs.ca }).client(url), 'trusting our CA');
      assert.equal(owner.lookups, 0);
      // The same server is fine for a client that trusts the rogue CA: the CA is the reason.
      const trusting = open({ ca: certs.rogueCa }).client(url);
      assert.equal((await trusting.get(GROUP, 'k')).value.byteLength, 'value of k'.length);
    });

    it('mutual TLS: a client certificate from another CA, or none, is refused', async () => {
      const owner = new Owner();
      const port = await serve({ ...certs.node, ca: certs.ca, clientAuth: true }, owner);
      const url = `https://127.0.0.1:${port}`;
      await refused(open({ ca: certs.ca, ...certs.rogueClient }).client(url), 'rogue client cert');
      await refused(open({ ca: certs.ca }).client(url), 'no client cert');
      assert.equal(owner.lookups, 0);
      assert.equal(owner.loadsOf('k'), 0);
      // A client certificate from our CA is let in.
      const good = open({ ca: certs.ca, ...certs.client }).client(url);
      assert.deepEqual((await good.get(GROUP, 'k')).value, new TextEncoder().encode('value of k'));
      assert.equal(owner.loadsOf('k'), 1);
    });

    it('a TLS server does not answer a plain-text client', async () => {
      const owner = new Owner();
      const port = await serve({ ...certs.node, ca: certs.ca }, owner);
      await refused(open({ ca: certs.ca }).client(`http://127.0.0.1:${port}`), 'plain text');
      assert.equal(owner.lookups, 0);
    });

    it('a node whose owner peer has a rogue certificate loads locally; set fails', async () => {
      const [portA, portB] = await freePorts(2);
      const a = `https://127.0.0.1:${portA}`;
      const b = `https://127.0.0.1:${portB}`;
      const loads = { [a]: 0, [b]: 0 };
      const nodes: CacheNode[] = [
        [a, { ...certs.node, ca: certs.ca }],
        [b, { ...certs.rogueNode, ca: certs.ca }],
      ].map(([self, tls]) => {
        const n = createNode({
          self: self as string,
          peers: [a, b],
          ...nodeTls(tls as TlsOptions),
        });
        n.newGroup(GROUP, {
          cacheBytes: 1 << 20,
          hotCacheChance: 0,
          load: (key) => {
            loads[self as string]!++;
            return `value of ${key}`;
          },
        });
        return n;
      });
      try {
        await Promise.all(nodes.map((n) => n.listen()));
        const [nodeA, nodeB] = nodes as [CacheNode, CacheNode];
        const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
          (k) => nodeA.ownerOf(k) === b,
        )!;
        const group = nodeA.getGroup(GROUP)!;
        assert.equal((await group.get(key)).toString(), `value of ${key}`);
        assert.deepEqual(loads, { [a]: 1, [b]: 0 }, 'loaded on A, never on the rogue owner');
        assert.equal(group.stats.peerErrors, 1);
        await assert.rejects(group.set(key, 'mine'), { code: 'UNAVAILABLE' });
        assert.equal(nodeB.getGroup(GROUP)!.peek(key), undefined);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    });
  });
}
