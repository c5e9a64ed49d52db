// consistency.test.ts: no acknowledged write is lost to a load in flight. The history
// checker is first shown to catch stale reads, then run against three nodes over http
// and over tcp with a slow loader, a short ttl and the hot cache on. Last, a hung owner
// (a real process, stopped) leaves a non-owner's fallback copy only for its bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultRing } from '../src/cli/args.js';
import { createNode } from '../src/node/node.js';
import { createRing } from '../src/ring/owner-ring.js';
import { tcpTransport } from '../src/transport/tcp/transport.js';
import { checkHistory, describeViolation, History } from './support/history.js';
import { runHistory } from './support/history-cluster.js';
import { startPeercacheNode } from './support/peercache.js';
import { cleanupAfter, freePorts } from './support/process.js';

/** A history built by hand: each step's ticks in the order written. */
function handMade(build: (h: History, steps: Steps) => Promise<void>) {
  const h = new History();
  return build(h, steps(h)).then(() => checkHistory(h));
}

type Steps = ReturnType<typeof steps>;
function steps(h: History) {
  return {
    set: (key: string, value: string) => h.write(key, value, 0, async () => {}),
    remove: (key: string) => h.write(key, undefined, 0, async () => {}),
    read: (key: string, value: string) => h.read(key, 1, async () => value),
  };
}

describe('the history checker', () => {
  it('accepts a read of the last acknowledged set, or of a load that began after a remove', async () => {
    const result = await handMade(async (h, s) => {
      await s.read('k', h.load('k', 0));
      await s.set('k', 'v1');
      await s.read('k', 'v1');
      await s.remove('k');
      const fresh = h.load('k', 0);
      await s.read('k', fresh);
      await s.read('k', fresh);
    });
    assert.deepEqual(result.violations, []);
    assert.equal(result.readsAfterWrites, 3);
  });

  it('accepts either value of two writes that overlapped', async () => {
    const h = new History();
    let ackFirst!: () => void;
    const first = h.write(
      'k',
      'a',
      0,
      () =>
        new Promise<void>((resolve) => {
          ackFirst = resolve;
        }),
    );
    await h.write('k', 'b', 1, async () => {});
    ackFirst();
    await first;
    await h.read('k', 2, async () => 'b');
    await h.read('k', 2, async () => 'a');
    assert.deepEqual(checkHistory(h).violations, []);
  });

  it('catches a read of a set acknowledged before the last write began', async () => {
    const result = await handMade(async (_h, s) => {
      await s.set('k', 'v1');
      await s.set('k', 'v2');
      await s.read('k', 'v1');
    });
    assert.equal(result.violations.length, 1);
    assert.match(describeViolation(result.violations[0]!), /returned v1 after set v2/);
  });

  it('catches a read after a remove of a load that began before it', async () => {
    const result = await handMade(async (h, s) => {
      const old = h.load('k', 0);
      await s.remove('k');
      await s.read('k', old);
    });
    assert.equal(result.violations.length, 1);
    assert.match(result.violations[0]!.why, /a load that started before this write/);
  });

  it('catches a read of a load that began before an acknowledged set', async () => {
    const result = await handMade(async (h, s) => {
      const old = h.load('k', 0);
      await s.set('k', 'new');
      await s.read('k', old);
    });
    assert.equal(result.violations.length, 1);
  });

  it('catches values it never saw, and values of another key', async () => {
    const result = await handMade(async (_h, s) => {
      await s.set('j', 'of-j');
      await s.set('k', 'of-k');
      await s.read('k', 'of-j');
      await s.read('k', 'made-up');
    });
    assert.equal(result.violations.length, 2);
  });
});

for (const transport of ['http', 'tcp'] as const) {
  describe(`three nodes over ${transport}: writes race loads in flight`, {
    timeout: 60_000,
  }, () => {
    it('every read that starts after a write’s ack returns that write or a later one', async (t) => {
      const run = await runHistory({
        transport,
        writes: 150,
        keys: 3,
        readersPerNode: 2,
        ttlMs: 40,
        maxLoadMs: 6,
        seed: transport === 'tcp' ? 7 : 11,
      });
      const { result } = run;
      t.diagnostic(
        `${result.writes} writes, ${result.reads} reads (${result.readsAfterWrites} after an ack), ` +
          `${result.loads} loads, ${run.peerLoads} owner answers, ${result.violations.length} stale`,
      );
      assert.equal(result.writeErrors, 0, 'every write acknowledged');
      assert.equal(result.readErrors, 0, 'every read answered');
      assert.ok(result.readsAfterWrites > 300, `${result.readsAfterWrites} reads checked`);
      assert.ok(result.loads > 20, `${result.loads} loads raced the writes`);
      assert.ok(run.peerLoads > 0, 'values came from owners too');
      assert.deepEqual(result.violations.slice(0, 5).map(describeViolation), []);
    });
  });
}

describe('a hung owner', { timeout: 90_000 }, () => {
  const registry = cleanupAfter();

  it('a non-owner’s fallback copy does not outlive the fault: after fallbackTtlMs it answers the owner’s value', async () => {
    const [portA, portC, apiC] = (await freePorts(3)) as [number, number, number];
    const urlA = `http://127.0.0.1:${portA}`;
    const urlC = `http://127.0.0.1:${portC}`;
    const urls = [urlA, urlC];
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set(urls);
    let key = 'hung-0';
    for (let i = 1; ring.get(key) !== urlC; i++) key = `hung-${i}`;

    const owner = await startPeercacheNode({
      self: urlC,
      peers: urls,
      apiPort: apiC,
      transport: 'tcp',
      registry,
    });
    const FALLBACK_TTL_MS = 500;
    const a = createNode({
      self: urlA,
      peers: urls,
      ring: defaultRing('tcp'),
      transport: tcpTransport({ requestTimeoutMs: 300 }),
    });
    const group = a.newGroup('scores', {
      cacheBytes: 1 << 20,
      hotCacheChance: 0,
      fallbackTtlMs: FALLBACK_TTL_MS,
      load: (k) => `loaded by A: ${k}`,
    });
    await a.listen();
    try {
      await group.set(key, 'new');
      assert.equal((await group.get(key)).toString(), 'new', 'from the owner');

      process.kill(owner.process.pid, 'SIGSTOP');
      try {
        // The owner does not answer: after the request timeout, A loads the key itself.
        assert.equal((await group.get(key)).toString(), `loaded by A: ${key}`);
        assert.equal(group.stats.peerErrors, 1);
        assert.equal(group.cacheStats('main').items, 0, 'the fallback copy is not in main');
      } finally {
        process.kill(owner.process.pid, 'SIGCONT');
      }
      // Past the bound, A asks the owner again and answers the acknowledged write.
      await sleep(FALLBACK_TTL_MS + 100);
      assert.equal((await group.get(key)).toString(), 'new');
      const viaOwner = await owner.get(key);
      assert.equal(viaOwner.text, 'new');
    } finally {
      await a.close();
    }
  });
});
