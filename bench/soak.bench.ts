// soak.bench.ts: a soak run: mixed API gets, sets and removes at a steady rate on a tcp
// cluster of `peercache node` processes with etcd membership, while a fourth node leaves
// and rejoins every 5 s and one node hangs (SIGSTOP) for a while. Each node's RSS and V8
// heap are sampled; after a warm-up their growth is fitted (MiB per minute).
//
//   npm run bench -- soak                      10 minutes
//   npm run bench -- soak --short              30 seconds, to try it
//   npm run bench -- soak --duration=3m --rate=200
//
// (or PEERCACHE_SOAK_DURATION / PEERCACHE_SOAK_RATE in the environment).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { type EtcdServer, etcdBinary, startEtcd } from '../test/support/etcd.js';
import { type PeercacheNode, startPeercacheNode } from '../test/support/peercache.js';
import { freePorts, ProcessRegistry, waitFor } from '../test/support/process.js';
import { stopOnInterrupt } from './support/interrupt.js';
import { heapBytes, type MemorySample, openFiles, residentBytes } from './support/memory-probe.js';
import { headline } from './support/report.js';
import { ms, SoakClient } from './support/soak-client.js';
import {
  count,
  type Fit,
  fitFrom,
  HUNG_OWNER,
  mib,
  type NodeReport,
  OWNER_LEAVING,
  printMemory,
  printNodes,
  printOperations,
  slope,
  writeSamplesCsv,
  writes,
} from './support/soak-report.js';

const GROUP = 'soak';
/** Each node's cache budget: small, so that it is full well within the warm-up. */
const CACHE_MIB = 4;
const SERVICE = 'soak';
const LOADER = 'bench/support/soak-loader.ts';
/** Keys of 256–2048-byte values (~45 MiB in all): many times the cluster's budget. */
const KEYS = 40_000;
const MIX = { get: 0.75, set: 0.2 };
const TTL_SHARE = 0.25;
const TTL_MS = 20_000;
const CHURN_EVERY_MS = 5000;
const MAX_IN_FLIGHT = 4000;
/** Beyond the nodes' own deadlines (10 s per peer call, 30 s per load), so they answer first. */
const CLIENT_TIMEOUT_MS = 40_000;
const DEFAULT_DURATION_MS = 10 * 60_000;
const SHORT_DURATION_MS = 30_000;
const DEFAULT_RATE = 400;
/** Growth target: under 1 MiB per minute in the steady window, for RSS and heap alike. */
const SLOPE_TARGET = 1;
/** A fitted window shorter than this says little about growth: the targets are not judged. */
const MIN_JUDGED_FIT_MS = 4 * 60_000;
/** How long a leaving node may take to shut down before it is killed. */
const STOP_GRACE_MS = 15_000;
const MiB = 2 ** 20;

/** Plan is what one run does, and when (ms from the start of the load). */
interface Plan {
  durationMs: number;
  rate: number;
  warmupMs: number;
  hangAtMs: number;
  hangMs: number;
  /**
   * After the hang, this long for the resumed node to work off what queued up
   * meanwhile and for its memory to settle (in the runs, its RSS fell by 15–30 MiB soon
   * after the resume and came back over the next 1–3 minutes); the steady window, on
   * which the growth target is judged, starts then.
   */
  recoveryMs: number;
  sampleMs: number;
  progressMs: number;
}

/** parseDuration reads `30s`, `10m`, `1.5m`, `500ms` or a number of seconds. */
function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`soak: bad duration ${JSON.stringify(s)} (e.g. 30s, 10m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  return Number(m[1]) * unit;
}

/** plan reads the run's length and rate from the arguments and the environment. */
function plan(argv: readonly string[], env: NodeJS.ProcessEnv): Plan {
  let durationMs = env.PEERCACHE_SOAK_DURATION
    ? parseDuration(env.PEERCACHE_SOAK_DURATION)
    : DEFAULT_DURATION_MS;
  let rate = env.PEERCACHE_SOAK_RATE ? Number(env.PEERCACHE_SOAK_RATE) : DEFAULT_RATE;
  for (const arg of argv) {
    if (arg === '--short') durationMs = SHORT_DURATION_MS;
    else if (arg.startsWith('--duration=')) durationMs = parseDuration(arg.slice(11));
    else if (arg.startsWith('--rate=')) rate = Number(arg.slice(7));
  }
  if (!(rate > 0)) throw new Error(`soak: bad rate ${rate}`);
  if (durationMs < 10_000) throw new Error('soak: the duration must be 10 s or more');
  return {
    durationMs,
    rate,
    warmupMs: Math.min(120_000, durationMs * 0.2),
    hangAtMs: durationMs * 0.2,
    hangMs: Math.min(30_000, durationMs * 0.15),
    recoveryMs: Math.min(120_000, durationMs * 0.2),
    sampleMs: Math.min(5000, Math.max(1000, durationMs / 120)),
    progressMs: durationMs >= 5 * 60_000 ? 60_000 : 10_000,
  };
}

/** Member is a node of the run: a name, the process, and its memory samples. */
interface Member {
  readonly name: string;
  readonly node: PeercacheNode;
  readonly samples: MemorySample[];
}

/** START_ATTEMPTS is how many times a node is started on fresh ports before giving up. */
const START_ATTEMPTS = 3;

/**
 * startMember starts a `peercache node` on fresh ports, registered in etcd's `SERVICE`.
 * A port found free can be taken by another process before the node binds it (the
 * machine is shared): then it tries again on other ports, up to START_ATTEMPTS times.
 */
async function startMember(
  name: string,
  etcd: EtcdServer,
  registry: ProcessRegistry,
): Promise<Member> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMemberOnce(name, etcd, registry);
    } catch (err) {
      if (attempt >= START_ATTEMPTS || !/EADDRINUSE/.test(String(err))) throw err;
    }
  }
}

async function startMemberOnce(
  name: string,
  etcd: EtcdServer,
  registry: ProcessRegistry,
): Promise<Member> {
  const [peerPort, apiPort] = (await freePorts(2)) as [number, number];
  const node = await startPeercacheNode({
    self: `http://127.0.0.1:${peerPort}`,
    apiPort,
    loader: LOADER,
    group: `${GROUP}:${CACHE_MIB}MiB`,
    registry,
    transport: 'tcp',
    extraArgs: [
      '--etcd',
      etcd.endpoint,
      '--service',
      SERVICE,
      '--fail-fast',
      '--log-level',
      'warn',
    ],
  });
  return { name, node, samples: [] };
}

/** peersOf returns the ring `member` serves, from its API's /peers. */
async function peersOf(member: Member): Promise<string[]> {
  const res = await request(`${member.node.apiUrl}/peers`, { signal: AbortSignal.timeout(2000) });
  return ((await res.body.json()) as { peers: string[] }).peers;
}

async function nodeReport(member: Member): Promise<NodeReport> {
  const statsRes = await request(`${member.node.apiUrl}/stats`);
  const all = (await statsRes.body.json()) as {
    groups: Record<string, Omit<NodeReport, 'changes'>>;
  };
  const entry = all.groups[GROUP];
  if (!entry) throw new Error(`${member.name}: no group ${GROUP} in /stats`);
  const metrics = await (await request(`${member.node.apiUrl}/metrics`)).body.text();
  const changes = /^peercache_membership_changes_total\{source="etcd"\} (\d+)$/m.exec(metrics);
  return { ...entry, changes: Number(changes?.[1] ?? 0) };
}

/** sleepUntil waits until `performance.now()` reaches `at`. */
async function sleepUntil(at: number): Promise<void> {
  const left = at - performance.now();
  if (left > 0) await sleep(left);
}

async function main(): Promise<void> {
  const p = plan(process.argv.slice(2), process.env);
  const binary = await etcdBinary();
  if (typeof binary !== 'string') {
    console.log(`\n## Soak\n\nskipped: ${binary.skip}`);
    return;
  }
  const cleanups: (() => Promise<void>)[] = [];
  const etcdCleanup = { after: (fn: () => Promise<void>) => void cleanups.push(fn) };
  let hung: Member | undefined;
  let stopped = false;
  // A paused process ignores SIGTERM until it runs again: resume it before any stop.
  const resume = () => {
    if (hung && stopped) {
      process.kill(hung.node.process.pid, 'SIGCONT');
      stopped = false;
    }
  };
  const registry = stopOnInterrupt(new ProcessRegistry(), async () => {
    resume();
    for (const fn of cleanups) await fn();
  });
  let client: SoakClient | undefined;
  try {
    const etcd = await startEtcd({ cleanup: etcdCleanup });
    const [a, b, c, d1] = await Promise.all([
      startMember('A', etcd, registry),
      startMember('B', etcd, registry),
      startMember('C', etcd, registry),
      startMember('D#1', etcd, registry),
    ]);
    const stable = [a, b, c];
    hung = c;
    let churner: Member | undefined = d1;
    for (const m of stable) {
      await waitFor(async () => (await peersOf(m)).length === 4, {
        timeoutMs: 15_000,
        message: `${m.name} sees the 4 nodes in etcd`,
      });
    }

    // The members as the bench knows them, to tell what a failed operation's owner was
    // doing: hung (from SIGSTOP to SIGCONT), or leaving (from SIGTERM on).
    let hangingSince = Number.POSITIVE_INFINITY;
    let hangEnded = Number.POSITIVE_INFINITY;
    const leaving = new Map<string, number>();
    const members = new Set([a, b, c, d1].map((m) => m.node.url));
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set(members);
    client = new SoakClient({
      rate: p.rate,
      keys: KEYS,
      mix: MIX,
      ttlShare: TTL_SHARE,
      ttlMs: TTL_MS,
      maxInFlight: MAX_IN_FLIGHT,
      timeoutMs: CLIENT_TIMEOUT_MS,
      group: GROUP,
      hung: () => stopped,
      ownerOf: (key) => ring.get(key) ?? '',
      causeOf: (peer, startedAt) => {
        // The operation overlapped the hang, and failed on the hung node.
        if (peer === c.node.url && hangingSince <= performance.now() && startedAt <= hangEnded) {
          return HUNG_OWNER;
        }
        const leftAt = leaving.get(peer);
        return leftAt !== undefined && leftAt <= performance.now() ? OWNER_LEAVING : undefined;
      },
    });
    for (const m of [a, b, c, d1]) client.add({ name: m.name, apiUrl: m.node.apiUrl });
    const load = client;

    console.log(
      `\n# Soak: ${(p.durationMs / 60_000).toFixed(1)} min, ${p.rate} ops/s ` +
        `(${MIX.get * 100}% get, ${MIX.set * 100}% set, ${Math.round((1 - MIX.get - MIX.set) * 100)}% remove) ` +
        `over ${KEYS.toLocaleString('en-US')} keys; 3 nodes + 1 rejoining every ${CHURN_EVERY_MS / 1000} s ` +
        `(tcp, etcd); C hung from ${(p.hangAtMs / 1000).toFixed(0)} s for ${(p.hangMs / 1000).toFixed(0)} s; ` +
        `warm-up ${(p.warmupMs / 1000).toFixed(0)} s`,
    );
    const t0 = performance.now();
    const end = t0 + p.durationMs;
    const elapsed = () => performance.now() - t0;
    load.start();

    // Membership churn: D leaves (SIGTERM: it revokes its lease) and, 5 s later, a new D
    // joins on fresh ports, as a restarted pod would.
    let lives = 1;
    let leaves = 0;
    let joins = 0;
    const uncleanExits: string[] = [];
    const stopTimes: number[] = [];
    const failedJoins: string[] = [];
    const churn = (async () => {
      for (let k = 1; t0 + k * CHURN_EVERY_MS < end; k++) {
        await sleepUntil(t0 + k * CHURN_EVERY_MS);
        if (churner) {
          const gone = churner;
          churner = undefined;
          await load.drain(gone.name);
          const stopping = performance.now();
          leaving.set(gone.node.url, stopping);
          const status = await gone.node.process.stop('SIGTERM', STOP_GRACE_MS);
          stopTimes.push(performance.now() - stopping);
          if (status.code !== 0) uncleanExits.push(`${gone.name}: ${JSON.stringify(status)}`);
          members.delete(gone.node.url);
          ring.set(members);
          leaves++;
        } else {
          let joining: Member;
          try {
            joining = await startMember(`D#${++lives}`, etcd, registry);
          } catch (err) {
            // D stays out until the next turn; the run goes on.
            failedJoins.push(`D#${lives}: ${(err as Error).message.split('\n')[0]}`);
            continue;
          }
          members.add(joining.node.url);
          ring.set(members);
          load.add({ name: joining.name, apiUrl: joining.node.apiUrl });
          churner = joining;
          joins++;
        }
      }
    })();

    // The hung peer: C stops answering anything (SIGSTOP), then runs again (SIGCONT).
    // The client stops using C's own API first: the test is of the others facing it.
    let hangFrom = Number.NaN;
    let hangTo = Number.NaN;
    const hang = (async () => {
      await sleepUntil(t0 + p.hangAtMs);
      await load.drain(c.name);
      hangingSince = performance.now();
      process.kill(c.node.process.pid, 'SIGSTOP');
      stopped = true;
      hangFrom = elapsed();
      await sleepUntil(t0 + p.hangAtMs + p.hangMs);
      resume();
      hangEnded = performance.now();
      hangTo = elapsed();
      load.add({ name: c.name, apiUrl: c.node.apiUrl });
    })();

    // How A's ring follows the hang: when C drops off it (its lease ran out), and when it
    // is back (C registered again after SIGCONT). Polled from the hang to 30 s after it.
    let droppedAt = Number.NaN;
    let backAt = Number.NaN;
    const watchRing = (async () => {
      await sleepUntil(t0 + p.hangAtMs);
      const until = t0 + p.hangAtMs + p.hangMs + 30_000;
      while (performance.now() < Math.min(until, end) && Number.isNaN(backAt)) {
        const peers = await peersOf(a).catch(() => undefined);
        const onRing = peers?.includes(c.node.url);
        if (onRing === false && Number.isNaN(droppedAt)) droppedAt = elapsed();
        if (onRing === true && !Number.isNaN(droppedAt)) backAt = elapsed();
        await sleep(250);
      }
    })();

    const sampler = (async () => {
      let nextProgress = t0 + p.progressMs;
      for (let k = 0; t0 + k * p.sampleMs <= end; k++) {
        await sleepUntil(t0 + k * p.sampleMs);
        const t = elapsed();
        await Promise.all(
          stable.map(async (m) => {
            const [rss, fds] = await Promise.all([
              residentBytes(m.node.process.pid),
              openFiles(m.node.process.pid),
            ]);
            let heap: { used: number; total: number } | undefined;
            if (!(m === c && stopped)) heap = await heapBytes(m.node.apiUrl).catch(() => undefined);
            m.samples.push({ t, rss, fds, heapUsed: heap?.used, heapTotal: heap?.total });
          }),
        );
        if (performance.now() >= nextProgress) {
          nextProgress += p.progressMs;
          const k3 = (n: number) => `${(n / 1000).toFixed(1)}k`;
          const { get, set, remove } = load.counts;
          console.log(
            `t=${(t / 1000).toFixed(0)}s ops ${k3(get.sent + set.sent + remove.sent)}, ` +
              `failed gets ${get.failed}, failed writes ${set.failed + remove.failed} ` +
              `(hung owner ${writes(load.counts, HUNG_OWNER)}, owner leaving or gone ` +
              `${writes(load.counts, OWNER_LEAVING)}), in flight ${load.inFlight}, ` +
              `RSS ${stable.map((m) => `${m.name} ${mib((m.samples.at(-1)?.rss ?? 0) / MiB)}`).join(' ')} MiB` +
              `${stopped ? ' (C hung)' : ''}`,
          );
        }
      }
    })();

    await Promise.all([churn, hang, sampler, watchRing]);
    await load.stop();
    const runMs = elapsed();
    const reports = await Promise.all(stable.map(nodeReport));

    // The report.
    const { get, set, remove } = load.counts;
    const minutes = (runMs / 60_000).toFixed(1);
    console.log(`\n## Soak: ${minutes} min\n`);
    printOperations(load, MAX_IN_FLIGHT);
    console.log(
      `Churn: ${leaves} leaves and ${joins} joins of D (${joins + 1} processes), ` +
        `${uncleanExits.length} unclean exits${uncleanExits.length ? `: ${uncleanExits.join('; ')}` : ''}; ` +
        `D's shutdowns took at most ${ms(Math.max(0, ...stopTimes))} ms ` +
        `(${stopTimes.filter((t) => t > 1000).length} over 1 s)` +
        `${failedJoins.length ? `; ${failedJoins.length} failed to start: ${failedJoins.join('; ')}` : ''}. ` +
        `Hang: C stopped from ${(hangFrom / 1000).toFixed(1)} s to ${(hangTo / 1000).toFixed(1)} s; ` +
        `on A's ring C ${Number.isNaN(droppedAt) ? 'stayed' : `was dropped at ${(droppedAt / 1000).toFixed(1)} s and back at ${(backAt / 1000).toFixed(1)} s`}; ` +
        `gets started meanwhile: ${get.latencyDuringHang.count + get.duringHang} ` +
        `(${get.duringHang} failed; p99 ${ms(get.latencyDuringHang.percentile(99))} ms, ` +
        `max ${ms(get.latencyDuringHang.max)} ms).`,
    );

    // Two windows: everything after the warm-up (the hang and its aftermath included), and
    // the steady one after the resumed node has worked off its backlog, where growth is
    // judged: memory a process took to ride out the hang and kept is a step, not a leak;
    // growth that goes on afterwards is.
    const steadyFromMs = Math.max(p.warmupMs, p.hangAtMs + p.hangMs + p.recoveryMs);
    const windows = [
      { name: 'after the warm-up', fromMs: p.warmupMs },
      { name: 'steady (after the hang and recovery)', fromMs: steadyFromMs },
    ];
    const fitsBy = windows.map((w) => stable.map((m) => fitFrom(m.samples, w.fromMs)));
    const fits = fitsBy[1] as Fit[];
    printMemory(stable, windows, fitsBy, p.sampleMs / 1000);
    printNodes(stable, reports);
    const results = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(results, { recursive: true });
    writeSamplesCsv(join(results, 'soak-samples.csv'), stable);

    const judged = p.durationMs - steadyFromMs >= MIN_JUDGED_FIT_MS;
    const worstRss = Math.max(...fits.map((f) => f.rss));
    const worstHeap = Math.max(...fits.map((f) => f.heapUsed));
    const wholeRss = Math.max(...(fitsBy[0] as Fit[]).map((f) => f.rss));
    const flat = fits.every((f) => f.rss < SLOPE_TARGET && f.heapUsed < SLOPE_TARGET);
    const hungWrites = writes(load.counts, HUNG_OWNER);
    const leavingWrites = writes(load.counts, OWNER_LEAVING);
    const otherWrites = writes(load.counts, 'other');
    console.log(
      `\nTargets: memory slope < ${SLOPE_TARGET} MiB/min in the steady window: ` +
        `${judged ? (flat ? 'met' : 'NOT met') : `not judged (the window is ${((p.durationMs - steadyFromMs) / 1000).toFixed(0)} s, under ${MIN_JUDGED_FIT_MS / 60_000} min)`}; ` +
        `no failed gets: ${get.failed === 0 ? 'met' : `NOT met (${get.failed})`}. ` +
        `Failed writes: ${hungWrites} with the hung node as owner (may fail by design), ` +
        `${leavingWrites} on a node leaving or gone, ${otherWrites} others.`,
    );
    headline({
      item: 8,
      name: `Soak: ${minutes} min of mixed get/set/remove at ${p.rate} ops/s, churn every 5 s, a hung peer`,
      measured:
        `RSS slope ≤ ${slope(worstRss)}, heap ≤ ${slope(worstHeap)} MiB/min (steady); ` +
        `${get.failed} failed gets`,
      target: `< ${SLOPE_TARGET} MiB/min, 0 failed gets`,
      met: judged ? flat && get.failed === 0 : undefined,
      note:
        `RSS slope ≤ ${slope(wholeRss)} MiB/min over the whole window after the warm-up; ` +
        `${count(get.sent + set.sent + remove.sent)} ops; failed writes: ${hungWrites} ` +
        `to the hung owner, ${leavingWrites} on a node leaving or gone, ${otherWrites} others; ${leaves + joins} membership changes` +
        `${judged ? '' : '; too short to judge the slope'}`,
    });
  } finally {
    resume();
    await client?.stop().catch(() => {});
    await registry.stopAll();
    for (const fn of cleanups) await fn();
  }
}

await main();
