// peer-health.test.ts: a hung owner in a 3-node cluster of real `peercache node` processes,
// per transport (SIGSTOP, then SIGCONT): its keys are answered by the others with no
// failure, it is reported unhealthy and avoided, and it gets traffic again once it answers.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { type PeercacheNode, startPeercacheNode } from './support/peercache.js';
import { cleanupAfter, freePorts, waitFor } from './support/process.js';
import { testValue } from './support/values.js';

interface Peers {
  peerHealthy: Record<string, boolean>;
  unhealthyPeers: Record<string, { reason: string; since: string }>;
}

async function peersOf(node: PeercacheNode): Promise<Peers> {
  const res = await fetch(`${node.apiUrl}/peers`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  return (await res.json()) as Peers;
}

/** requestsTo sums the requests `node` sent to `peer` (its latency histogram's counts). */
async function requestsTo(node: PeercacheNode, peer: string): Promise<number> {
  const res = await fetch(`${node.apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('peercache_peer_request_duration_seconds_count{')) continue;
    if (!line.includes(`peer="${peer}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

for (const transport of ['tcp', 'http', 'grpc'] as const) {
  describe(`a hung owner in a 3-node cluster over ${transport}`, { timeout: 90_000 }, () => {
    let nodes: PeercacheNode[] = [];
    let stopped: number | undefined;
    // Registered before the registry's cleanup, so it runs first: a stopped node is
    // continued before it is asked to stop.
    after(() => {
      if (stopped !== undefined) {
        try {
          process.kill(stopped, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    });
    const registry = cleanupAfter();
    const ring = createRing({ kind: defaultRing(transport) });

    before(async () => {
      const ports = await freePorts(6);
      const urls = ports.slice(0, 3).map((port) => `http://127.0.0.1:${port}`);
      ring.set(urls);
      nodes = await Promise.all(
        urls.map((self, i) =>
          startPeercacheNode({ self, peers: urls, apiPort: ports[3 + i]!, registry, transport }),
        ),
      );
    });

    /** `count` fresh keys `${prefix}${i}` that `url` owns. */
    const keysOwnedBy = (url: string, prefix: string, count: number) => {
      const keys: string[] = [];
      for (let i = 0; keys.length < count; i++) {
        if (ring.get(`${prefix}${i}`) === url) keys.push(`${prefix}${i}`);
      }
      return keys;
    };
    /** Gets every key through both `via` nodes at once; every answer must be the value. */
    const getAll = async (via: PeercacheNode[], keys: string[]) => {
      const answers = await Promise.all(
        keys.flatMap((key) => via.map(async (n) => ({ key, got: await n.get(key) }))),
      );
      const failed = answers.filter(({ got }) => got.status !== 200);
      assert.deepEqual(
        failed.map(({ key, got }) => `${key}: ${got.status} ${got.text}`),
        [],
        'no get failed',
      );
      for (const { key, got } of answers) assert.deepEqual(got.body, testValue(key));
    };

    it('answers every get of the hung owner’s keys, avoids it, and returns to it once it answers', async () => {
      const [a, b, c] = nodes as [PeercacheNode, PeercacheNode, PeercacheNode];
      const others = [a, b];
      // The cluster works and the owner serves its keys.
      await getAll(others, keysOwnedBy(c.url, 'warm-', 4));
      for (const n of others) assert.equal((await peersOf(n)).peerHealthy[c.url], true);

      stopped = c.process.pid;
      process.kill(c.process.pid, 'SIGSTOP');

      // The first wave waits until the owner is found unresponsive, then goes to each
      // key's fallback owner.
      await getAll(others, keysOwnedBy(c.url, 'first-', 10));
      for (const n of others) {
        const peers = await peersOf(n);
        assert.equal(peers.peerHealthy[c.url], false, `${n.url} sees the owner unhealthy`);
        assert.match(peers.unhealthyPeers[c.url]?.reason ?? '', /probe|failed/);
        assert.equal(peers.peerHealthy[others.find((o) => o !== n)!.url], true);
      }

      // Later gets of its keys are answered without sending it anything.
      const sentBefore = await Promise.all(others.map((n) => requestsTo(n, c.url)));
      await getAll(others, keysOwnedBy(c.url, 'later-', 20));
      const sentAfter = await Promise.all(others.map((n) => requestsTo(n, c.url)));
      assert.deepEqual(sentAfter, sentBefore, 'no request went to the unhealthy owner');

      // Continued, it answers a probe and is used again.
      process.kill(c.process.pid, 'SIGCONT');
      stopped = undefined;
      for (const n of others) {
        await waitFor(async () => (await peersOf(n)).peerHealthy[c.url] === true, {
          timeoutMs: 15_000,
          message: `${n.url} sees ${c.url} healthy again`,
        });
      }
      const served = (await c.stats()).stats.serverRequests;
      await getAll(others, keysOwnedBy(c.url, 'back-', 5));
      assert.ok(
        (await c.stats()).stats.serverRequests >= served + 10,
        'the owner serves its keys again',
      );
    });
  });
}
