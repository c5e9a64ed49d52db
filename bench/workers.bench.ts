// workers.bench.ts: API gets per second of one `peercache node` with --workers 2 against the
// same node with one process, on this machine, from the same client: wrk (Debian's, a C
// load generator that leaves the cores to the node; installed when missing and root), or
// else a Node client, keeping 32 keep-alive connections busy on the one API port, after a
// warm-up that leaves every key in every worker's cache (main or hot).
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startPeercacheNode } from '../test/support/peercache.js';
import { consecutivePorts, freePorts } from '../test/support/process.js';
import { headline, times } from './support/report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET = 1.5;
const KEYS = 100;
const DURATION_MS = Number(process.env.WORKERS_BENCH_MS ?? 8_000);
const IN_FLIGHT = 64;
const CONNECTIONS = 32;

interface ClientResult {
  ops: number;
  errors: number;
  firstError?: string;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** The cores the client process used while measuring (1 = one core busy throughout). */
  clientCores: number;
}

/** runClient runs the client process against `api` and returns what it measured. */
function runClient(api: string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/support/api-client.ts',
        api,
        String(KEYS),
        String(DURATION_MS),
        String(IN_FLIGHT),
        String(CONNECTIONS),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the client exited with ${code}`));
      else resolve(JSON.parse(out) as ClientResult);
    });
  });
}

/** wrkAvailable tells whether wrk is on the PATH, installing Debian's `wrk` when missing and root. */
function wrkAvailable(): boolean {
  const has = () => spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (has()) return true;
  if (process.getuid?.() !== 0) return false;
  spawnSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore' });
  return has();
}

/** parseDuration reads one of wrk's durations (`812.00us`, `1.20ms`, `2.10s`) as µs. */
function micros(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s);
  if (m === null) return Number.NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1_000 : 1_000_000);
}

/**
 * runWrk warms every key (50 gets each, so that every worker's hot cache holds the others'
 * keys), then runs wrk against `api` with {@link CONNECTIONS} connections.
 */
async function runWrk(api: string): Promise<ClientResult> {
  for (let pass = 0; pass < 50; pass++) {
    await Promise.all(
      Array.from({ length: KEYS }, (_, i) =>
        fetch(`${api}/api?key=bench-${i}`).then((r) => r.arrayBuffer()),
      ),
    );
  }
  const r = spawnSync(
    'wrk',
    [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${Math.round(DURATION_MS / 1000)}s`,
      '--latency',
      '-s',
      'bench/support/wrk-keys.lua',
      `${api}/`,
      '--',
      String(KEYS),
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const out = r.stdout;
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (r.status !== 0 || rate === null) throw new Error(`wrk failed: ${r.stderr || out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    ops: requests,
    errors,
    opsPerSec: Number(rate[1]),
    p50Us: micros(/ 50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99Us: micros(/ 99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    clientCores: Number.NaN,
  };
}

const useWrk = wrkAvailable();

/** measure starts a node with `workers` processes, runs the client against it, stops it. */
async function measure(workers: number): Promise<ClientResult> {
  // Worker i takes peer port + i.
  const peerPort = await consecutivePorts(workers);
  const [apiPort] = await freePorts(1);
  const self = `http://127.0.0.1:${peerPort}`;
  const node = await startPeercacheNode({
    self,
    apiPort,
    loader: 'bench/support/value-loader.ts',
    transport: 'tcp',
    // The last --log-level wins: no line per load.
    extraArgs: ['--log-level', 'warn', '--workers', String(workers), '--drain-ms', '0'],
  });
  try {
    const api = `http://127.0.0.1:${apiPort}`;
    return await (useWrk ? runWrk(api) : runClient(api));
  } finally {
    await node.process.stop('SIGTERM', 10_000);
  }
}

const one = await measure(1);
const two = await measure(2);
for (const [name, r] of [
  ['1 process', one],
  ['--workers 2', two],
] as const) {
  console.log(
    `${name}: ${Math.round(r.opsPerSec).toLocaleString('en-US')} gets/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}${useWrk ? '' : `; the client used ${r.clientCores.toFixed(2)} cores`}`,
  );
}
const ratio = two.opsPerSec / one.opsPerSec;
headline({
  item: 15,
  name: 'API gets/s, --workers 2 vs one process',
  measured: times(ratio),
  target: `≥ ${TARGET}×`,
  met: ratio >= TARGET && one.errors === 0 && two.errors === 0,
  chart: { ratio, target: TARGET, higherIsBetter: true },
  note: useWrk
    ? `${Math.round(one.opsPerSec)} vs ${Math.round(two.opsPerSec)} gets/s, ${KEYS} keys, wrk with ${CONNECTIONS} connections, ${availableParallelism()} cores`
    : `${Math.round(one.opsPerSec)} vs ${Math.round(two.opsPerSec)} gets/s, ${KEYS} keys, ${IN_FLIGHT} in flight over ${CONNECTIONS} connections; the client, a third process, used ${one.clientCores.toFixed(2)} / ${two.clientCores.toFixed(2)} cores of ${availableParallelism()}`,
});
