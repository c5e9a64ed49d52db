// supervisor.ts: WorkerSupervisor, the primary's bookkeeping for `peercache node --workers`:
// which workers run and are ready, restarting one that dies (with backoff), and the
// orderly stop. It forks through a seam, so it knows nothing of node:cluster.
import type { Logger } from '../core/logger.js';
import { type Clock, systemClock } from '../util/clock.js';
import { RestartBackoff, type RestartBackoffOptions } from './restart-backoff.js';

/** WorkerHandle is one started worker process, as the supervisor sees it. */
export interface WorkerHandle {
  /** pid is the worker's process id. */
  readonly pid: number | undefined;
  /** kill sends the worker `signal`. */
  kill(signal: NodeJS.Signals): void;
}

/** WorkerSupervisorOptions configure a {@link WorkerSupervisor}. */
export interface WorkerSupervisorOptions {
  /** count is how many workers run, indexed 0..count-1. */
  count: number;
  /**
   * fork starts worker `index`. Whoever calls it reports back what the worker
   * does: `ready(index)` once it serves, `exited(index, ...)` when it ends.
   */
  fork: (index: number) => WorkerHandle;
  /** logger hears of starts, deaths, restarts and the stop. */
  logger: Logger;
  /** clock paces the restarts. Default the system clock. */
  clock?: Clock | undefined;
  /** backoff tunes the restart waits (see {@link RestartBackoff}). Default its defaults. */
  backoff?: RestartBackoffOptions | undefined;
  /** onAllReady is called once, the first time every worker is ready. */
  onAllReady?: (() => void) | undefined;
  /**
   * onFailed is called when a worker ends before the first time all were ready
   * (a bad port, a loader that cannot load): the supervisor restarts nothing
   * then, and the primary should stop the others and exit.
   */
  onFailed?: ((reason: string) => void) | undefined;
}

interface Slot {
  handle: WorkerHandle | undefined;
  ready: boolean;
  backoff: RestartBackoff;
  restart: unknown;
  code: number | null;
}

/**
 * WorkerSupervisor starts `count` workers and keeps them running: a worker that
 * dies after all were ready once is started again after a backoff (doubling
 * while it keeps dying young). `stop()` passes SIGTERM on to every worker for
 * its orderly shutdown (leave, drain, close) and resolves once all have ended.
 */
export class WorkerSupervisor {
  readonly #options: WorkerSupervisorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #slots: Slot[];
  #allReadyOnce = false;
  #stopping: Promise<number> | undefined;
  #onAllExited: (() => void) | undefined;

  constructor(options: WorkerSupervisorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger;
    this.#slots = Array.from({ length: options.count }, () => ({
      handle: undefined,
      ready: false,
      backoff: new RestartBackoff(options.backoff),
      restart: undefined,
      code: null,
    }));
  }

  /** start forks every worker. */
  start(): void {
    for (let i = 0; i < this.#slots.length; i++) this.#fork(i);
  }

  /** pids lists the running workers' process ids by index (undefined: not running). */
  pids(): (number | undefined)[] {
    return this.#slots.map((s) => s.handle?.pid);
  }

  /** ready records that worker `index` serves. */
  ready(index: number): void {
    const slot = this.#slots[index];
    if (slot === undefined || slot.handle === undefined) return;
    slot.ready = true;
    this.#log.info({ worker: index, workerPid: slot.handle.pid }, 'worker ready');
    if (!this.#allReadyOnce && this.#slots.every((s) => s.ready)) {
      this.#allReadyOnce = true;
      this.#options.onAllReady?.();
    }
  }

  /** exited records that worker `index` ended, and starts it again unless stopping. */
  exited(index: number, code: number | null, signal: string | null): void {
    const slot = this.#slots[index];
    if (slot === undefined || slot.handle === undefined) return;
    const pid = slot.handle.pid;
    slot.handle = undefined;
    slot.ready = false;
    // Stopped by the SIGTERM passed on before it had set up its own handling: still a clean stop.
    slot.code = this.#stopping !== undefined && signal === 'SIGTERM' ? 0 : code;
    if (this.#stopping !== undefined) {
      this.#log.info({ worker: index, workerPid: pid, code, signal }, 'worker stopped');
      if (this.#slots.every((s) => s.handle === undefined)) this.#onAllExited?.();
      return;
    }
    if (!this.#allReadyOnce) {
      const reason = `worker ${index} ended before it was ready (code ${code}, signal ${signal})`;
      this.#log.error({ worker: index, workerPid: pid, code, signal }, 'worker failed to start');
      this.#options.onFailed?.(reason);
      return;
    }
    const waitMs = slot.backoff.died(this.#clock.now());
    this.#log.warn(
      { worker: index, workerPid: pid, code, signal, restartInMs: waitMs },
      'worker died: starting it again',
    );
    slot.restart = this.#clock.setTimeout(() => {
      slot.restart = undefined;
      if (this.#stopping === undefined) this.#fork(index);
    }, waitMs);
  }

  /**
   * stop ends every worker: pending restarts are dropped, each running worker
   * gets SIGTERM (its orderly shutdown), and it resolves once all have ended
   * with 0 when each exited 0, else 1. Idempotent.
   */
  stop(): Promise<number> {
    this.#stopping ??= new Promise<number>((resolve) => {
      const done = () => resolve(this.#slots.every((s) => s.code === 0) ? 0 : 1);
      this.#onAllExited = done;
      for (const slot of this.#slots) {
        if (slot.restart !== undefined) this.#clock.clearTimeout(slot.restart);
        slot.restart = undefined;
        if (slot.handle === undefined) slot.code = 0;
      }
      const running = this.#slots.filter((s) => s.handle !== undefined);
      this.#log.info({ workers: running.length }, 'stopping workers');
      if (running.length === 0) {
        done();
        return;
      }
      for (const slot of running) slot.handle?.kill('SIGTERM');
    });
    return this.#stopping;
  }

  /** kill sends SIGKILL to every running worker (a second signal: no waiting). */
  kill(): void {
    for (const slot of this.#slots) slot.handle?.kill('SIGKILL');
  }

  #fork(index: number): void {
    const slot = this.#slots[index] as Slot;
    slot.handle = this.#options.fork(index);
    slot.backoff.started(this.#clock.now());
    this.#log.info({ worker: index, workerPid: slot.handle.pid }, 'worker started');
  }
}
