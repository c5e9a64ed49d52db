// remove-many.test.ts: Group.removeMany on three in-process nodes over real HTTP on loopback,
// in the groupcache-go dialect (batched `_remove-keys`) and the golang one (a DELETE per key):
// every key gone from every node, the requests it took, and a load in flight it supersedes.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, type Dispatcher } from 'undici';
import type { LoadResult } from '../src/core/group.js';
import { type CacheNode, createNode } from '../src/node/node.js';
import { type HttpDialect, httpTransport } from '../src/transport/http/index.js';
import { keysPerOwner } from './support/owned-keys.js';
import { freePorts } from './support/process.js';

/** A request a node sent to a peer: method and the peer's origin. */
interface Sent {
  method: string;
  origin: string;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

for (const dialect of ['groupcache-go', 'golang'] as HttpDialect[]) {
  describe(`removeMany on a 3-node cluster speaking ${dialect}`, { timeout: 60_000 }, () => {
    let nodes: CacheNode[] = [];
    let urls: string[] = [];
    const agents: Agent[] = [];
    /** sent[i]: the writes node i sent to peers. */
    const sent: Sent[][] = [];
    /** loads[i][key]: loads of `key` on node i. */
    const loads: Record<string, number>[] = [];
    /** held[key], when set, holds the owner's load of `key` until `release` resolves. */
    const held = new Map<string, { started: () => void; release: Promise<LoadResult> }>();

    before(async () => {
      const ports = await freePorts(3);
      urls = ports.map((port) => `http://127.0.0.1:${port}`);
      nodes = urls.map((self) => {
        const mine: Sent[] = [];
        sent.push(mine);
        const agent = new Agent();
        agents.push(agent);
        // Records every request this node sends to its peers, as it leaves.
        const dispatcher = agent.compose(
          (dispatch) => (opts: Dispatcher.DispatchOptions, handler) => {
            mine.push({ method: opts.method, origin: String(opts.origin) });
            return dispatch(opts, handler);
          },
        );
        const counts: Record<string, number> = {};
        loads.push(counts);
        const node = createNode({
          self,
          peers: urls,
          transport: httpTransport({ dialect, dispatcher }),
        });
        node.newGroup('g', {
          cacheBytes: 1 << 20,
          hotCacheChance: 1, // every value fetched from an owner is kept: copies everywhere
          load: (key) => {
            counts[key] = (counts[key] ?? 0) + 1;
            const hold = held.get(key);
            if (hold === undefined) return `value of ${key}`;
            hold.started();
            return hold.release;
          },
        });
        return node;
      });
      await Promise.all(nodes.map((n) => n.listen()));
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.close()));
      await Promise.all(agents.map((a) => a.close()));
    });

    const group = (i: number) => nodes[i]!.getGroup('g')!;
    const writesSince = (marks: number[]) =>
      sent.map((s, i) => s.slice(marks[i]).filter((r) => r.method !== 'GET'));

    it('every key is gone from every node, in the requests the dialect allows', async () => {
      const keys = keysPerOwner(
        urls,
        (k) => nodes[0]!.ownerOf(k),
        20,
        (i) => `many ${i}/+ü`,
      );
      // Every key read through every node: the owner keeps it in main, the others in hot.
      for (let i = 0; i < 3; i++) for (const key of keys) await group(i).get(key);
      for (let i = 0; i < 3; i++) {
        for (const key of keys) assert.ok(group(i).peek(key), `node ${i} holds ${key}`);
      }
      const marks = sent.map((s) => s.length);

      await group(0).removeMany(keys);

      for (let i = 0; i < 3; i++) {
        const left = keys.filter((k) => group(i).peek(k) !== undefined);
        assert.deepEqual(left, [], `keys left on node ${i}`);
      }
      const writes = writesSince(marks);
      assert.deepEqual(writes.slice(1), [[], []], 'only the node asked sent anything');
      const peers = urls.slice(1).map((u) => new URL(u).origin);
      if (dialect === 'groupcache-go') {
        // Its own keys first, then the others': two _remove-keys per peer, whatever the count.
        for (const peer of peers) {
          assert.deepEqual(
            writes[0]!.filter((w) => w.origin === peer).map((w) => w.method),
            ['POST', 'POST'],
            `requests to ${peer}`,
          );
        }
      } else {
        // One DELETE per key per peer: to its owner, and to every other peer for its copy.
        assert.equal(writes[0]!.length, keys.length * 2);
        assert.ok(writes[0]!.every((w) => w.method === 'DELETE'));
      }
      // Each key is loaded again, once, on its owner.
      const before = loads.map((l) => ({ ...l }));
      for (let i = 0; i < 3; i++) for (const key of keys) await group(i).get(key);
      for (const key of keys) {
        const owner = urls.indexOf(nodes[0]!.ownerOf(key));
        const again = loads.map((l, i) => (l[key] ?? 0) - (before[i]![key] ?? 0));
        assert.deepEqual(
          again,
          urls.map((_, i) => (i === owner ? 1 : 0)),
          `loads of ${key}`,
        );
      }
    });

    it('a load in flight when the keys are removed answers its caller but is kept nowhere', async () => {
      // A key owned by node 1, read through node 0 while node 1's loader is held.
      let key = '';
      for (let i = 0; key === ''; i++) {
        if (nodes[0]!.ownerOf(`race ${i}`) === urls[1]) key = `race ${i}`;
      }
      const loader = deferred<LoadResult>();
      const started = deferred<void>();
      held.set(key, { started: () => started.resolve(), release: loader.promise });
      const reading = group(0).get(key);
      await started.promise;

      await group(2).removeMany([key, 'race-other']);
      held.delete(key);
      loader.resolve('old value');

      assert.equal((await reading).toString(), 'old value', 'the read began before the remove');
      for (let i = 0; i < 3; i++) {
        assert.equal(group(i).peek(key), undefined, `node ${i} kept the superseded load`);
      }
      // The next read loads afresh on the owner.
      assert.equal((await group(0).get(key)).toString(), `value of ${key}`);
      assert.equal(loads[1]![key], 2);
    });
  });
}
