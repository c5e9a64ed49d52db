// herd.bench.ts: a cold-miss herd on a 3-node tcp cluster of `peercache node` processes:
// 1,000 concurrent API gets of 100 cold keys, spread over the nodes, must load each key
// once in the whole cluster (100 loads), and it is timed; one node alone for reference.
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { defaultRing } from '../src/cli/args.js';
import { createRing, type OwnerRing } from '../src/ring/owner-ring.js';
import { type PeercacheNode, startPeercacheNode } from '../test/support/peercache.js';
import { freePorts, ProcessRegistry } from '../test/support/process.js';
import { testValue } from '../test/support/values.js';
import { stopOnInterrupt } from './support/interrupt.js';
import { headline } from './support/report.js';

const GROUP = 'herd';
const LOAD_DELAY_MS = 20;
const KEYS = 100;
const GETS_PER_KEY = 10;
const GETS = KEYS * GETS_PER_KEY;
const RUNS = 3;
/**
 * Herds run and discarded first on each fresh cluster: the nodes run from the
 * sources through tsx, and the first herds time the JIT more than the cache.
 */
const WARMUP_HERDS = 3;
const LONE_GETS = 5;
const GET_TIMEOUT_MS = 30_000;
const decoder = new TextDecoder();

/** Target is one node's API, with a connection pool large enough for a whole herd. */
interface Target {
  node: PeercacheNode;
  pool: Pool;
}

/** HerdResult is what one herd measured. */
interface HerdResult {
  /** Loader runs in the cluster during the herd (the nodes' `localLoads`). */
  loads: number;
  /**
   * Cache misses in the cluster during the herd (the nodes' `loads`, golang/groupcache's
   * `Loads`: every get that missed, deduplicated or not, peer-served ones included).
   */
  misses: number;
  /** `loaded` log lines of the herd's keys, over every node. */
  loggedLoads: number;
  /** Gets answered 200 with the key's value. */
  right: number;
  /** The first wrong answer or failure, if any. */
  firstWrong?: string;
  /** Requests written to a socket before the first answer came back. */
  sentBeforeFirstAnswer: number;
  /** Gets that reached a node other than their key's owner. */
  remoteGets: number;
  /** From the first request sent to the last answer read, in ms. */
  wallMs: number;
  /** When the last request was written, and the first answer read, in ms from the start. */
  lastSendMs: number;
  firstAnswerMs: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

function apiPath(key: string): string {
  return `/api?${new URLSearchParams({ key, group: GROUP })}`;
}

/** getValue asks `target` for `key` and returns the answer, or why it is wrong. */
async function getValue(target: Target, key: string): Promise<string | undefined> {
  const res = await target.pool.request({
    path: apiPath(key),
    method: 'GET',
    signal: AbortSignal.timeout(GET_TIMEOUT_MS),
  });
  const body = new Uint8Array(await res.body.arrayBuffer());
  if (res.statusCode !== 200) return `${key}: ${res.statusCode} ${decoder.decode(body)}`;
  const want = testValue(key);
  if (want === undefined || Buffer.compare(body, want) !== 0) return `${key}: wrong value`;
  return undefined;
}

/**
 * openConnections has `count` requests in flight on each target's pool at once, so that
 * each pool holds that many open connections when the herd starts: the herd then
 * measures the cache, not TCP handshakes.
 */
async function openConnections(targets: readonly Target[], count: number): Promise<void> {
  await Promise.all(
    targets.flatMap((t) =>
      Array.from({ length: count }, async () => {
        const res = await t.pool.request({ path: '/healthz', method: 'GET' });
        await res.body.dump();
      }),
    ),
  );
}

/** counters adds up the nodes' loader runs (`localLoads`) and cache misses (`loads`). */
async function counters(nodes: readonly PeercacheNode[]) {
  const all = await Promise.all(nodes.map((n) => n.stats()));
  return {
    localLoads: all.reduce((sum, s) => sum + s.stats.localLoads, 0),
    misses: all.reduce((sum, s) => sum + s.stats.loads, 0),
  };
}

/**
 * herd fires GETS gets of KEYS fresh keys at once, get i going to `targetOf(i)`, and
 * counts the loads they caused in `cluster` (stats and log lines).
 */
async function herd(
  cluster: readonly PeercacheNode[],
  ring: OwnerRing,
  targetOf: (i: number) => Target,
): Promise<HerdResult> {
  const prefix = `herd-${randomUUID()}-`;
  const keys = Array.from({ length: KEYS }, (_, k) => `${prefix}${k}`);
  // Round r asks every key once, so the 10 gets of a key are spread over the round.
  const plan = Array.from({ length: GETS }, (_, i) => ({
    key: keys[i % KEYS] as string,
    target: targetOf(i),
  }));
  const distinct = [...new Set(plan.map((p) => p.target))];
  const perTarget = Math.max(...distinct.map((t) => plan.filter((p) => p.target === t).length));
  await openConnections(distinct, perTarget);
  const before = await counters(cluster);

  const sends: number[] = [];
  const onSend = () => sends.push(performance.now());
  subscribe('undici:client:sendHeaders', onSend);
  const latencies = new Float64Array(GETS);
  const answeredAt = new Float64Array(GETS);
  let right = 0;
  let firstWrong: string | undefined;
  const start = performance.now();
  try {
    await Promise.all(
      plan.map(async ({ key, target }, i) => {
        const t0 = performance.now();
        let wrong: string | undefined;
        try {
          wrong = await getValue(target, key);
        } catch (err) {
          wrong = `${key}: ${(err as Error).message}`;
        }
        answeredAt[i] = performance.now();
        latencies[i] = answeredAt[i]! - t0;
        if (wrong === undefined) right++;
        else firstWrong ??= wrong;
      }),
    );
  } finally {
    unsubscribe('undici:client:sendHeaders', onSend);
  }
  const wallMs = Math.max(...answeredAt) - start;
  const firstAnswer = Math.min(...answeredAt);

  const after = await counters(cluster);
  await Promise.all(cluster.map((n) => n.syncLogs()));
  let loggedLoads = 0;
  for (const n of cluster) {
    for (const [key, count] of Object.entries(n.loads()))
      if (key.startsWith(prefix)) loggedLoads += count;
  }
  latencies.sort();
  return {
    loads: after.localLoads - before.localLoads,
    misses: after.misses - before.misses,
    loggedLoads,
    right,
    ...(firstWrong === undefined ? {} : { firstWrong }),
    sentBeforeFirstAnswer: sends.filter((t) => t < firstAnswer).length,
    remoteGets: plan.filter((p) => ring.get(p.key) !== p.target.node.url).length,
    wallMs,
    lastSendMs: sends.length === 0 ? Number.NaN : Math.max(...sends) - start,
    firstAnswerMs: firstAnswer - start,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/**
 * loneColdGets times LONE_GETS sequential gets of fresh keys asked of `via`, each owned
 * by `owner`, and returns the median in ms; a wrong answer throws.
 */
async function loneColdGets(ring: OwnerRing, via: Target, owner: PeercacheNode): Promise<number> {
  const prefix = `lone-${randomUUID()}-`;
  const times: number[] = [];
  for (let i = 0; times.length < LONE_GETS; i++) {
    const key = `${prefix}${i}`;
    if (ring.get(key) !== owner.url) continue;
    const t0 = performance.now();
    const wrong = await getValue(via, key);
    if (wrong !== undefined) throw new Error(`lone cold get: ${wrong}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/** describe renders one herd as a row of the markdown table. */
function describe(name: string, r: HerdResult): string {
  const cells = [
    name,
    String(r.loads),
    String(r.loggedLoads),
    String(r.misses),
    `${r.right}/${GETS}`,
    `${r.remoteGets}`,
    `${r.sentBeforeFirstAnswer}/${GETS}`,
    r.lastSendMs.toFixed(0),
    r.firstAnswerMs.toFixed(0),
    r.wallMs.toFixed(0),
    r.p50Ms.toFixed(1),
    r.p99Ms.toFixed(1),
  ];
  return `| ${cells.join(' | ')} |`;
}

/**
 * startTargets starts `count` `peercache node` processes, each listing all as peers
 * (none when alone), over tcp, with the delayed test loader and an API, and a pool for each API.
 */
async function startTargets(registry: ProcessRegistry, count: number): Promise<Target[]> {
  const ports = await freePorts(count);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const nodes = await Promise.all(
    urls.map((self) =>
      startPeercacheNode({
        self,
        peers: count > 1 ? urls : [],
        group: GROUP,
        env: { LOAD_DELAY_MS: String(LOAD_DELAY_MS) },
        registry,
        transport: 'tcp',
      }),
    ),
  );
  return nodes.map((node) => ({
    node,
    pool: new Pool(node.apiUrl, { connections: GETS, pipelining: 1 }),
  }));
}

async function main(): Promise<void> {
  const registry = stopOnInterrupt(new ProcessRegistry());
  const pools: Pool[] = [];
  try {
    const targets = await startTargets(registry, 3);
    pools.push(...targets.map((t) => t.pool));
    const cluster = targets.map((t) => t.node);
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set(new Set(cluster.map((n) => n.url)));
    const [a, b] = targets as [Target, Target, Target];
    const roundRobin = (i: number) => targets[i % targets.length] as Target;

    // Every herd is a row of the table, in the order run; warm-ups are shown, not counted.
    const rows: [string, HerdResult][] = [];
    const row = (name: string, r: HerdResult) => {
      rows.push([name, r]);
      return r;
    };
    for (let r = 1; r <= WARMUP_HERDS; r++) {
      row(`3 nodes, warm-up ${r} (discarded)`, await herd(cluster, ring, roundRobin));
    }
    const loneLocal = await loneColdGets(ring, a, a.node);
    const loneRemote = await loneColdGets(ring, a, b.node);
    const runs: HerdResult[] = [];
    for (let r = 1; r <= RUNS; r++) {
      runs.push(row(`3 nodes, round-robin, run ${r}`, await herd(cluster, ring, roundRobin)));
    }
    row('3 nodes, all to one node', await herd(cluster, ring, () => a));

    const [single] = await startTargets(registry, 1);
    if (!single) throw new Error('setup: no single node');
    pools.push(single.pool);
    const singleRing = createRing({ kind: defaultRing('tcp') });
    singleRing.set(new Set([single.node.url]));
    for (let r = 1; r <= WARMUP_HERDS; r++) {
      row(`1 node, warm-up ${r} (discarded)`, await herd([single.node], singleRing, () => single));
    }
    const alone = row('1 node alone', await herd([single.node], singleRing, () => single));

    console.log(
      `\n## Cold-miss herd: ${GETS.toLocaleString('en-US')} concurrent API gets of ${KEYS} cold keys ` +
        `(${GETS_PER_KEY} each), loader ${LOAD_DELAY_MS} ms, peers over tcp\n`,
    );
    console.log(
      '| herd | loads | loaded lines | misses | right | at a non-owner | sent before 1st answer | last sent (ms) | 1st answer (ms) | time (ms) | p50 (ms) | p99 (ms) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [name, r] of rows) console.log(describe(name, r));
    console.log(
      `\nOne lone cold get (median of ${LONE_GETS}): ${loneLocal.toFixed(1)} ms asked of its ` +
        `owner, ${loneRemote.toFixed(1)} ms asked of another node.`,
    );
    for (const [name, r] of rows) {
      if (r.firstWrong !== undefined) console.error(`${name}: first wrong answer: ${r.firstWrong}`);
    }

    const loads = runs.map((r) => r.loads);
    const met = runs.every((r) => r.loads === KEYS && r.loggedLoads === KEYS && r.right === GETS);
    const allSame = loads.every((n) => n === loads[0]);
    headline({
      item: 7,
      name: `Cold-miss herd: ${GETS.toLocaleString('en-US')} concurrent gets of ${KEYS} cold keys over 3 nodes`,
      measured: `loads = ${allSame ? `${loads[0]} (${RUNS} runs)` : loads.join(', ')}`,
      target: `= ${KEYS}`,
      met,
      note:
        `${runs.map((r) => r.wallMs.toFixed(0)).join('/')} ms first send to last answer ` +
        `(p99 ${runs.map((r) => r.p99Ms.toFixed(0)).join('/')} ms); ` +
        `${runs.map((r) => r.misses).join('/')} misses collapsed into the loads; ` +
        `${runs.reduce((s, r) => s + r.right, 0)}/${RUNS * GETS} right; one node alone ` +
        `${alone.wallMs.toFixed(0)} ms (loads ${alone.loads}); one lone cold get ` +
        `${loneRemote.toFixed(1)} ms via a non-owner (loader ${LOAD_DELAY_MS} ms)`,
    });
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await registry.stopAll();
  }
}

await main();
