// simulation.test.ts: a short run of the simulated cluster (bench/support/sim) at 20 nodes
// with a join, a leave and a hang: no get fails, and each key is loaded at most once per
// ownership period, through every membership change.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runSimulation } from '../bench/support/sim/simulation.js';
import { seededRandom, ZipfSampler } from '../bench/support/sim/zipf.js';

describe('the simulated cluster', () => {
  test('20 nodes through a join, a leave and a hang: no failed get, one load per key per owner', async () => {
    const events: string[] = [];
    const result = await runSimulation({
      nodes: 20,
      keys: 2_000,
      seconds: 8,
      getsPerSecond: 2_000,
      churnEverySeconds: 2,
      churn: ['join', 'leave', 'hang'],
      hangSeconds: 1,
      // A fallback copy outlives the hang, however slowly the machine runs it: each
      // key of the hung node is then loaded once by its fallback owner.
      group: { fallbackTtl: 600_000 },
      seed: 7,
      log: (line) => events.push(line),
    });
    assert.deepEqual(
      { joined: result.nodes.joined, left: result.nodes.left, hung: result.nodes.hung },
      { joined: 1, left: 1, hung: 1 },
      events.join('\n'),
    );
    assert.equal(result.gets, 16_000);
    assert.equal(result.failedGets, 0, result.failures.join('\n'));
    assert.equal(result.maxLoadsInAPeriod, 1);
    assert.equal(result.duplicateLoads, 0);
    assert.equal(result.fallbackReloads, 0);
    assert.ok(result.loads > 0 && result.loads <= result.periods, `${result.loads} loads`);
    // Keys changed owner: more periods than keys asked for.
    assert.ok(result.periods > result.loads * 0.5);
    assert.ok(result.hot.hotHits > 0, 'non-owners answered hot keys from their hot caches');
  });

  test('the Zipf sampler draws ranks with the skew it promises', () => {
    const zipf = new ZipfSampler(1_000, 1, seededRandom(3));
    const counts = new Uint32Array(1_000);
    for (let i = 0; i < 100_000; i++) counts[zipf.next()]!++;
    // With s = 1, rank 0 is drawn twice as often as rank 1 and ten times rank 9.
    const share = (r: number) => (counts[r] as number) / 100_000;
    assert.ok(Math.abs(share(0) - zipf.share(1)) < 0.01, `rank 0: ${share(0)}`);
    assert.ok(Math.abs(share(0) / share(1) - 2) < 0.2);
    assert.ok(Math.abs(share(0) / share(9) - 10) < 2);
    assert.deepEqual([zipf.share(0), zipf.share(1_000)], [0, 1]);
    const again = new ZipfSampler(1_000, 1, seededRandom(3));
    const first = new ZipfSampler(1_000, 1, seededRandom(3));
    assert.deepEqual(
      Array.from({ length: 20 }, () => again.next()),
      Array.from({ length: 20 }, () => first.next()),
    );
  });
});
