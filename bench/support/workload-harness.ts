// workload-harness.ts: runs the workload benchmark: for each system a database, what the
// system needs (redis-server, `peercache node`s) and its app processes; a warm-up of
// each, then rounds of each system in turn (the order rotated every round), and at the
// end each system's throughput, latency, database reads, memory and stale reads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  freePorts,
  type ManagedProcess,
  type ProcessRegistry,
  startProcess,
} from '../../test/support/process.js';
import { startRedis } from './redis.js';
import { SYSTEM_LABELS, type SystemName, WORKLOAD_GROUP } from './workload-apps.js';
import { startWorkloadDb, type WorkloadDb } from './workload-db.js';
import { LatencyHistogram } from './workload-histogram.js';
import type { LoopStats } from './workload-loop.js';
import type { WriteRecord } from './workload-stale.js';
import type { CheckResult, RunResult, WorkerConfig } from './workload-worker.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = 'bench/support/workload-worker.ts';
const LOADER = 'bench/support/workload-loader.ts';

/** WorkloadOptions shape a {@link runWorkload}; every system gets the same. */
export interface WorkloadOptions {
  systems: readonly SystemName[];
  /** Tracks every process started, so that an interrupt stops them. */
  registry: ProcessRegistry;
  /** App processes per system. Default 3. */
  processes?: number;
  /** Number of keys. Default 100,000. */
  keys?: number;
  /** Zipf exponent of the key popularity. Default 1.1. */
  zipfS?: number;
  /** Share of requests that are writes. Default 0.05. */
  writeShare?: number;
  /** The database's time per read and per write, in ms. Default 5. */
  dbDelayMs?: number;
  /** Requests in flight per app process. Default 64. */
  inFlight?: number;
  /** TTL of every cached value, in ms. Default 60,000. */
  ttlMs?: number;
  /** Budget of each in-process cache, in bytes. Default 256 MiB. */
  cacheBytes?: number;
  /** Warm-up of each system before its measured rounds, in ms. Default 5,000. */
  warmupMs?: number;
  /** Measured rounds per system. Default 4. */
  rounds?: number;
  /** Length of each round, in ms. Default 5,000. */
  roundMs?: number;
  /** Progress lines go here. Default: nowhere. */
  log?: (line: string) => void;
}

/** SystemResult is what {@link runWorkload} measured of one system, over all its processes. */
export interface SystemResult {
  system: SystemName;
  label: string;
  /** Gets per second of the measured rounds, all app processes together. */
  getsPerSec: number;
  /** Get latency percentiles of the measured rounds, in µs. */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  /** Gets and writes of the measured rounds, and failed requests of the whole run. */
  gets: number;
  writes: number;
  errors: number;
  firstError?: string;
  /** Database reads (loads) of the whole run, warm-up included. */
  dbReads: number;
  /** Keys read from the database at least once. */
  distinctKeys: number;
  /** Reads of a key within the TTL of its previous read, no write between: beyond one per key per TTL. */
  repeatReads: number;
  /** RSS of every process of the system (apps, and redis-server or the nodes) at the end, in bytes. */
  rssBytes: number;
  /**
   * CPU time of those processes per get in the measured rounds, in µs (writes
   * included): what a get costs the machine, whatever share of it the system got.
   */
  cpuUsPerGet: number;
  /** Reads of the measured rounds checked for staleness, and those found stale. */
  readsChecked: number;
  stale: number;
  /** Stale reads due to two writers applying their writes to the cache out of database order. */
  staleReordered: number;
  /** The cache's own counters, summed over the app processes (whole run), where it keeps them. */
  counters: Record<string, number>;
  /** The app processes' event-loop delay p99 in ms: the median over each process's measured rounds. */
  loopDelayP99Ms: number;
  /** Share of the app processes' measured time spent in garbage collection, 0..1. */
  gcShare: number;
  /** Major (mark-compact) collections per app process per second, and their share of the time. */
  majorPerSec: number;
  majorShare: number;
}

/** Started is one system, running: its database, app processes and the processes it needs. */
interface Started {
  system: SystemName;
  db: WorkloadDb;
  workers: { process: ManagedProcess; port: number }[];
  others: ManagedProcess[];
  writes: WriteRecord[];
  gets: number;
  writesMeasured: number;
  errors: number;
  firstError?: string;
  histogram: LatencyHistogram;
  measuredMs: number;
  /** CPU time its processes used during the measured rounds, in seconds. */
  cpuSeconds: number;
  /** What each app process's event loop saw in each measured round. */
  loops: LoopStats[];
}

function url(port: number): string {
  return `http://127.0.0.1:${port}`;
}

async function post<T>(port: number, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${url(port)}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  if (!res.ok)
    throw new Error(`app process on ${port}: ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** CLOCK_TICKS is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on Linux. */
const CLOCK_TICKS = 100;

/** cpuSeconds reads the CPU time (user + system) a process has used, or 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces), from field 3 on: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** rssBytes reads a process's resident set size from /proc, or 0 when it is gone. */
function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

async function startSystem(
  system: SystemName,
  o: Required<Omit<WorkloadOptions, 'log'>>,
): Promise<Started> {
  const db = await startWorkloadDb({ keys: o.keys, delayMs: o.dbDelayMs, ttlMs: o.ttlMs });
  const others: ManagedProcess[] = [];
  const base: Omit<WorkerConfig, 'system'> = {
    dbPort: db.port,
    keys: o.keys,
    ttlMs: o.ttlMs,
    cacheBytes: o.cacheBytes,
    zipfS: o.zipfS,
    writeShare: o.writeShare,
    inFlight: o.inFlight,
  };
  const configs: WorkerConfig[] = [];
  if (system === 'redis' || system === 'bentocache') {
    const redis = await startRedis(o.registry);
    others.push(redis.process);
    for (let p = 0; p < o.processes; p++) configs.push({ ...base, system, redisPort: redis.port });
  } else if (system === 'peercache' || system === 'peercache-hot') {
    const peers = (await freePorts(o.processes)).map(url);
    for (const self of peers) configs.push({ ...base, system, self, peers });
  } else {
    const peers = (await freePorts(o.processes)).map(url);
    const nodes = await Promise.all(
      peers.map((self) =>
        startProcess(
          process.execPath,
          [
            '--import',
            'tsx',
            'src/cli/main.ts',
            'node',
            '--self',
            self,
            '--peers',
            peers.join(','),
            '--transport',
            'tcp',
            '--group',
            `${WORKLOAD_GROUP}:${o.cacheBytes}`,
            '--loader',
            LOADER,
            '--log-level',
            'warn',
          ],
          {
            cwd: REPO_ROOT,
            readyLine: `ready ${self}`,
            registry: o.registry,
            env: { WORKLOAD_DB_PORT: String(db.port), WORKLOAD_TTL_MS: String(o.ttlMs) },
          },
        ),
      ),
    );
    others.push(...nodes);
    for (let p = 0; p < o.processes; p++) configs.push({ ...base, system, peers });
  }
  // WORKLOAD_CPU_PROF=DIR: each app process writes a V8 CPU profile there when it stops.
  const profDir = process.env.WORKLOAD_CPU_PROF;
  const profile = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const workers = await Promise.all(
    configs.map(async (config) => {
      const proc = await startProcess(
        process.execPath,
        [...profile, '--import', 'tsx', WORKER, JSON.stringify(config)],
        { cwd: REPO_ROOT, readyLine: /^ready \d+$/, registry: o.registry },
      );
      const line = proc.stdout.find((l) => /^ready \d+$/.test(l))!;
      return { process: proc, port: Number(line.slice('ready '.length)) };
    }),
  );
  return {
    system,
    db,
    workers,
    others,
    writes: [],
    gets: 0,
    writesMeasured: 0,
    errors: 0,
    histogram: new LatencyHistogram(),
    measuredMs: 0,
    cpuSeconds: 0,
    loops: [],
  };
}

/** runSystem runs every app process of `s` for `durationMs` at once and adds up what they saw. */
async function runSystem(s: Started, durationMs: number, measured: boolean): Promise<void> {
  const pids = [...s.workers.map((w) => w.process.pid), ...s.others.map((p) => p.pid)];
  const cpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpuBefore = cpu();
  const results = await Promise.all(
    s.workers.map((w) => post<RunResult>(w.port, '/run', { durationMs, record: measured })),
  );
  for (const r of results) {
    s.writes.push(...r.writeLog);
    s.errors += r.errors;
    if (r.firstError !== undefined) s.firstError ??= r.firstError;
    if (!measured) continue;
    s.gets += r.gets;
    s.writesMeasured += r.writes;
    s.histogram.merge(r.histogram);
    if (r.loop !== undefined) s.loops.push(r.loop);
  }
  if (measured) {
    s.measuredMs += durationMs;
    s.cpuSeconds += cpu() - cpuBefore;
  }
}

async function finish(s: Started): Promise<SystemResult> {
  const checks = await Promise.all(
    s.workers.map((w) => post<CheckResult>(w.port, '/check', { writes: s.writes })),
  );
  const counters: Record<string, number> = {};
  for (const w of s.workers) {
    const mine = await post<Record<string, number>>(w.port, '/counters', {});
    for (const [k, v] of Object.entries(mine)) counters[k] = (counters[k] ?? 0) + v;
  }
  const reads = s.db.readsPerKey();
  let dbReads = 0;
  let distinctKeys = 0;
  for (const r of reads) {
    dbReads += r;
    if (r > 0) distinctKeys++;
  }
  const pids = [...s.workers.map((w) => w.process.pid), ...s.others.map((p) => p.pid)];
  return {
    system: s.system,
    label: SYSTEM_LABELS[s.system],
    getsPerSec: (s.gets * 1000) / s.measuredMs,
    p50Us: s.histogram.percentile(50),
    p99Us: s.histogram.percentile(99),
    p999Us: s.histogram.percentile(99.9),
    gets: s.gets,
    writes: s.writesMeasured,
    errors: s.errors,
    ...(s.firstError === undefined ? {} : { firstError: s.firstError }),
    dbReads,
    distinctKeys,
    repeatReads: s.db.repeatReads(),
    rssBytes: pids.reduce((sum, pid) => sum + rssBytes(pid), 0),
    cpuUsPerGet: (s.cpuSeconds * 1e6) / Math.max(1, s.gets),
    readsChecked: checks.reduce((sum, c) => sum + c.reads, 0),
    stale: checks.reduce((sum, c) => sum + c.stale, 0),
    staleReordered: checks.reduce((sum, c) => sum + c.reordered, 0),
    counters,
    ...loopSummary(s.loops),
  };
}

/** loopSummary sums up the app processes' {@link LoopStats} over the measured rounds. */
function loopSummary(
  loops: readonly LoopStats[],
): Pick<SystemResult, 'loopDelayP99Ms' | 'gcShare' | 'majorPerSec' | 'majorShare'> {
  const p99s = loops.map((l) => l.delayP99Ms).sort((a, b) => a - b);
  const sum = (pick: (l: LoopStats) => number) => loops.reduce((t, l) => t + pick(l), 0);
  const ms = Math.max(
    1,
    sum((l) => l.ms),
  );
  return {
    loopDelayP99Ms: p99s.length === 0 ? Number.NaN : (p99s[p99s.length >> 1] as number),
    gcShare: sum((l) => l.gcMs) / ms,
    majorPerSec: (sum((l) => l.majorCount) * 1000) / ms,
    majorShare: sum((l) => l.majorMs) / ms,
  };
}

async function stop(s: Started): Promise<void> {
  await Promise.all(s.workers.map((w) => w.process.stop()));
  await Promise.all(s.others.map((p) => p.stop()));
  await s.db.close();
}

/**
 * runWorkload starts every system of `options.systems` side by side, warms each up,
 * then measures `rounds` rounds of `roundMs` per system, taking the systems in turn
 * (the order rotated each round, so a slow spell of the machine falls on all), and
 * returns each system's results in the order given. Everything it started is stopped
 * before it returns.
 */
export async function runWorkload(options: WorkloadOptions): Promise<SystemResult[]> {
  const o = {
    processes: 3,
    keys: 100_000,
    zipfS: 1.1,
    writeShare: 0.05,
    dbDelayMs: 5,
    inFlight: 64,
    ttlMs: 60_000,
    cacheBytes: 256 * 1024 * 1024,
    warmupMs: 5000,
    rounds: 4,
    roundMs: 5000,
    ...options,
  };
  const log = options.log ?? (() => {});
  const started: Started[] = [];
  try {
    for (const system of o.systems) {
      log(`starting ${SYSTEM_LABELS[system]}`);
      started.push(await startSystem(system, o));
    }
    for (const s of started) {
      log(`warming up ${SYSTEM_LABELS[s.system]} for ${o.warmupMs} ms`);
      await runSystem(s, o.warmupMs, false);
    }
    for (let r = 0; r < o.rounds; r++) {
      const order = started.map((_, i) => started[(i + r) % started.length]!);
      for (const s of order) {
        await runSystem(s, o.roundMs, true);
        log(`round ${r + 1}/${o.rounds}: ${SYSTEM_LABELS[s.system]}`);
      }
    }
    const results: SystemResult[] = [];
    for (const s of started) results.push(await finish(s));
    return results;
  } finally {
    for (const s of started) await stop(s);
  }
}
