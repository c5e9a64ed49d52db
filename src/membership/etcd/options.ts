// options.ts: the options of the etcd membership, their defaults, and the checks
// that turn a bad value into an InvalidArgumentError at construction.
import type { Logger } from '../../core/logger.js';
import { noopLogger } from '../../core/logger.js';
import { InvalidArgumentError } from '../../errors.js';
import { type ResolvedTls, resolveTls, type TlsOptions } from '../../security/tls.js';
import { parsePeerUrl } from '../../util/address.js';
import { type Clock, systemClock } from '../../util/clock.js';

/**
 * EtcdTlsOptions are the PEM texts of a TLS connection to etcd (`https://`
 * endpoints), checked as the peers' {@link TlsOptions} are: `ca` is the CA
 * bundle that signed etcd's certificate (default: the system's roots), `cert`
 * and `key` are this client's certificate and key, for etcd's
 * `--client-cert-auth` (both or neither; default none).
 */
export type EtcdTlsOptions = Pick<TlsOptions, 'ca' | 'cert' | 'key'>;

/** EtcdTimingOptions tune the session loop's timers; tests shorten them. */
export interface EtcdTimingOptions {
  /** retryMinMs is the first pause after a failed call to etcd. Default 100. */
  retryMinMs?: number | undefined;
  /**
   * retryMaxMs caps the pause between retries (doubling from `retryMinMs`, with
   * jitter), so a node re-registers at most this long after etcd answers again.
   * Default 2000.
   */
  retryMaxMs?: number | undefined;
  /** keepaliveIntervalMs is the pause between lease keepalives. Default: a third of the granted TTL. */
  keepaliveIntervalMs?: number | undefined;
  /** requestTimeoutMs is the deadline of each call to etcd. Default 5000. */
  requestTimeoutMs?: number | undefined;
  /**
   * coalesceMs is how long changes are gathered before the whole set is applied,
   * so a burst of events makes one update. Default 50.
   */
  coalesceMs?: number | undefined;
}

/** EtcdMembershipOptions configure {@link createEtcdMembership}. */
export interface EtcdMembershipOptions {
  /**
   * endpoints are etcd's client URLs, `http://host[:port]` or `https://...`
   * (port default 2379): an array, or one string with commas between URLs.
   * Calls go to one at a time; an unreachable one passes the turn to the next.
   */
  endpoints: readonly string[] | string;
  /**
   * self is the peer URL this node registers (its ring identity). Absent: the
   * membership only watches, as a gateway or client-only node does.
   */
  self?: string | undefined;
  /** service names the cluster; nodes of one service see each other. Default `peercache`. */
  service?: string | undefined;
  /** prefix is where the service's keys live in etcd (a trailing `/` is dropped). Default `/peercache`. */
  prefix?: string | undefined;
  /**
   * leaseTtlSeconds is the registration lease's time to live: a node that stops
   * without revoking it (SIGKILL, a lost host) leaves the others' rings this
   * long after its last keepalive. etcd may raise it to its minimum. Default 10.
   */
  leaseTtlSeconds?: number | undefined;
  /** username for etcd's authentication; give `password` with it. Default: none. */
  username?: string | undefined;
  /** password of `username`. */
  password?: string | undefined;
  /** tls configures `https://` endpoints (CA, client certificate and key). Default: system roots. */
  tls?: EtcdTlsOptions | undefined;
  /** logger gets membership changes, lease and connection events (a pino logger fits). Default: silent. */
  logger?: Logger | undefined;
  /**
   * failFast makes `start()` reject when etcd cannot be reached at first. Default
   * false: log, keep retrying, and join once etcd answers.
   */
  failFast?: boolean | undefined;
  /**
   * metadata is stored in the node's value next to `url`, `startedAt` and `pid`
   * (e.g. `{ version: '1.2.0' }`); informational, never read back. Default: none.
   */
  metadata?: Readonly<Record<string, unknown>> | undefined;
  /** timing tunes retries, keepalives, deadlines and coalescing. Defaults suit production. */
  timing?: EtcdTimingOptions | undefined;
  /**
   * clock drives the session's timers (retries, keepalives, coalescing) and its
   * view of when the lease runs out; give it the node's. Calls to etcd keep
   * their real deadlines. Default {@link systemClock}.
   */
  clock?: Clock | undefined;
}

/** EtcdEndpoint is one parsed endpoint. */
export interface EtcdEndpoint {
  /** url is the endpoint as given, for logs and status. */
  url: string;
  /** target is grpc's `host:port` (`[v6]:port` for IPv6). */
  target: string;
  /** secure says whether it is `https://`. */
  secure: boolean;
}

/** ResolvedEtcdOptions are the options with defaults filled in and values checked. */
export interface ResolvedEtcdOptions {
  endpoints: EtcdEndpoint[];
  self: string | undefined;
  service: string;
  prefix: string;
  leaseTtlSeconds: number;
  auth: { username: string; password: string } | undefined;
  tls: ResolvedTls | undefined;
  logger: Logger;
  failFast: boolean;
  metadata: Readonly<Record<string, unknown>>;
  retryMinMs: number;
  retryMaxMs: number;
  keepaliveIntervalMs: number | undefined;
  requestTimeoutMs: number;
  coalesceMs: number;
  clock: Clock;
}

/** parseEtcdEndpoint checks one endpoint URL: `http(s)://host[:port]`, nothing more. */
export function parseEtcdEndpoint(s: string): EtcdEndpoint {
  const bad = (why: string) =>
    new InvalidArgumentError(
      `etcd endpoint ${JSON.stringify(s)} ${why} (want http://host:port or https://host:port)`,
    );
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw bad('is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('has an unsupported scheme');
  if (u.hostname === '') throw bad('has no host');
  if (u.username !== '' || u.password !== '') {
    throw bad('holds credentials; give username and password instead');
  }
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '') throw bad('has a path or query');
  const port = u.port === '' ? '2379' : u.port;
  return { url: s, target: `${u.hostname}:${port}`, secure: u.protocol === 'https:' };
}

function positive(value: number | undefined, fallback: number, what: string, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`${what} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** resolveEtcdOptions validates `options` and fills in the defaults. */
export function resolveEtcdOptions(options: EtcdMembershipOptions): ResolvedEtcdOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('etcd membership options are required');
  }
  const raw = options.endpoints;
  const list =
    typeof raw === 'string'
      ? raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : raw;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidArgumentError('etcd endpoints must list at least one URL');
  }
  const endpoints = list.map((s: unknown) => {
    if (typeof s !== 'string') throw new InvalidArgumentError('etcd endpoints must be strings');
    return parseEtcdEndpoint(s.trim());
  });
  const self = options.self === undefined ? undefined : parsePeerUrl(options.self, 'self');
  const service = options.service ?? 'peercache';
  if (typeof service !== 'string' || service === '' || service.includes('/')) {
    throw new InvalidArgumentError(
      `etcd service must be a non-empty name without "/", got ${JSON.stringify(service)}`,
    );
  }
  const prefix = options.prefix ?? '/peercache';
  if (typeof prefix !== 'string') throw new InvalidArgumentError('etcd prefix must be a string');
  const ttl = options.leaseTtlSeconds ?? 10;
  if (!Number.isInteger(ttl) || ttl < 1) {
    throw new InvalidArgumentError(
      `lease TTL must be a whole number of seconds >= 1, got ${String(ttl)}`,
    );
  }
  const { username, password } = options;
  if ((username === undefined) !== (password === undefined)) {
    throw new InvalidArgumentError('etcd username and password go together: give both or neither');
  }
  if (username !== undefined && (typeof username !== 'string' || username === '')) {
    throw new InvalidArgumentError('etcd username must be a non-empty string');
  }
  let tls: ResolvedTls | undefined;
  if (options.tls !== undefined) {
    const plain = endpoints.find((e) => !e.secure);
    if (plain) {
      throw new InvalidArgumentError(
        `tls is set but etcd endpoint ${plain.url} is not https://: use https:// endpoints`,
      );
    }
    if ((options.tls.cert === undefined) !== (options.tls.key === undefined)) {
      throw new InvalidArgumentError('tls cert and key go together: give both or neither');
    }
    const { ca, cert, key } = options.tls;
    tls = resolveTls({ ca, cert, key });
  }
  const timing = options.timing ?? {};
  const retryMinMs = positive(timing.retryMinMs, 100, 'timing.retryMinMs', 1);
  const retryMaxMs = positive(timing.retryMaxMs, 2000, 'timing.retryMaxMs', retryMinMs);
  return {
    endpoints,
    self,
    service,
    prefix: prefix.replace(/\/+$/, ''),
    leaseTtlSeconds: ttl,
    auth:
      username === undefined ? undefined : { username, password: String(options.password ?? '') },
    tls,
    logger: options.logger ?? noopLogger,
    clock: checkClock(options.clock),
    failFast: options.failFast ?? false,
    metadata: options.metadata ?? {},
    retryMinMs,
    retryMaxMs,
    keepaliveIntervalMs:
      timing.keepaliveIntervalMs === undefined
        ? undefined
        : positive(timing.keepaliveIntervalMs, 0, 'timing.keepaliveIntervalMs', 1),
    requestTimeoutMs: positive(timing.requestTimeoutMs, 5000, 'timing.requestTimeoutMs', 1),
    coalesceMs: positive(timing.coalesceMs, 50, 'timing.coalesceMs'),
  };
}

/** checkClock returns `clock`, or the system clock when it is absent; a non-clock is an InvalidArgumentError. */
function checkClock(clock: Clock | undefined): Clock {
  if (clock === undefined) return systemClock;
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new InvalidArgumentError('etcd clock must have now, setTimeout and clearTimeout');
  }
  return clock;
}
