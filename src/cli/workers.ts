// workers.ts: `peercache node --workers N`: the primary forks one node:cluster worker per
// index, each a ring member on its own peer port and all serving the one API port; the
// primary restarts a worker that dies and passes SIGTERM on for the orderly shutdown.
import cluster from 'node:cluster';
import { Writable } from 'node:stream';
import type { NodeConfig } from './args.js';
import { createLogger, type RunIo } from './lifecycle.js';
import { WorkerSupervisor } from './supervisor.js';

/** WORKER_ENV is the environment variable that tells a worker its index. */
export const WORKER_ENV = 'PEERCACHE_WORKER';

/** The IPC message a worker sends its primary once it serves. */
const READY = 'peercache:ready';

/** withPort returns `url` (a peer URL or `HOST:PORT`) with its port moved on by `offset`. */
function withPort(hostPort: string, offset: number): string {
  const colon = hostPort.lastIndexOf(':');
  return `${hostPort.slice(0, colon + 1)}${Number(hostPort.slice(colon + 1)) + offset}`;
}

/** workerUrl is the peer URL of worker `index`: `--self` with its port + index. */
export function workerUrl(self: string, index: number): string {
  const u = new URL(self);
  u.port = String(Number(u.port) + index);
  return u.href.replace(/\/$/, '');
}

/**
 * workerConfig is what worker `index` of `config` runs: `--self` and `--listen`
 * on their port + index, one process (no workers of its own), and every
 * worker's URL added to the static list, so the workers of one node are members
 * of each other's rings with no etcd (with etcd each registers itself, and the
 * list only seeds the ring until etcd answers).
 */
export function workerConfig(config: NodeConfig, index: number): NodeConfig {
  const urls = Array.from({ length: config.workers }, (_, i) => workerUrl(config.self, i));
  return {
    ...config,
    self: urls[index] as string,
    listen: config.listen === undefined ? undefined : withPort(config.listen, index),
    peers: [...new Set([...config.peers, ...urls])],
    workers: 1,
  };
}

/**
 * runWorkers runs `peercache node --workers N`: in the primary it supervises the
 * workers and resolves with the exit code; in a worker it runs worker
 * `PEERCACHE_WORKER` with `runOne` (the single-process node) and its ready line
 * sent to the primary, which writes `ready <--self>` to stdout once every
 * worker is ready.
 */
export function runWorkers(
  config: NodeConfig,
  io: RunIo,
  runOne: (config: NodeConfig, io: RunIo, worker: number) => Promise<number>,
): Promise<number> {
  if (cluster.isPrimary) return runPrimary(config, io);
  const index = Number(process.env[WORKER_ENV]);
  if (!Number.isSafeInteger(index) || index < 0 || index >= config.workers) {
    io.stderr.write(`peercache: cannot start: a worker with no valid ${WORKER_ENV}\n`);
    return Promise.resolve(1);
  }
  // SIGINT (Ctrl-C) reaches every process of the group: the primary passes it on as
  // SIGTERM; a worker that stopped on it too would take the primary's as a second signal.
  process.on('SIGINT', () => {});
  const toPrimary = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (chunk.toString().startsWith('ready ')) process.send?.({ type: READY });
      done();
    },
  });
  return runOne(workerConfig(config, index), { stdout: toPrimary, stderr: io.stderr }, index);
}

/** runPrimary forks and supervises the workers until SIGINT or SIGTERM. */
function runPrimary(config: NodeConfig, io: RunIo): Promise<number> {
  const { logger, flush } = createLogger(config.logLevel);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const finish = (code: number) => {
      logger.info({ self: config.self, code }, code === 0 ? 'stopped' : 'stopped with errors');
      void flush().then(() => resolve(code));
    };
    const supervisor: WorkerSupervisor = new WorkerSupervisor({
      count: config.workers,
      logger,
      fork: (index) => {
        const worker = cluster.fork({ [WORKER_ENV]: String(index) });
        worker.on('message', (m: { type?: unknown }) => {
          if (m?.type === READY) supervisor.ready(index);
        });
        worker.on('exit', (code, signal) => supervisor.exited(index, code, signal));
        return { pid: worker.process.pid, kill: (s) => worker.process.kill(s) };
      },
      onAllReady: () => {
        logger.info({ self: config.self, workers: supervisor.pids() }, 'started');
        void flush().then(() => {
          if (signals === 0) io.stdout.write(`ready ${config.self}\n`);
        });
      },
      onFailed: (reason) => {
        signals++;
        void supervisor.stop().then(() => {
          io.stderr.write(`peercache: cannot start: ${reason}\n`);
          finish(1);
        });
      },
    });
    const stop = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: killing the workers');
        supervisor.kill();
        return;
      }
      logger.info({ signal }, 'shutting down');
      void supervisor.stop().then(finish);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    logger.info({ workers: config.workers, self: config.self }, 'starting workers');
    supervisor.start();
  });
}
