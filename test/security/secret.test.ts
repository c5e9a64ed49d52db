// secret.test.ts: the peer secret on both transports: a missing or wrong secret gets 401 /
// UNAUTHENTICATED before any group is looked at (no load, nothing stored, nothing removed), and a
// node whose owner refuses its secret takes that as the owner's answer: get, set and remove fail.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type CacheNode, createNode, type NodeOptions } from '../../src/node/node.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { httpTransport } from '../../src/transport/http/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { freePorts } from '../support/process.js';
import { GROUP, Owner, serveOwner } from './owner.js';

const SECRET = 'the-right-secret';

type Make = (peerSecret: string | undefined) => PeerTransport;
const kinds: Record<string, { make: Make; node: (peerSecret: string) => Partial<NodeOptions> }> = {
  http: {
    make: (peerSecret) => httpTransport({ peerSecret }),
    node: (peerSecret) => ({ transport: httpTransport({ peerSecret }) }),
  },
  grpc: {
    make: (peerSecret) => grpcTransport({ peerSecret }),
    node: (peerSecret) => ({ transport: grpcTransport({ peerSecret }) }),
  },
};

const utf8 = (s: string) => new TextEncoder().encode(s);

for (const [kind, { make, node: nodeSecret }] of Object.entries(kinds)) {
  describe(`${kind}: the peer secret`, { timeout: 60_000 }, () => {
    const owner = new Owner();
    const transports: PeerTransport[] = [];
    let server: PeerServer;
    let url: string;
    const open = (peerSecret: string | undefined) => {
      const t = make(peerSecret);
      transports.push(t);
      return t;
    };

    before(async () => {
      const served = await serveOwner(open(SECRET), owner);
      server = served.server;
      url = `http://127.0.0.1:${served.port}`;
      owner.group.setFromPeer('kept', utf8('kept value'), 0);
    });
    after(async () => {
      await server.close(0);
      await Promise.all(transports.map((t) => t.close()));
    });

    for (const [what, secret] of [
      ['no secret', undefined],
      ['a wrong secret', 'the-wrong-secret'],
      ['a longer secret', `${SECRET}x`],
    ] as const) {
      it(`${what}: get, set and remove are UNAUTHENTICATED and change nothing`, async () => {
        const client = open(secret).client(url);
        const lookups = owner.lookups;
        await assert.rejects(client.get(GROUP, 'fresh'), { code: 'UNAUTHENTICATED' });
        await assert.rejects(client.set(GROUP, 'planted', utf8('evil'), 0), {
          code: 'UNAUTHENTICATED',
        });
        await assert.rejects(client.set(GROUP, 'kept', utf8('evil'), 0), {
          code: 'UNAUTHENTICATED',
        });
        await assert.rejects(client.remove(GROUP, 'kept'), { code: 'UNAUTHENTICATED' });
        // Not even a wrong group name gets past authentication.
        await assert.rejects(client.get('no-such-group', 'k'), { code: 'UNAUTHENTICATED' });
        assert.equal(owner.lookups, lookups, 'no group was looked up');
        assert.equal(owner.loadsOf('fresh'), 0, 'no load ran');
        assert.equal(owner.group.peek('planted'), undefined, 'nothing was stored');
        assert.equal(owner.group.peek('kept')?.toString(), 'kept value', 'nothing changed or left');
      });
    }

    it('the right secret is served', async () => {
      const client = open(SECRET).client(url);
      assert.deepEqual((await client.get(GROUP, 'fresh')).value, utf8('value of fresh'));
      assert.equal(owner.loadsOf('fresh'), 1);
      await client.set(GROUP, 'planted', utf8('fine'), 0);
      assert.equal(owner.group.peek('planted')?.toString(), 'fine');
      await client.remove(GROUP, 'planted');
      assert.equal(owner.group.peek('planted'), undefined);
    });

    if (kind === 'http') {
      it('answers 401 with a Bearer challenge, whatever the method, body or group', async () => {
        const cases: [string, RequestInit][] = [
          ['/_groupcache/secure/fresh', { method: 'GET' }],
          [
            '/_groupcache/secure/fresh',
            { method: 'GET', headers: { authorization: 'Basic eDp5' } },
          ],
          [
            '/_groupcache/secure/kept',
            { method: 'DELETE', headers: { authorization: 'Bearer no' } },
          ],
          ['/_groupcache/secure/planted', { method: 'PUT', body: new Uint8Array(100_000) }],
          ['/_groupcache/nope/k', { method: 'PATCH' }],
        ];
        const lookups = owner.lookups;
        for (const [path, init] of cases) {
          const res = await fetch(`${url}${path}`, init);
          assert.equal(res.status, 401, `${init.method} ${path}`);
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
          assert.match(await res.text(), /unauthenticated/);
        }
        assert.equal(owner.lookups, lookups);
        assert.equal(owner.group.peek('kept')?.toString(), 'kept value');
        // The scheme is case-insensitive; a right secret passes.
        const ok = await fetch(`${url}/_groupcache/secure/kept`, {
          headers: { authorization: `bearer ${SECRET}` },
        });
        assert.equal(ok.status, 200);
        await ok.arrayBuffer();
      });
    }

    if (kind === 'grpc') {
      it('the health service answers without the secret', async () => {
        const raw = new Client(`127.0.0.1:${new URL(url).port}`, credentials.createInsecure());
        try {
          const code = await new Promise<status>((resolve) => {
            raw.makeUnaryRequest(
              '/grpc.health.v1.Health/Check',
              (b: Buffer) => b,
              (b: Buffer) => b,
              Buffer.alloc(0),
              new Metadata(),
              { deadline: Date.now() + 5_000 },
              (err: ServiceError | null) => resolve(err ? err.code : status.OK),
            );
          });
          assert.equal(code, status.OK);
        } finally {
          raw.close();
        }
      });
    }

    it('a node whose owner refuses its secret fails get, set and remove, and loads nothing', async () => {
      const [portA, portB] = await freePorts(2);
      const a = `http://127.0.0.1:${portA}`;
      const b = `http://127.0.0.1:${portB}`;
      const loads = { [a]: 0, [b]: 0 };
      const nodes = [
        [a, 'secret-of-a'],
        [b, 'secret-of-b'],
      ].map(([self, secret]) => {
        const n = createNode({ self: self!, peers: [a, b], ...nodeSecret(secret!) });
        n.newGroup(GROUP, {
          cacheBytes: 1 << 20,
          hotCacheChance: 0,
          load: (key) => {
            loads[self!]!++;
            return `value of ${key}`;
          },
        });
        return n;
      }) as [CacheNode, CacheNode];
      try {
        await Promise.all(nodes.map((n) => n.listen()));
        const [nodeA, nodeB] = nodes;
        const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
          (k) => nodeA.ownerOf(k) === b,
        )!;
        nodeB.getGroup(GROUP)!.setFromPeer(key, utf8('on b'), 0);
        const group = nodeA.getGroup(GROUP)!;
        // The owner was reached and refused: its answer, not a reason to load here.
        await assert.rejects(group.get(key), { code: 'UNAUTHENTICATED' });
        assert.deepEqual(loads, { [a]: 0, [b]: 0 }, 'loaded nowhere');
        assert.equal(group.stats.peerErrors, 0);
        await assert.rejects(group.set(key, 'from a'), { code: 'UNAUTHENTICATED' });
        await assert.rejects(group.remove(key), { code: 'UNAUTHENTICATED' });
        assert.equal(nodeB.getGroup(GROUP)!.peek(key)?.toString(), 'on b', 'B is unchanged');
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    });
  });
}
