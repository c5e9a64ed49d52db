// lifecycle.ts: how a long-running command lives: an asynchronous pino logger on stderr, start,
// a `ready` line on stdout, then a graceful stop on SIGINT or SIGTERM that flushes the logs.
import { readFileSync } from 'node:fs';
import { type Logger as PinoLogger, pino } from 'pino';
import type { LogLevel } from './flags.js';

/** RunIo is where a command writes its ready line and startup errors. */
export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Stoppable is a started service: `close` shuts it down gracefully. */
export interface Stoppable {
  close(): Promise<void>;
}

/** version returns peercache's version, from its package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

/**
 * CliLogger is the CLI's logger and the way to get its lines out before the
 * process exits.
 */
export interface CliLogger {
  /** logger is the pino logger: JSON lines on stderr. */
  readonly logger: PinoLogger;
  /**
   * flush resolves once every line logged so far has been written to stderr,
   * or once stderr has failed, or after `timeoutMs` (default 5,000) at most.
   */
  flush(timeoutMs?: number): Promise<void>;
}

/**
 * createLogger returns the CLI's pino logger: JSON lines on stderr (fd 2),
 * written asynchronously, so that a busy node never blocks on a slow reader of
 * its logs. Lines wait in memory while stderr is busy. Every graceful exit
 * awaits `flush()`; on a forced one (`process.exit`, an uncaught exception)
 * pino writes what is still waiting synchronously as the process exits. A
 * stderr that fails (its reader gone) loses the lines, not the node.
 */
export function createLogger(level: LogLevel): CliLogger {
  const destination = pino.destination({ fd: 2, sync: false });
  // Bytes handed to the destination, and bytes it reports written: flushed when equal.
  let queued = 0;
  let written = 0;
  let failed = false;
  destination.on('write', (n: number) => {
    written += n;
  });
  destination.on('error', () => {
    failed = true;
  });
  const counted = {
    write(line: string): boolean {
      queued += Buffer.byteLength(line);
      return destination.write(line);
    },
  };
  const logger = pino({ level, base: { pid: process.pid } }, counted);
  const flushed = () => failed || written >= queued;
  return {
    logger,
    flush(timeoutMs = 5_000) {
      if (flushed()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          destination.off('write', check);
          destination.off('error', done);
          resolve();
        };
        const check = () => {
          if (flushed()) done();
        };
        const timer = setTimeout(done, timeoutMs);
        destination.on('write', check);
        destination.on('error', done);
      });
    },
  };
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * runUntilStopped starts a service with `start` and runs it until SIGINT or
 * SIGTERM (or, when started with an IPC channel as the demo does, until that
 * channel closes), then closes it and resolves with the exit code: 0 after a
 * clean shutdown, 1 when it could not start (after `peercache: cannot start:
 * <message>` on stderr) or failed to close. A second signal during shutdown
 * exits the process at once (128 + the signal's number). Once started it calls
 * `started` (for logs) and, once the log lines so far are written, writes the
 * line it returns to stdout. `signals` are those that stop it (default SIGINT
 * and SIGTERM; a worker of `--workers` leaves SIGINT to its primary).
 */
export async function runUntilStopped<T extends Stoppable>(
  { logger, flush }: CliLogger,
  io: RunIo,
  start: () => Promise<T>,
  started: (service: T) => string,
  name: string,
  signals: readonly ('SIGINT' | 'SIGTERM')[] = ['SIGINT', 'SIGTERM'],
): Promise<number> {
  let service: T;
  try {
    service = await start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: message }, 'cannot start');
    await flush();
    io.stderr.write(`peercache: cannot start: ${message}\n`);
    return 1;
  }
  const ready = started(service);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping && why === 'disconnect') return;
      if (stopping) {
        // No waiting now: the lines still queued are written synchronously as the process exits.
        logger.warn({ signal: why }, 'second signal: exiting now');
        process.exit(128 + (signalNumbers[why] ?? 1));
      }
      stopping = true;
      logger.info({ signal: why }, 'shutting down');
      service
        .close()
        .then(
          () => {
            logger.info({ [name]: ready }, 'stopped');
            return 0;
          },
          (err: unknown) => {
            logger.error(
              { err: err instanceof Error ? err.message : String(err) },
              'shutdown failed',
            );
            return 1;
          },
        )
        // The caller exits the process next: the last lines go out first.
        .then((code) => flush().then(() => resolve(code)));
    };
    for (const signal of signals) process.on(signal, () => stop(signal));
    // Started by `peercache demo` with an IPC channel: stop when the parent goes away.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', () => stop('disconnect'));
    }
    // The ready line follows the start-up log lines (limits, warnings) onto their
    // streams, so whoever waits for it can read them.
    void flush().then(() => {
      if (!stopping) io.stdout.write(`ready ${ready}\n`);
    });
  });
}
