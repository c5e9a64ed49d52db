// faults.bench.ts: a hung owner under steady load. Three `peercache node` processes; a
// client keeps gets of fresh keys going through two of them while the third is stopped
// (SIGSTOP) for a while, then continued: failed gets, the latency of the stopped
// owner's keys before and after it was found unresponsive, and how soon it serves again.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { type PeercacheNode, startPeercacheNode } from '../test/support/peercache.js';
import { freePorts, ProcessRegistry } from '../test/support/process.js';
import { testValue } from '../test/support/values.js';
import { stopOnInterrupt } from './support/interrupt.js';
import { headline } from './support/report.js';

/** Gets in flight at once, spread over the two nodes that stay up. */
const CONCURRENCY = 32;
/** Steady load before the owner is stopped, how long it stays stopped, and after. */
const BEFORE_MS = 4_000;
/** The first gets time the nodes' JIT (they run from the sources), not the cache: not counted before the stop. */
const WARMUP_MS = 2_000;
const STOPPED_MS = 10_000;
const AFTER_MS = 5_000;
/** How often /peers and /stats are polled to time detection and return. */
const POLL_MS = 50;
const GET_TIMEOUT_MS = 60_000;
const P99_TARGET_MS = 2_000;
const RETURN_TARGET_MS = 5_000;

/** Sample is one get: when it started (ms from the run's start), how long it took, and how it ended. */
interface Sample {
  at: number;
  ms: number;
  ok: boolean;
  ownedByStopped: boolean;
}

/** RunResult is what one run measured. */
interface RunResult {
  transport: string;
  health: boolean;
  gets: number;
  failed: number;
  firstFailure?: string;
  /** p99 of the stopped owner's keys before it was stopped, after the warm-up (ms). */
  p99Before: number;
  /** The stopped owner's keys asked between the stop and detection: count, p99 and max (ms). */
  firstWave: { count: number; p99: number; max: number };
  /** Its keys asked while it was stopped. */
  whileStopped: { count: number; p99: number; max: number };
  /** Its keys asked after both nodes had detected it, until it was continued. */
  afterDetection: { count: number; p99: number; max: number };
  /** From SIGSTOP until both nodes reported it unhealthy (ms); NaN if they never did. */
  detectMs: number;
  /** From SIGCONT until both nodes reported it healthy (ms). */
  healthyAgainMs: number;
  /** Peer requests it served after both nodes saw it healthy again, to the end of the run. */
  servedSince: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

function summary(samples: Sample[]): { count: number; p99: number; max: number } {
  const ms = samples.map((s) => s.ms);
  return { count: ms.length, p99: percentile(ms, 99), max: ms.length ? Math.max(...ms) : NaN };
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as T;
}

/** healthOf tells whether `node` reports `peer` healthy in /peers (undefined if it cannot say). */
async function healthOf(node: PeercacheNode, peer: string): Promise<boolean | undefined> {
  try {
    const info = await json<{ peerHealthy?: Record<string, boolean> }>(`${node.apiUrl}/peers`);
    return info.peerHealthy?.[peer];
  } catch {
    return undefined;
  }
}

/** run starts a fresh cluster, stops its third node under load, continues it, and measures. */
async function run(transport: 'tcp' | 'http', health: boolean): Promise<RunResult> {
  const registry = stopOnInterrupt(new ProcessRegistry());
  const pools: Pool[] = [];
  let stoppedPid: number | undefined;
  try {
    const ports = await freePorts(3);
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const ring = createRing({ kind: defaultRing(transport) });
    ring.set(new Set(urls));
    const nodes = await Promise.all(
      urls.map((self) =>
        startPeercacheNode({
          self,
          peers: urls,
          registry,
          transport,
          extraArgs: ['--log-level', 'error', ...(health ? [] : ['--peer-health', 'off'])],
        }),
      ),
    );
    const [a, b, c] = nodes as [PeercacheNode, PeercacheNode, PeercacheNode];
    const via = [a, b].map((n) => new Pool(n.apiUrl, { connections: CONCURRENCY }));
    pools.push(...via);

    const prefix = `f-${randomUUID()}-`;
    let next = 0;
    const samples: Sample[] = [];
    let firstFailure: string | undefined;
    let running = true;
    const start = performance.now();
    const now = () => performance.now() - start;
    const worker = async (w: number) => {
      const pool = via[w % via.length] as Pool;
      while (running) {
        const key = `${prefix}${next++}`;
        const at = now();
        let ok = false;
        try {
          const res = await pool.request({
            path: `/api?${new URLSearchParams({ key })}`,
            method: 'GET',
            signal: AbortSignal.timeout(GET_TIMEOUT_MS),
          });
          const body = new Uint8Array(await res.body.arrayBuffer());
          ok = res.statusCode === 200 && Buffer.compare(body, testValue(key)!) === 0;
          if (!ok) {
            firstFailure ??= `${key}: ${res.statusCode} ${Buffer.from(body).toString()}`;
          }
        } catch (err) {
          firstFailure ??= `${key}: ${(err as Error).message}`;
        }
        samples.push({ at, ms: now() - at, ok, ownedByStopped: ring.get(key) === c.url });
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w));

    await sleep(BEFORE_MS);
    const stoppedAt = now();
    stoppedPid = c.process.pid;
    process.kill(c.process.pid, 'SIGSTOP');
    // Time detection: until both nodes report the stopped node unhealthy.
    let detectedAt = Number.NaN;
    while (now() - stoppedAt < STOPPED_MS) {
      const seen = await Promise.all([a, b].map((n) => healthOf(n, c.url)));
      if (Number.isNaN(detectedAt) && seen.every((h) => h === false)) detectedAt = now();
      await sleep(POLL_MS);
    }
    const continuedAt = now();
    process.kill(c.process.pid, 'SIGCONT');
    stoppedPid = undefined;
    // Time the return: until both nodes report it healthy, which is when they send it
    // requests again; then check that it serves them (its count of peer requests grows
    // past what it answered from its backlog by then).
    let healthyAt = Number.NaN;
    let servedAtHealthy = Number.NaN;
    while (now() - continuedAt < AFTER_MS) {
      if (Number.isNaN(healthyAt)) {
        const seen = await Promise.all([a, b].map((n) => healthOf(n, c.url)));
        if (seen.every((h) => h === true)) {
          healthyAt = now();
          servedAtHealthy = (await c.stats()).stats.serverRequests;
        }
      }
      await sleep(POLL_MS);
    }
    const servedSince = (await c.stats()).stats.serverRequests - servedAtHealthy;
    running = false;
    await Promise.all(workers);

    const owned = samples.filter((s) => s.ownedByStopped);
    const failed = samples.filter((s) => !s.ok);
    const detected = Number.isNaN(detectedAt) ? continuedAt : detectedAt;
    return {
      transport,
      health,
      gets: samples.length,
      failed: failed.length,
      ...(firstFailure === undefined ? {} : { firstFailure }),
      p99Before: percentile(
        owned.filter((s) => s.at >= WARMUP_MS && s.at < stoppedAt).map((s) => s.ms),
        99,
      ),
      whileStopped: summary(owned.filter((s) => s.at >= stoppedAt && s.at < continuedAt)),
      firstWave: summary(owned.filter((s) => s.at >= stoppedAt && s.at < detected)),
      afterDetection: summary(owned.filter((s) => s.at >= detected && s.at < continuedAt)),
      detectMs: detectedAt - stoppedAt,
      healthyAgainMs: healthyAt - continuedAt,
      servedSince: Number.isNaN(servedSince) ? 0 : servedSince,
    };
  } finally {
    if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
    await Promise.all(pools.map((p) => p.close()));
    await registry.stopAll();
  }
}

function ms(v: number): string {
  return Number.isNaN(v) ? '—' : v.toFixed(0);
}

async function main(): Promise<void> {
  const results: RunResult[] = [];
  for (const [transport, health] of [
    ['tcp', true],
    ['http', true],
    ['tcp', false],
  ] as const) {
    results.push(await run(transport, health));
  }
  console.log(
    `\n## A hung owner: ${CONCURRENCY} gets in flight of fresh keys through two nodes, the ` +
      `third stopped (SIGSTOP) for ${STOPPED_MS / 1000} s, then continued\n`,
  );
  console.log(
    '| transport | peer health | gets | failed | its keys p99 before (ms) | while stopped: gets, p99, max (ms) | first wave: gets, p99, max (ms) | after detection: gets, p99, max (ms) | detected after (ms) | healthy again after (ms) | peer gets it served since |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const fw = r.firstWave;
    const ad = r.afterDetection;
    console.log(
      `| ${r.transport} | ${r.health ? 'on' : 'off'} | ${r.gets} | ${r.failed} | ${ms(r.p99Before)} | ` +
        `${r.whileStopped.count}, ${ms(r.whileStopped.p99)}, ${ms(r.whileStopped.max)} | ` +
        `${fw.count}, ${ms(fw.p99)}, ${ms(fw.max)} | ${ad.count}, ${ms(ad.p99)}, ${ms(ad.max)} | ` +
        `${ms(r.detectMs)} | ${ms(r.healthyAgainMs)} | ${r.servedSince} |`,
    );
    if (r.firstFailure !== undefined) {
      console.error(`${r.transport}, health ${r.health}: first failure: ${r.firstFailure}`);
    }
  }
  const on = results.filter((r) => r.health);
  const off = results.find((r) => !r.health);
  const met = on.every(
    (r) =>
      r.failed === 0 &&
      r.afterDetection.p99 <= P99_TARGET_MS &&
      r.healthyAgainMs <= RETURN_TARGET_MS &&
      r.servedSince > 0,
  );
  headline({
    item: 8,
    name: 'A hung owner: p99 of its keys through the other nodes once detected',
    measured: on.map((r) => `${ms(r.afterDetection.p99)} ms (${r.transport})`).join(', '),
    target: `≤ ${P99_TARGET_MS} ms, 0 failed, back ≤ ${RETURN_TARGET_MS} ms`,
    met,
    note:
      on
        .map(
          (r) =>
            `${r.transport}: ${r.failed} failed of ${r.gets}, detected in ${ms(r.detectMs)} ms, ` +
            `first wave p99 ${ms(r.firstWave.p99)} ms, used again ${ms(r.healthyAgainMs)} ms after SIGCONT`,
        )
        .join('; ') +
      (off === undefined
        ? ''
        : `; with --peer-health off (tcp): p99 ${ms(off.whileStopped.p99)} ms while stopped, ${off.failed} failed`),
  });
}

await main();
