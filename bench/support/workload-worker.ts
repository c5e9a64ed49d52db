// workload-worker.ts: one app process of the workload benchmark. It builds its App (see
// workload-apps.ts) from the JSON config in argv[2], prints `ready <port>` for its
// control server on 127.0.0.1, then on `POST /run` keeps `inFlight` requests going for
// the time asked (Zipf keys, a share of them writes) and answers what it measured; on
// `POST /check` it counts its recorded reads that the acknowledged writes make stale; on
// `POST /counters` it answers its cache's own counters, where the cache keeps them.
import { createServer, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ZipfSampler } from './sim/zipf.js';
import { type AppConfig, createApp } from './workload-apps.js';
import { connectWorkloadDb } from './workload-db.js';
import { type HistogramCounts, LatencyHistogram } from './workload-histogram.js';
import { type LoopStats, LoopWatch } from './workload-loop.js';
import { monotonicUs, ReadLog, StaleChecker, type WriteRecord } from './workload-stale.js';

/** WorkerConfig is an app process's config: its App's, the database's port and the load's shape. */
export interface WorkerConfig extends AppConfig {
  dbPort: number;
  zipfS: number;
  /** Share of requests that are writes, 0..1. */
  writeShare: number;
  inFlight: number;
}

/** RunResult is what one `POST /run` measured in one app process. */
export interface RunResult {
  gets: number;
  writes: number;
  errors: number;
  firstError?: string;
  /** Latencies of the successful gets, in µs. */
  histogram: HistogramCounts;
  /** The writes acknowledged during the run. */
  writeLog: WriteRecord[];
  /** How busy the event loop was, for a measured run. */
  loop?: LoopStats;
}

/** CheckResult is what `POST /check` found among the reads recorded so far. */
export interface CheckResult {
  reads: number;
  stale: number;
  /** Stale reads of a written value whose write overlapped a newer write of the key. */
  reordered: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const db = await connectWorkloadDb(config.dbPort);
const app = await createApp(config, db);
const sampler = new ZipfSampler(config.keys, config.zipfS, Math.random);
const reads = new ReadLog();

async function run(durationMs: number, record: boolean): Promise<RunResult> {
  const histogram = new LatencyHistogram();
  const writeLog: WriteRecord[] = [];
  let gets = 0;
  let writes = 0;
  let errors = 0;
  let firstError: string | undefined;
  const fail = (err: unknown) => {
    errors++;
    firstError ??= err instanceof Error ? err.message : String(err);
  };
  const watch = record ? new LoopWatch() : undefined;
  watch?.start();
  const end = performance.now() + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const i = sampler.next();
      if (Math.random() < config.writeShare) {
        const start = monotonicUs();
        try {
          const version = await app.write(i);
          writeLog.push([i, version, start, monotonicUs()]);
          writes++;
        } catch (err) {
          fail(err);
        }
        continue;
      }
      const start = monotonicUs();
      try {
        const { version, written } = await app.get(i);
        histogram.record(monotonicUs() - start);
        if (record) reads.add(i, start, version, written);
        gets++;
      } catch (err) {
        fail(err);
      }
    }
  };
  await Promise.all(Array.from({ length: config.inFlight }, loop));
  const loopStats = watch?.stop();
  return {
    gets,
    writes,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    histogram: histogram.counts(),
    writeLog,
    ...(loopStats === undefined ? {} : { loop: loopStats }),
  };
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

const server = createServer((req, res) => {
  void (async () => {
    try {
      const input = (await body(req)) as {
        durationMs?: number;
        record?: boolean;
        writes?: WriteRecord[];
      };
      let out: RunResult | CheckResult | Record<string, number>;
      if (req.url === '/run') out = await run(input.durationMs ?? 1000, input.record === true);
      else if (req.url === '/counters') out = app.counters?.() ?? {};
      else if (req.url === '/check') {
        const checker = new StaleChecker(input.writes ?? []);
        out = { reads: reads.size, ...reads.countStale(checker) };
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    } catch (err) {
      res.writeHead(500).end(err instanceof Error ? err.message : String(err));
    }
  })();
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`ready ${typeof address === 'object' && address ? address.port : 0}`);
});

const shutdown = () => {
  server.close();
  void app
    .close()
    .catch(() => {})
    .finally(() => {
      db.close();
      process.exit(0);
    });
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
