// args.ts: the command-line flags of `peercache node` and `peercache demo`, parsed
// and checked into plain config objects (no side effects).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { isCacheError } from '../errors.js';
import { parseHostPort } from '../node/node.js';
import { parsePeerUrl } from '../node/peer-url.js';

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

/** GroupSpec is one `--group NAME[:SIZE]`. */
export interface GroupSpec {
  name: string;
  cacheBytes: number;
}

/** LoaderSpec says where values come from: a module, an HTTP origin, or the demo table. */
export type LoaderSpec =
  | { kind: 'scores' }
  | { kind: 'module'; module: string }
  | { kind: 'origin'; url: string };

/** HostPort is a parsed `HOST:PORT`. */
export interface HostPort {
  host: string;
  port: number;
}

/** NodeConfig is what `peercache node` runs, from {@link parseNodeArgs}. */
export interface NodeConfig {
  /** This node's peer base URL and ring identity. */
  self: string;
  /** Where the peer server binds (`HOST:PORT`); default self's host and port. */
  listen: string | undefined;
  /** The static member list (may include self); default none. */
  peers: string[];
  /** Where the API server listens; default none (no API). */
  api: HostPort | undefined;
  /** The groups; default one group `scores` of 64 MiB. */
  groups: GroupSpec[];
  /** Where values come from; default the demo scores table. */
  loader: LoaderSpec;
  /** Ring points per peer; default the node's (50). */
  replicas: number | undefined;
  /** Peer URL path prefix; default the node's (`/_groupcache/`). */
  basePath: string | undefined;
  /** pino's level; default `info`. */
  logLevel: LogLevel;
}

/** DemoConfig is what `peercache demo` runs, from {@link parseDemoArgs}. */
export interface DemoConfig {
  /** Where the first node's API listens. Default 127.0.0.1:9999. */
  api: HostPort;
  /** The nodes' peer ports are basePort, +1, +2; default: three free ports from the OS. */
  basePort: number | undefined;
  /** The children's log level. Default `info`. */
  logLevel: LogLevel;
}

/** Parsed is a command line that asks for help, or for a run with a config. */
export type Parsed<T> = { help: true } | { help: false; config: T };

/** DEFAULT_GROUP is the group of a node given no `--group`. */
export const DEFAULT_GROUP: Readonly<GroupSpec> = Object.freeze({
  name: 'scores',
  cacheBytes: 64 * 1024 * 1024,
});

const units: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * parseSize reads a byte size: plain bytes (`1048576`), or a number with a unit
 * (case-insensitive): `B`, `KiB`/`MiB`/`GiB` (powers of 1024), `KB`/`MB`/`GB`
 * (powers of 1000), `K`/`M`/`G` (powers of 1024). Fractions round down
 * (`1.5KiB` = 1536). Throws UsageError otherwise.
 */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  const unit = units[m?.[2]?.toLowerCase() ?? 'x'];
  if (!m || unit === undefined) {
    throw new UsageError(
      `bad size ${JSON.stringify(s)} (want e.g. 64MiB, 512KiB, 1GiB, 100MB or bytes)`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`size ${JSON.stringify(s)} is too large`);
  return bytes;
}

/**
 * parseGroup reads `NAME[:SIZE]`, split at the last `:` (so a name with a `:`
 * needs an explicit size). Without a size the group gets 64 MiB.
 */
export function parseGroup(s: string): GroupSpec {
  const colon = s.lastIndexOf(':');
  const name = colon === -1 ? s : s.slice(0, colon);
  if (name === '') throw new UsageError(`bad --group ${JSON.stringify(s)}: empty name`);
  const cacheBytes = colon === -1 ? DEFAULT_GROUP.cacheBytes : parseSize(s.slice(colon + 1));
  return { name, cacheBytes };
}

const nodeOptions = {
  help: { type: 'boolean', short: 'h' },
  self: { type: 'string' },
  listen: { type: 'string' },
  peers: { type: 'string' },
  api: { type: 'string' },
  group: { type: 'string', multiple: true },
  loader: { type: 'string' },
  origin: { type: 'string' },
  replicas: { type: 'string' },
  'base-path': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

const demoOptions = {
  help: { type: 'boolean', short: 'h' },
  api: { type: 'string' },
  'base-port': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/**
 * parseNodeArgs turns the flags of `peercache node` (without the word `node`)
 * into a {@link NodeConfig}, or `{ help: true }` for `--help`. Throws
 * UsageError for an unknown flag, a missing value, a stray argument, a missing
 * or malformed `--self`, a bad peer URL, address, size, replica count, base
 * path or log level, a repeated group, or both `--loader` and `--origin`.
 */
export function parseNodeArgs(argv: readonly string[]): Parsed<NodeConfig> {
  const { values } = strictParse(argv, nodeOptions);
  if (values.help) return { help: true };
  if (values.self === undefined) throw new UsageError('--self URL is required');
  const self = checked(() => parsePeerUrl(values.self, '--self'));
  const peers = (values.peers ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => checked(() => parsePeerUrl(p, '--peers')));
  if (values.listen !== undefined) hostPort('--listen', values.listen);
  const api = values.api === undefined ? undefined : hostPort('--api', values.api);

  const groups = (values.group ?? []).map(parseGroup);
  const seen = new Set<string>();
  for (const g of groups) {
    if (seen.has(g.name)) throw new UsageError(`--group ${g.name} is given twice`);
    seen.add(g.name);
  }
  if (groups.length === 0) groups.push({ ...DEFAULT_GROUP });

  if (values.loader !== undefined && values.origin !== undefined) {
    throw new UsageError('give --loader or --origin, not both');
  }
  let loader: LoaderSpec = { kind: 'scores' };
  if (values.loader !== undefined) {
    if (values.loader === '') throw new UsageError('--loader needs a module');
    loader = { kind: 'module', module: values.loader };
  } else if (values.origin !== undefined) {
    loader = { kind: 'origin', url: originUrl(values.origin) };
  }

  let replicas: number | undefined;
  if (values.replicas !== undefined) {
    replicas = /^\d+$/.test(values.replicas) ? Number(values.replicas) : Number.NaN;
    if (!Number.isSafeInteger(replicas) || replicas < 1) {
      throw new UsageError(
        `--replicas must be a whole number >= 1, got ${JSON.stringify(values.replicas)}`,
      );
    }
  }
  const basePath = values['base-path'];
  if (basePath !== undefined && (!basePath.startsWith('/') || !basePath.endsWith('/'))) {
    throw new UsageError(
      `--base-path must start and end with '/', got ${JSON.stringify(basePath)}`,
    );
  }
  return {
    help: false,
    config: {
      self,
      listen: values.listen,
      peers,
      api,
      groups,
      loader,
      replicas,
      basePath,
      logLevel: logLevel(values['log-level']),
    },
  };
}

/**
 * parseDemoArgs turns the flags of `peercache demo` into a {@link DemoConfig},
 * or `{ help: true }`. Throws UsageError on a bad flag or value.
 */
export function parseDemoArgs(argv: readonly string[]): Parsed<DemoConfig> {
  const { values } = strictParse(argv, demoOptions);
  if (values.help) return { help: true };
  let basePort: number | undefined;
  const raw = values['base-port'];
  if (raw !== undefined) {
    basePort = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(basePort >= 1 && basePort <= 65533)) {
      throw new UsageError(
        `--base-port must be a port from 1 to 65533, got ${JSON.stringify(raw)}`,
      );
    }
  }
  const api = hostPort('--api', values.api ?? '127.0.0.1:9999');
  if (api.port === 0) throw new UsageError('--api needs a fixed port for the demo, not 0');
  return {
    help: false,
    config: {
      api,
      basePort,
      logLevel: logLevel(values['log-level']),
    },
  };
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** strictParse runs util.parseArgs strictly, with short messages for what it rejects. */
function strictParse<O extends Options>(argv: readonly string[], options: O) {
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
function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isCacheError(err)) throw new UsageError(err.message);
    throw err;
  }
}

function hostPort(flag: string, s: string): HostPort {
  return checked(() => {
    try {
      return parseHostPort(s);
    } catch {
      throw new UsageError(`${flag} must look like HOST:PORT, got ${JSON.stringify(s)}`);
    }
  });
}

function originUrl(s: string): string {
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch {
    // reported below
  }
  if (
    !u ||
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    u.search !== '' ||
    u.hash !== ''
  ) {
    throw new UsageError(`--origin must be an http(s) URL without query, got ${JSON.stringify(s)}`);
  }
  return s;
}

function logLevel(s: string | undefined): LogLevel {
  const level = s ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(level)}`,
    );
  }
  return level as LogLevel;
}
