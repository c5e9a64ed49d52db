// cluster-tls.test.ts: three in-process nodes on https:// URLs, mutual TLS and a peer secret,
// per transport: each key is loaded once, on its owner; set and remove reach the owner.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CacheNode, createNode, type NodeOptions } from '../../src/node/node.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { httpTransport } from '../../src/transport/http/index.js';
import { makeTestCerts } from '../support/certs.js';
import { keysPerOwner } from '../support/owned-keys.js';
import { freePorts } from '../support/process.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

const tls = { cert: certs.node.cert, key: certs.node.key, ca: certs.ca, clientAuth: true };
const peerSecret = 'cluster-secret';

/** How each transport's node is built from its self and peers. */
const kinds: Record<string, (self: string, peers: string[]) => NodeOptions> = {
  http: (self, peers) => ({ self, peers, transport: httpTransport({ tls, peerSecret }) }),
  grpc: (self, peers) => ({ self, peers, transport: grpcTransport({ tls, peerSecret }) }),
};

for (const [kind, optionsFor] of Object.entries(kinds)) {
  describe(`a 3-node ${kind} cluster over mutual TLS with a peer secret`, {
    timeout: 60_000,
  }, () => {
    let nodes: CacheNode[] = [];
    let urls: string[] = [];
    /** loads[url][key] counts the loads of `key` on the node at `url`. */
    const loads: Record<string, Record<string, number>> = {};

    before(async () => {
      urls = (await freePorts(3)).map((port) => `https://127.0.0.1:${port}`);
      nodes = urls.map((self) => {
        const node = createNode(optionsFor(self, urls));
        const mine: Record<string, number> = {};
        loads[self] = mine;
        node.newGroup('g', {
          cacheBytes: 1 << 20,
          hotCacheChance: 0,
          load: (key) => {
            mine[key] = (mine[key] ?? 0) + 1;
            return `value of ${key}`;
          },
        });
        return node;
      });
      await Promise.all(nodes.map((n) => n.listen()));
    });
    after(() => Promise.all(nodes.map((n) => n.close())));

    const get = async (node: CacheNode, key: string) =>
      (await node.getGroup('g')!.get(key)).toString();
    const loadsOf = (key: string) => urls.map((u) => loads[u]![key] ?? 0);

    it(`uses the ${kind} transport and https:// identities`, () => {
      for (const node of nodes) {
        assert.equal(node.transport.name, kind);
        assert.match(node.self, /^https:\/\//);
      }
    });

    it('loads each key once in the cluster, on its owner, whichever node is asked', async () => {
      const keys = keysPerOwner(
        urls,
        (k) => nodes[0]!.ownerOf(k),
        10,
        (i) => `once ${i}/+%😀`,
      );
      const answers = await Promise.all(
        keys.flatMap((key) => nodes.map(async (node) => ({ key, got: await get(node, key) }))),
      );
      for (const { key, got } of answers) assert.equal(got, `value of ${key}`);
      for (const key of keys) {
        const owner = nodes[0]!.ownerOf(key);
        assert.deepEqual(
          loadsOf(key),
          urls.map((u) => (u === owner ? 1 : 0)),
          `loads of ${key} (owner ${owner})`,
        );
      }
      for (const node of nodes) {
        const { peerLoads, peerErrors } = node.getGroup('g')!.stats;
        assert.ok(peerLoads > 0, `${node.self} got values from its peers`);
        assert.equal(peerErrors, 0, `${node.self} had no peer errors`);
      }
    });

    it('set through one node lands on the owner; remove removes it', async () => {
      const [a, , c] = nodes as [CacheNode, CacheNode, CacheNode];
      const key = Array.from({ length: 100 }, (_, i) => `set-${i}`).find(
        (k) => a.ownerOf(k) !== a.self && a.ownerOf(k) !== c.self,
      )!;
      await a.getGroup('g')!.set(key, Uint8Array.of(0, 1, 255));
      const owner = nodes.find((n) => n.self === a.ownerOf(key))!;
      assert.deepEqual(owner.getGroup('g')!.peek(key)?.byteSlice(), Uint8Array.of(0, 1, 255));
      assert.deepEqual((await c.getGroup('g')!.get(key)).byteSlice(), Uint8Array.of(0, 1, 255));
      await c.getGroup('g')!.remove(key);
      assert.equal(owner.getGroup('g')!.peek(key), undefined);
      assert.equal(await get(a, key), `value of ${key}`);
      assert.deepEqual(
        loadsOf(key),
        urls.map((u) => (u === owner.self ? 1 : 0)),
      );
    });
  });
}
