// cluster.test.ts: a 3-node peercache cluster of real `peercache node` processes (static
// membership, loopback), once per peer transport: each key loaded once on its owner,
// herds, failover to the fallback owner, set and remove.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { keysPerOwner } from './support/owned-keys.js';
import { type PeercacheNode, startPeercacheNode, sumLoads } from './support/peercache.js';
import { cleanupAfter, freePorts } from './support/process.js';
import { testValue } from './support/values.js';

/** The loader sleeps this long for keys starting with `slow`, so a herd has a window. */
const SLOW_MS = 1500;

for (const transport of ['http', 'grpc', 'tcp'] as const) {
  describe(`a 3-node peercache cluster over ${transport}`, { timeout: 120_000 }, () => {
    const registry = cleanupAfter();
    let nodes: PeercacheNode[] = [];
    const ring = createRing({ kind: defaultRing(transport) });

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
            env: { LOAD_DELAY_MS: String(SLOW_MS), LOAD_DELAY_PREFIX: 'slow' },
            registry,
            transport,
          }),
        ),
      );
    });

    const ownerOf = (key: string) => ring.get(key)!;
    const nodeAt = (url: string) => {
      const node = nodes.find((n) => n.url === url);
      assert.ok(node, `no node ${url}`);
      return node;
    };
    /** Every node's load counts, once every line logged so far has arrived. */
    const allLoads = async () => {
      await Promise.all(nodes.map((n) => n.syncLogs()));
      return nodes.map((n) => n.loads());
    };
    /** The first `count` keys `${prefix}${i}` that `url` owns. */
    const keysOwnedBy = (url: string, prefix: string, count: number) =>
      keysPerOwner([url], ownerOf, count, (i) => `${prefix}${i}`);
    const assertValue = (got: { status: number; body: Uint8Array; text: string }, key: string) => {
      assert.equal(got.status, 200, `GET ${key}: ${got.status} ${got.text}`);
      assert.deepEqual(got.body, testValue(key), `value of ${key}`);
    };

    it('every node lists the same three peers', async () => {
      const urls = nodes.map((n) => n.url).sort();
      for (const node of nodes) {
        const res = await fetch(`${node.apiUrl}/peers`);
        const body = (await res.json()) as { self: string; peers: string[] };
        assert.equal(body.self, node.url);
        assert.deepEqual([...body.peers].sort(), urls);
      }
    });

    it('each key asked on every node is loaded exactly once in the cluster, on its owner', async () => {
      // Ten keys owned by each node, whatever ports the ring hashed.
      const keys = nodes.flatMap((node) => keysOwnedBy(node.url, 'once-', 10));
      // Every key on every node at once: 90 gets racing for 30 loads.
      const answers = await Promise.all(
        keys.flatMap((key) => nodes.map(async (node) => ({ key, got: await node.get(key) }))),
      );
      for (const { key, got } of answers) assertValue(got, key);

      const loads = await allLoads();
      for (const key of keys) {
        const where = nodes.filter((_, i) => loads[i]![key] !== undefined).map((n) => n.url);
        assert.deepEqual(where, [ownerOf(key)], `node(s) that loaded ${key}`);
        assert.equal(sumLoads(loads, key), 1, `loads of ${key}`);
      }
    });

    it('300 concurrent gets of one cold key over the 3 APIs load it exactly once', async () => {
      const key = 'slow-herd';
      const before = await nodeAt(ownerOf(key)).stats();
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) => nodes[i % 3]!.get(key)),
      );
      for (const got of answers) assertValue(got, key);
      const loads = await allLoads();
      assert.equal(sumLoads(loads, key), 1);
      assert.equal(loads[nodes.indexOf(nodeAt(ownerOf(key)))]![key], 1, 'loaded on its owner');
      // The owner's loader ran once for its own callers and the other nodes' requests.
      const after = await nodeAt(ownerOf(key)).stats();
      assert.equal(after.stats.localLoads - before.stats.localLoads, 2, 'the load and one sync');
    });

    it('set through one API lands on the owner; remove removes it everywhere', async () => {
      const [a, b] = nodes as [PeercacheNode, PeercacheNode, PeercacheNode];
      // A key that node b owns, written through node a.
      const [cold, warm] = keysOwnedBy(b.url, 'set-', 2) as [string, string];
      const custom = Uint8Array.from([0, 1, 2, 255, 0x20, 0x0a]);

      // A cold key: set, then read on every node without any load.
      const put = await a.set(cold, custom);
      assert.equal(put.status, 204, put.text);
      for (const node of nodes) assert.deepEqual((await node.get(cold)).body, custom, node.url);

      // A key already loaded and read everywhere: the set replaces every copy.
      for (const node of nodes) assertValue(await node.get(warm), warm);
      assert.equal((await a.set(warm, 'replaced')).status, 204);
      for (const node of nodes) {
        const got = await node.get(warm);
        assert.equal(got.status, 200);
        assert.equal(got.text, 'replaced', `after set, ${warm} on ${node.url}`);
      }

      let loads = await allLoads();
      assert.equal(sumLoads(loads, cold), 0, 'a set value is not loaded');
      assert.equal(sumLoads(loads, warm), 1, 'the set did not cause another load');

      // Remove through a node that is not the owner either: every node then reloads through
      // the owner, which loads from the loader once.
      const c = nodes[2]!;
      for (const key of [cold, warm]) {
        const del = await c.remove(key);
        assert.equal(del.status, 204, del.text);
        for (const node of nodes) assertValue(await node.get(key), key);
      }
      loads = await allLoads();
      assert.equal(sumLoads(loads, cold), 1, `loads of ${cold} after remove`);
      assert.equal(sumLoads(loads, warm), 2, `loads of ${warm} after remove`);
      const owner = nodes.indexOf(b);
      assert.equal(loads[owner]![cold], 1);
      assert.equal(loads[owner]![warm], 2);
    });

    // Last: it kills a node of the shared cluster.
    it('a node killed under steady load: no failed get, and each of its keys reloads on its fallback owner', async (t) => {
      const [a, b, c] = nodes as [PeercacheNode, PeercacheNode, PeercacheNode];
      const survivors = [a, b];
      const steady = Array.from({ length: 60 }, (_, i) => `steady-${i}`);
      // Keys of the victim, loaded there before the kill and never read on a survivor before it.
      const orphans = keysOwnedBy(c.url, 'orphan-', 10);
      for (const key of [...steady, ...orphans])
        assertValue(await nodeAt(ownerOf(key)).get(key), key);
      await c.syncLogs();
      for (const key of orphans) assert.equal(c.loads()[key], 1, `${key} loaded on its owner`);
      const errorsBefore = await Promise.all(survivors.map(async (n) => (await n.stats()).stats));

      const failures: string[] = [];
      let killed = false;
      let okAfterKill = 0;
      let total = 0;
      const stopAt = Date.now() + 4000;
      const worker = async (w: number) => {
        for (let i = 0; Date.now() < stopAt; i++) {
          const node = survivors[(w + i) % 2]!;
          const pool = killed && i % 3 === 0 ? orphans : steady;
          const key = pool[(w * 7 + i) % pool.length]!;
          const wasKilled = killed;
          try {
            const got = await node.get(key);
            const ok = got.status === 200 && Buffer.from(got.body).equals(testValue(key)!);
            if (!ok) failures.push(`${key} via ${node.url}: ${got.status} ${got.text}`);
            else if (wasKilled) okAfterKill++;
          } catch (err) {
            failures.push(`${key} via ${node.url}: ${(err as Error).message}`);
          }
          total++;
        }
      };
      const load = Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
      await sleep(1000);
      const status = await c.process.kill();
      killed = true;
      await load;

      t.diagnostic(`${total} gets over the survivors, ${okAfterKill} of them after the kill`);
      assert.equal(status.signal, 'SIGKILL');
      assert.deepEqual(failures, [], `${failures.length} of ${total} gets failed`);
      assert.ok(okAfterKill > 0, 'gets ran after the kill');

      // Every orphan, asked on both survivors, is served, and loaded by its fallback owner
      // only, the next member on the ring, whichever survivor was asked (again after each
      // fallbackTtl, 2 s: a fallback copy does not outlive it).
      for (const key of orphans) {
        for (const node of survivors) assertValue(await node.get(key), key);
      }
      await Promise.all(survivors.map((n) => n.syncLogs()));
      const loads = survivors.map((n) => n.loads());
      for (const key of orphans) {
        const fallback = ring.next(key, () => true);
        for (const [i, node] of survivors.entries()) {
          const n = loads[i]![key] ?? 0;
          if (node.url === fallback) assert.ok(n >= 1, `${key} reloaded on ${node.url}`);
          else assert.equal(n, 0, `${key} not loaded on ${node.url}, not its fallback owner`);
        }
      }
      for (const [i, node] of survivors.entries()) {
        const { stats } = await node.stats();
        assert.ok(
          stats.peerErrors > errorsBefore[i]!.peerErrors,
          `peerErrors on ${node.url}: ${stats.peerErrors}`,
        );
      }
      const warned = survivors.flatMap((n) => n.logs()).filter((l) => l.peer === c.url);
      assert.ok(warned.length > 0, 'survivors log their peer errors');
    });
  });
}
