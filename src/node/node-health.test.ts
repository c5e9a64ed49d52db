// node-health.test.ts: peer health in a node over real transports on loopback: what
// a probe gets from each transport's server, fallback from a dead peer, /peers and metrics.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { PROBE_GROUP, probeAnswered } from '../core/peer-health.js';
import { grpcTransport } from '../transport/grpc/index.js';
import { httpTransport } from '../transport/http/index.js';
import { tcpTransport } from '../transport/tcp/index.js';
import type { PeerTransport } from '../transport/transport.js';
import { type CacheNode, createNode } from './node.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** until polls `check` every 20 ms for at most `ms` (a bounded wait for a real timer). */
async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

const transports: Record<string, () => PeerTransport> = {
  http: () => httpTransport(),
  tcp: () => tcpTransport(),
  grpc: () => grpcTransport(),
};

describe('a health probe over each transport', () => {
  for (const [name, make] of Object.entries(transports)) {
    test(`${name}: a live peer answers the probe; a closed port does not`, async () => {
      const port = await freePort();
      const self = `http://127.0.0.1:${port}`;
      const server = createNode({ self, transport: make() });
      server.newGroup('g', { cacheBytes: 1024, load: (k) => k });
      await server.listen();
      const transport = make();
      try {
        const live = await transport
          .client(self)
          .get(PROBE_GROUP, 'probe', { deadline: Date.now() + 5_000 })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        assert.ok(live !== undefined, 'no node serves the probe group');
        assert.equal(probeAnswered(live), true, `a live peer's answer: ${String(live)}`);
        const dead = await transport
          .client(`http://127.0.0.1:${await freePort()}`)
          .get(PROBE_GROUP, 'probe', { deadline: Date.now() + 5_000 })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        assert.equal(probeAnswered(dead), false, `a closed port: ${String(dead)}`);
      } finally {
        await transport.close();
        await server.close();
      }
    });
  }
});

describe('a node with a dead peer', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = `http://127.0.0.1:${portA}`;
  const b = `http://127.0.0.1:${portB}`;
  const nodes: CacheNode[] = [];
  const loads: string[] = [];
  const node = createNode({
    self: a,
    peers: [a, b],
    transport: tcpTransport(),
    peerHealth: { probeIntervalMs: 50, failureThreshold: 1 },
  });
  nodes.push(node);
  const group = node.newGroup('g', {
    cacheBytes: 1 << 20,
    load: (k) => {
      loads.push(k);
      return `v:${k}`;
    },
  });
  await node.listen();
  after(() => Promise.all(nodes.map((n) => n.close())));
  const keyOfB = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => node.ownerOf(k) === b);
  assert.ok(keyOfB);

  test('before any request every peer is healthy', async () => {
    assert.deepEqual(node.peers().peerHealthy, { [b]: true });
    assert.deepEqual(node.peers().unhealthyPeers, {});
    assert.match(await node.metrics.registry.metrics(), /peercache_peer_healthy\{peer="[^"]+"\} 1/);
  });

  test('its keys load locally, it is reported unhealthy, and it is avoided', async () => {
    assert.equal((await group.get(keyOfB)).toString(), `v:${keyOfB}`);
    assert.ok(loads.includes(keyOfB), 'loaded here when the owner could not be reached');
    const info = node.peers();
    assert.deepEqual(info.peerHealthy, { [b]: false });
    assert.match(info.unhealthyPeers[b]?.reason ?? '', /./);
    assert.equal(typeof info.unhealthyPeers[b]?.since, 'string');
    const text = await node.metrics.registry.metrics();
    assert.ok(text.includes(`peercache_peer_healthy{peer="${b}"} 0`), text);
    const errorsBefore = /peercache_peer_request_errors_total\{[^}]*\} (\d+)/.exec(text)?.[1];
    const other = Array.from({ length: 400 }, (_, i) => `o${i}`).find(
      (k) => node.ownerOf(k) === b && k !== keyOfB,
    ) as string;
    assert.equal((await group.get(other)).toString(), `v:${other}`);
    const after = await node.metrics.registry.metrics();
    const errorsAfter = /peercache_peer_request_errors_total\{[^}]*\} (\d+)/.exec(after)?.[1];
    assert.equal(errorsAfter, errorsBefore, 'no request was sent to the unhealthy peer');
  });

  test('once it serves again a probe finds it and requests go to it', async () => {
    const peer = createNode({ self: b, peers: [a, b], transport: tcpTransport() });
    nodes.push(peer);
    const served: string[] = [];
    peer.newGroup('g', {
      cacheBytes: 1 << 20,
      load: (k) => {
        served.push(k);
        return `v:${k}`;
      },
    });
    await peer.listen();
    assert.ok(await until(() => node.peers().peerHealthy[b] === true, 5_000), 'healthy again');
    assert.deepEqual(node.peers().unhealthyPeers, {});
    const fresh = Array.from({ length: 400 }, (_, i) => `f${i}`).find(
      (k) => node.ownerOf(k) === b,
    ) as string;
    assert.equal((await group.get(fresh)).toString(), `v:${fresh}`);
    assert.deepEqual(served, [fresh], 'the owner loaded it');
    assert.ok(!loads.includes(fresh));
  });
});

test('bad health options are InvalidArgumentErrors', () => {
  assert.throws(() => createNode({ peerTimeoutMs: 0 }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => createNode({ peerHealth: { failureThreshold: 0 } }), {
    code: 'INVALID_ARGUMENT',
  });
  assert.throws(() => createNode({ peerHealth: { probeTimeoutMs: -5 } }), {
    code: 'INVALID_ARGUMENT',
  });
});
