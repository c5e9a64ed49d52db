// flags.ts: the building blocks of flag parsing shared by every command: strict
// parsing with short messages, UsageError, and checks of addresses and levels.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { isCacheError } from '../errors.js';
import { parseHostPort } from '../util/address.js';

/** UsageError is a bad command line: main prints `peercache: <message>` and exits 2. */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError';
  }
}

/** LOG_LEVELS are the values `--log-level` accepts (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** LogLevel is one of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** HostPort is a parsed `HOST:PORT`. */
export interface HostPort {
  host: string;
  port: number;
}

/** Env is the environment a command reads its secrets from (`process.env` in the CLI). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Options is util.parseArgs's option table. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** StrictParsed is what {@link strictParse} returns for the option table `O`. */
export type StrictParsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>;

/** strictParse runs util.parseArgs strictly, with short messages for what it rejects. */
export function strictParse<O extends Options>(
  argv: readonly string[],
  options: O,
): StrictParsed<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
    switch (code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown flag ${quoted}`);
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`unexpected argument ${JSON.stringify(quoted)}`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
        const flag = /^(--?[\w-]+)/.exec(quoted.split(', ').pop() ?? '')?.[1] ?? quoted;
        throw new UsageError(
          /argument missing|ambiguous/.test(message)
            ? `${flag} needs a value`
            : `${flag} takes no value`,
        );
      }
      default:
        throw new UsageError(message.split('\n')[0] ?? 'bad arguments');
    }
  }
}

/** checked runs a validation and turns its InvalidArgumentError into a UsageError. */
export function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isCacheError(err)) throw new UsageError(err.message);
    throw err;
  }
}

/** hostPort parses the `HOST:PORT` value of `flag`, or throws a UsageError naming it. */
export function hostPort(flag: string, s: string): HostPort {
  try {
    return parseHostPort(s);
  } catch {
    throw new UsageError(`${flag} must look like HOST:PORT, got ${JSON.stringify(s)}`);
  }
}

/** logLevel checks `--log-level` (default `info`). */
export function logLevel(s: string | undefined): LogLevel {
  const level = s ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(level)}`,
    );
  }
  return level as LogLevel;
}

/** wholeNumber reads a decimal whole number >= `min` for `flag`, or throws a UsageError. */
export function wholeNumber(flag: string, s: string, min: number): number {
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be a whole number >= ${min}, got ${JSON.stringify(s)}`);
  }
  return n;
}

/**
 * parseDuration reads a duration in ms for `flag`: plain milliseconds (`500`),
 * or a number with `ms` or `s` (`250ms`, `2s`, `1.5s`); it must be at least 1 ms.
 * Throws UsageError otherwise.
 */
export function parseDuration(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(s.trim());
  const ms = m ? Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1)) : Number.NaN;
  if (!(ms >= 1) || !Number.isSafeInteger(ms)) {
    throw new UsageError(
      `${flag} must be a duration of at least 1ms (e.g. 500ms, 2s, or milliseconds), got ${JSON.stringify(s)}`,
    );
  }
  return ms;
}
