// lifecycle.ts: how a long-running command lives: a pino logger on stderr, start,
// a `ready` line on stdout, then a graceful stop on SIGINT or SIGTERM.
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
 * createLogger returns the CLI's pino logger: JSON lines on stderr (fd 2),
 * written synchronously so nothing is lost at exit.
 */
export function createLogger(level: LogLevel): PinoLogger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * runUntilStopped starts a service with `start` and runs it until SIGINT or
 * SIGTERM (or, when started with an IPC channel as the demo does, until that
 * channel closes), then closes it and resolves with the exit code: 0 after a
 * clean shutdown, 1 when it could not start (after `peercache: cannot start:
 * <message>` on stderr) or failed to close. A second signal during shutdown
 * exits the process at once (128 + the signal's number). Once started it calls
 * `started` (for logs) and writes the line it returns to stdout.
 */
export async function runUntilStopped<T extends Stoppable>(
  logger: PinoLogger,
  io: RunIo,
  start: () => Promise<T>,
  started: (service: T) => string,
  name: string,
): Promise<number> {
  let service: T;
  try {
    service = await start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: message }, 'cannot start');
    io.stderr.write(`peercache: cannot start: ${message}\n`);
    return 1;
  }
  const ready = started(service);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping && why === 'disconnect') return;
      if (stopping) {
        logger.warn({ signal: why }, 'second signal: exiting now');
        process.exit(128 + (signalNumbers[why] ?? 1));
      }
      stopping = true;
      logger.info({ signal: why }, 'shutting down');
      service.close().then(
        () => {
          logger.info({ [name]: ready }, 'stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error(
            { err: err instanceof Error ? err.message : String(err) },
            'shutdown failed',
          );
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // Started by `peercache demo` with an IPC channel: stop when the parent goes away.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', () => stop('disconnect'));
    }
    io.stdout.write(`ready ${ready}\n`);
  });
}
