// fallback-owner.test.ts: a hung owner in a 3-node cluster of real `peercache node` processes
// over tcp (SIGSTOP): once the others see it unhealthy, each of its keys is loaded once in the
// cluster, by the same fallback owner whichever node is asked.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { type PeercacheNode, startPeercacheNode } from './support/peercache.js';
import { cleanupAfter, freePorts, waitFor } from './support/process.js';
import { testValue } from './support/values.js';

async function peerHealthy(node: PeercacheNode, peer: string): Promise<boolean | undefined> {
  const res = await fetch(`${node.apiUrl}/peers`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  return ((await res.json()) as { peerHealthy: Record<string, boolean> }).peerHealthy[peer];
}

describe('the keys of a hung owner, over tcp', { timeout: 90_000 }, () => {
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
  const ring = createRing({ kind: defaultRing('tcp') });

  before(async () => {
    const ports = await freePorts(6);
    const urls = ports.slice(0, 3).map((port) => `http://127.0.0.1:${port}`);
    ring.set(urls);
    nodes = await Promise.all(
      urls.map((self, i) =>
        startPeercacheNode({
          self,
          peers: urls,
          apiPort: ports[3 + i]!,
          registry,
          transport: 'tcp',
        }),
      ),
    );
  });

  /** `count` keys `${prefix}${i}` that `url` owns. */
  const keysOwnedBy = (url: string, prefix: string, count: number) => {
    const keys: string[] = [];
    for (let i = 0; keys.length < count; i++) {
      if (ring.get(`${prefix}${i}`) === url) keys.push(`${prefix}${i}`);
    }
    return keys;
  };

  it('300 concurrent gets of 100 of its keys over the two others make 100 loads, on their fallback owners', async () => {
    const [a, b, c] = nodes as [PeercacheNode, PeercacheNode, PeercacheNode];
    const others = [a, b];
    stopped = c.process.pid;
    process.kill(c.process.pid, 'SIGSTOP');

    // A get of one of its keys on each other node (a key of its own: the other node
    // may keep a copy of the first) finds it unresponsive.
    const detect = keysOwnedBy(c.url, 'detect-', 2);
    const first = await Promise.all(others.map((n, i) => n.get(detect[i]!)));
    assert.deepEqual(
      first.map((got) => got.status),
      [200, 200],
    );
    for (const n of others) {
      await waitFor(async () => (await peerHealthy(n, c.url)) === false, {
        timeoutMs: 15_000,
        message: `${n.url} sees ${c.url} unhealthy`,
      });
    }

    const keys = keysOwnedBy(c.url, 'fb-', 100);
    const gets = keys.flatMap((key, i) =>
      [0, 1, 2].map(async (j) => {
        const via = others[(i + j) % 2]!;
        return { key, via: via.url, got: await via.get(key) };
      }),
    );
    const answers = await Promise.all(gets);
    assert.equal(answers.length, 300);
    const failed = answers.filter(({ got }) => got.status !== 200);
    assert.deepEqual(
      failed.map(({ key, via, got }) => `${key} via ${via}: ${got.status} ${got.text}`),
      [],
      'no get failed',
    );
    for (const { key, got } of answers) assert.deepEqual(got.body, testValue(key));

    await Promise.all(others.map((n) => n.syncLogs()));
    const loads = others.map((n) => n.loads());
    const total = keys.reduce((sum, key) => sum + loads.reduce((s, l) => s + (l[key] ?? 0), 0), 0);
    assert.equal(total, 100, 'each key loaded once in the cluster');
    for (const key of keys) {
      // The first member after the owner on the ring: both others are healthy.
      const fallback = ring.next(key, () => true);
      const where = others.flatMap((n, i) => Array(loads[i]![key] ?? 0).fill(n.url));
      assert.deepEqual(where, [fallback], `${key} loaded by its fallback owner`);
    }
    const spread = new Set(keys.map((key) => ring.next(key, () => true)));
    assert.equal(spread.size, 2, 'the hung owner’s keys spread over both others');
  });
});
