// args.ts: the command-line flags of `peercache node`, `peercache gateway` and
// `peercache demo`, parsed and checked into plain config objects (no side effects).
import { availableParallelism } from 'node:os';
import { isRingKind, type RingKind, ringKinds } from '../ring/owner-ring.js';
import { parsePeerUrl } from '../util/address.js';
import {
  CLUSTER_OPTIONS,
  type EtcdFlags,
  parseEtcd,
  parseSecurity,
  type SecurityConfig,
  type TransportName,
} from './cluster-args.js';
import { DNS_OPTIONS, type DnsFlags, parseDns } from './dns-args.js';
import {
  checked,
  type Env,
  type HostPort,
  hostPort,
  type LogLevel,
  logLevel,
  parseDuration,
  strictParse,
  UsageError,
  wholeNumber,
} from './flags.js';
import {
  API_LIMIT_OPTIONS,
  LIMIT_OPTIONS,
  parseLimits,
  type ServerLimitFlags,
} from './limit-args.js';

export {
  type HostPort,
  LOG_LEVELS,
  type LogLevel,
  parseDuration,
  UsageError,
} from './flags.js';

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

/** NodeConfig is what `peercache node` runs, from {@link parseNodeArgs}. */
export interface NodeConfig extends SecurityConfig {
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
  /** `--ring`: the ring kind; default {@link defaultRing} of the transport. */
  ring: RingKind;
  /** Ring points per peer; default the node's (50). */
  replicas: number | undefined;
  /** Peer URL path prefix; default the node's (`/_groupcache/`). */
  basePath: string | undefined;
  /** Membership from etcd (`--etcd`); default none (the static `peers`). */
  etcd: EtcdFlags | undefined;
  /** Membership from DNS (`--dns`, `--dns-srv`); default none. */
  dns: DnsFlags | undefined;
  /** pino's level; default `info`. */
  logLevel: LogLevel;
  /** `--peer-timeout`: the bound on each peer request, in ms; default the node's (5 s). */
  peerTimeoutMs: number | undefined;
  /** `--peer-health`: whether unresponsive peers are found and avoided; default true. */
  peerHealth: boolean;
  /** The limits of the peer server and the API given as flags; default none (their defaults). */
  limits: ServerLimitFlags;
  /**
   * `--drain-ms`: how long the node keeps serving once it has begun to leave
   * (SIGTERM), in ms; default {@link DEFAULT_DRAIN_MS}.
   */
  drainMs: number;
  /**
   * `--workers N|auto`: processes serving this node (node:cluster), each a member
   * of the ring on `--self`'s port + its index; `auto` is the number of cores.
   * Default 1: this process alone.
   */
  workers: number;
}

/**
 * DEFAULT_DRAIN_MS is the default of `--drain-ms`, the longest drain (it ends
 * once the API has been quiet for 1 s): long enough for a load balancer or
 * Kubernetes polling `/readyz` every second or two to stop sending to a node
 * that is leaving, and for gateways and golang/groupcache peers (which get no
 * leave notice) to learn it from its answers; short enough that, with the 10 s
 * shutdown grace, a node is gone well within Kubernetes' default 30 s
 * termination grace period.
 */
export const DEFAULT_DRAIN_MS = 5_000;

/** GatewayConfig is what `peercache gateway` runs, from {@link parseGatewayArgs}. */
export interface GatewayConfig extends SecurityConfig {
  /** The static member list: all of it with no `--etcd`, the seed until etcd answers with it. */
  peers: string[];
  /** Membership from etcd (`--etcd`, without `leaseTtlSeconds`: a gateway never registers). */
  etcd: EtcdFlags | undefined;
  /** Membership from DNS (`--dns` with `--dns-port`, or `--dns-srv`); default none. */
  dns: DnsFlags | undefined;
  /** Where the API server listens (required). */
  api: HostPort;
  /** The groups' names; default `scores`. A gateway caches nothing: sizes are ignored. */
  groups: string[];
  /** `--ring`: the nodes' ring kind; default {@link defaultRing} of the transport. */
  ring: RingKind;
  /** Ring points per peer; must match the nodes'. Default the node's (50). */
  replicas: number | undefined;
  /** Peer URL path prefix; must match the nodes'. Default `/_groupcache/`. */
  basePath: string | undefined;
  /** pino's level; default `info`. */
  logLevel: LogLevel;
  /** `--peer-timeout`: the bound on each peer request, in ms; default the node's (5 s). */
  peerTimeoutMs: number | undefined;
  /** `--peer-health`: whether unresponsive nodes are found and avoided; default true. */
  peerHealth: boolean;
  /** The API's limits given as flags (`limits.peer` is empty: a gateway serves no peers). */
  limits: ServerLimitFlags;
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

/**
 * Parsed is a command line that asks for help, or for a run with a config
 * (`dryRun`: `--dry-run`, check and print the config instead of running it).
 */
export type Parsed<T> = { help: true } | { help: false; config: T; dryRun?: boolean };

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
  ring: { type: 'string' },
  replicas: { type: 'string' },
  'base-path': { type: 'string' },
  'log-level': { type: 'string' },
  'lease-ttl': { type: 'string' },
  'peer-timeout': { type: 'string' },
  'peer-health': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'drain-ms': { type: 'string' },
  workers: { type: 'string' },
  ...CLUSTER_OPTIONS,
  ...DNS_OPTIONS,
  ...LIMIT_OPTIONS,
} as const;

const gatewayOptions = {
  help: { type: 'boolean', short: 'h' },
  peers: { type: 'string' },
  api: { type: 'string' },
  group: { type: 'string', multiple: true },
  ring: { type: 'string' },
  replicas: { type: 'string' },
  'base-path': { type: 'string' },
  'log-level': { type: 'string' },
  'peer-timeout': { type: 'string' },
  'peer-health': { type: 'string' },
  'dry-run': { type: 'boolean' },
  ...CLUSTER_OPTIONS,
  ...DNS_OPTIONS,
  ...API_LIMIT_OPTIONS,
} as const;

const demoOptions = {
  help: { type: 'boolean', short: 'h' },
  api: { type: 'string' },
  'base-port': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/**
 * parseNodeArgs turns the flags of `peercache node` (without the word `node`)
 * into a {@link NodeConfig}, or `{ help: true }` for `--help`. Secrets not
 * given as flags are read from `env` (`PEERCACHE_PEER_SECRET`,
 * `PEERCACHE_API_TOKEN`, `PEERCACHE_ETCD_PASSWORD`; default: none). Throws
 * UsageError for an unknown flag, a missing value, a stray argument, a missing
 * or malformed `--self`, a bad peer URL, address, size, replica count, base
 * path, log level, transport, etcd endpoint or lease TTL, a repeated group,
 * both `--loader` and `--origin`, TLS flags that do not go together (or do
 * not match the scheme of `--self` and `--peers`), an unusable secret, or a
 * flag that needs another one (`--api-token` without `--api`, `--service`
 * without `--etcd`, ...).
 */
export function parseNodeArgs(
  argv: readonly string[],
  env: Env = {},
  cores: () => number = availableParallelism,
): Parsed<NodeConfig> {
  const { values } = strictParse(argv, nodeOptions);
  if (values.help) return { help: true };
  if (values.self === undefined) throw new UsageError('--self URL is required');
  const self = checked(() => parsePeerUrl(values.self, '--self'));
  const peers = peerList(values.peers);
  if (values.listen !== undefined) hostPort('--listen', values.listen);
  const api = values.api === undefined ? undefined : hostPort('--api', values.api);
  const groups = groupList(values.group).map(parseGroup);
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

  const security = parseSecurity(values, env, 'node', api !== undefined);
  const scheme = new URL(self).protocol;
  const serving = security.tls?.certFile !== undefined;
  if (serving !== (scheme === 'https:')) {
    throw new UsageError(
      serving
        ? `--self must be an https:// URL with --tls-cert, got ${self}`
        : `--self ${self} is https://: give --tls-cert and --tls-key to serve TLS`,
    );
  }
  const stranger = peers.find((p) => new URL(p).protocol !== scheme);
  if (stranger !== undefined) {
    throw new UsageError(
      `--peers must all use the scheme of --self (${scheme}//), got ${stranger}`,
    );
  }
  const etcd = parseEtcd(values, env, security.secretFlags);
  const dns = parseDns(values, false);
  const workers = workerCount(values.workers, self, values.listen, cores);
  // A records name hosts, not ports: the other nodes would see one member per host, on
  // --dns-port, and never a worker on a port after it (which would still think itself
  // a member). SRV records carry a port per worker.
  if (workers > 1 && dns !== undefined && !dns.srv) {
    throw new UsageError(
      '--workers with --dns: the A records give one port per host, so the other workers would not be members; list each worker in SRV records and use --dns-srv',
    );
  }
  return {
    help: false,
    ...(values['dry-run'] ? { dryRun: true } : {}),
    config: {
      self,
      listen: values.listen,
      peers,
      api,
      groups,
      loader,
      ...ringFlags(values, security.transport),
      etcd,
      dns,
      ...security,
      logLevel: logLevel(values['log-level']),
      ...peerHealthFlags(values),
      limits: parseLimits(values, api !== undefined, parseSize),
      drainMs: drainDuration(values['drain-ms']),
      workers,
    },
  };
}

/**
 * drainDuration reads `--drain-ms`: a duration as {@link parseDuration} reads it,
 * or 0 (no drain). Default {@link DEFAULT_DRAIN_MS}.
 */
function drainDuration(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_DRAIN_MS;
  if (/^0+(?:\.0+)?(?:ms|s)?$/.test(raw.trim())) return 0;
  return parseDuration('--drain-ms', raw);
}

/**
 * workerCount reads `--workers N|auto` (`auto`: `cores()`); default 1. With more
 * than one, every worker's peer port (`--self`'s, and `--listen`'s when given,
 * plus the worker's index) must be a fixed port that exists.
 */
function workerCount(
  raw: string | undefined,
  self: string,
  listen: string | undefined,
  cores: () => number,
): number {
  if (raw === undefined) return 1;
  const n = raw === 'auto' ? cores() : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 1024) {
    throw new UsageError(
      `--workers must be auto or a whole number from 1 to 1024, got ${JSON.stringify(raw)}`,
    );
  }
  if (n === 1) return n;
  const selfPort = Number(new URL(self).port);
  const listenPort = listen === undefined ? selfPort : hostPort('--listen', listen).port;
  for (const [flag, port] of [
    ['--self', selfPort],
    ['--listen', listenPort],
  ] as const) {
    if (port === 0 || port + n - 1 > 65535) {
      throw new UsageError(
        `${flag} needs a fixed port with room for ${n} workers (port + 0..${n - 1}), got port ${port}`,
      );
    }
  }
  return n;
}

/**
 * parseGatewayArgs turns the flags of `peercache gateway` into a
 * {@link GatewayConfig}, or `{ help: true }`. It needs `--api` and `--etcd` or
 * `--peers` (or both); secrets not given as flags come from `env`. Throws
 * UsageError on a bad flag or value, as {@link parseNodeArgs} does.
 */
export function parseGatewayArgs(argv: readonly string[], env: Env = {}): Parsed<GatewayConfig> {
  const { values } = strictParse(argv, gatewayOptions);
  if (values.help) return { help: true };
  const peers = peerList(values.peers);
  if (
    values.etcd === undefined &&
    values.dns === undefined &&
    values['dns-srv'] === undefined &&
    peers.length === 0
  ) {
    throw new UsageError(
      'a gateway needs --etcd URL or --peers URL,... (or --dns NAME or --dns-srv NAME) to find the nodes',
    );
  }
  if (values.api === undefined) throw new UsageError('--api HOST:PORT is required');
  const api = hostPort('--api', values.api);
  const groups = groupList(values.group).map((g) => parseGroup(g).name);
  if (groups.length === 0) groups.push(DEFAULT_GROUP.name);
  const security = parseSecurity(values, env, 'gateway', true);
  const etcd = parseEtcd(values, env, security.secretFlags);
  const dns = parseDns(values, true);
  return {
    help: false,
    ...(values['dry-run'] ? { dryRun: true } : {}),
    config: {
      peers,
      etcd,
      dns,
      api,
      groups,
      ...ringFlags(values, security.transport),
      ...security,
      logLevel: logLevel(values['log-level']),
      ...peerHealthFlags(values),
      limits: { peer: {}, api: parseLimits(values, true, parseSize).api },
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
      // At debug each load shows, which node made it being the point of the demo.
      logLevel: logLevel(values['log-level'] ?? 'debug'),
    },
  };
}

function peerList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => checked(() => parsePeerUrl(p, '--peers')));
}

/** groupList checks that no `--group` name is given twice. */
function groupList(raw: string[] | undefined): string[] {
  const seen = new Set<string>();
  for (const g of raw ?? []) {
    const { name } = parseGroup(g);
    if (seen.has(name)) throw new UsageError(`--group ${name} is given twice`);
    seen.add(name);
  }
  return raw ?? [];
}

/**
 * defaultRing is the CLI's ring when `--ring` is not given: `balanced` with the
 * tcp transport, which only peercache speaks, so no Go node can be on the
 * ring; `golang` with http and grpc, where a golang/groupcache node may join.
 */
export function defaultRing(transport: TransportName): RingKind {
  return transport === 'tcp' ? 'balanced' : 'golang';
}

/**
 * ringFlags reads `--ring`, `--replicas` (not with the balanced ring) and
 * `--base-path` (HTTP only), which every node must agree on.
 */
function ringFlags(
  values: {
    ring?: string | undefined;
    replicas?: string | undefined;
    'base-path'?: string | undefined;
  },
  transport: TransportName,
): { ring: RingKind; replicas: number | undefined; basePath: string | undefined } {
  const ring = values.ring ?? defaultRing(transport);
  if (!isRingKind(ring)) {
    throw new UsageError(`--ring must be ${ringKinds.join(', ')}, got ${JSON.stringify(ring)}`);
  }
  const replicas =
    values.replicas === undefined ? undefined : wholeNumber('--replicas', values.replicas, 1);
  if (replicas !== undefined && ring === 'balanced') {
    throw new UsageError(
      '--replicas is for the Go rings (golang, mailgun, groupcache-go), not --ring balanced',
    );
  }
  const basePath = values['base-path'];
  if (basePath !== undefined && (!basePath.startsWith('/') || !basePath.endsWith('/'))) {
    throw new UsageError(
      `--base-path must start and end with '/', got ${JSON.stringify(basePath)}`,
    );
  }
  if (basePath !== undefined && transport !== 'http') {
    throw new UsageError('--base-path is for the http transport only');
  }
  return { ring, replicas, basePath };
}

/** peerHealthFlags reads `--peer-timeout` and `--peer-health on|off` (default on). */
function peerHealthFlags(values: {
  'peer-timeout'?: string | undefined;
  'peer-health'?: string | undefined;
}): { peerTimeoutMs: number | undefined; peerHealth: boolean } {
  const timeout = values['peer-timeout'];
  const health = values['peer-health'] ?? 'on';
  if (health !== 'on' && health !== 'off') {
    throw new UsageError(`--peer-health must be on or off, got ${JSON.stringify(health)}`);
  }
  return {
    peerTimeoutMs: timeout === undefined ? undefined : parseDuration('--peer-timeout', timeout),
    peerHealth: health === 'on',
  };
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
