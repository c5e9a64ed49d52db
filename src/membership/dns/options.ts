// options.ts: the options of DNS membership, their defaults, and the checks that turn a
// bad value into an InvalidArgumentError at construction.
import { isIP } from 'node:net';
import type { Logger } from '../../core/logger.js';
import { noopLogger } from '../../core/logger.js';
import { InvalidArgumentError } from '../../errors.js';
import { parsePeerUrl } from '../../util/address.js';
import { type Clock, systemClock } from '../../util/clock.js';
import type { DnsResolver } from './lookup.js';

/** DnsMembershipOptions configure {@link createDnsMembership}. */
export interface DnsMembershipOptions {
  /**
   * name is the DNS name whose records list the members: with A/AAAA records a
   * Kubernetes headless Service (`peercache.default.svc.cluster.local`) or a
   * Compose service name (`cache`); with `srv`, an SRV name (`_peer._tcp.cache`).
   */
  name: string;
  /**
   * srv reads SRV records instead of A/AAAA: each record's target is resolved to
   * its addresses and paired with the record's port. Default false.
   */
  srv?: boolean | undefined;
  /**
   * port is the peer port of every member found by A/AAAA records. Default: the
   * port of `self`; required without `self`. Not allowed with `srv` (the records carry it).
   */
  port?: number | undefined;
  /** scheme of the peer URLs built from the records. Default: the scheme of `self`, else `http`. */
  scheme?: 'http' | 'https' | undefined;
  /**
   * self is this node's peer URL (`http://<its address>:<port>`, the address as the
   * records give it): always in the member set, whether or not the records list it
   * yet. Absent: a client-only node, which only follows.
   */
  self?: string | undefined;
  /** family says which address records to read: 4 (A), 6 (AAAA) or 0 (both). Default 0. */
  family?: 0 | 4 | 6 | undefined;
  /** intervalMs is the time between two lookups. Default 5000. */
  intervalMs?: number | undefined;
  /**
   * jitter spreads lookups: each pause is `intervalMs` times a random factor in
   * [1 - jitter, 1 + jitter], so nodes started together do not query together. Default 0.2.
   */
  jitter?: number | undefined;
  /**
   * emptyPolls is how many lookups in a row must answer "no such records" before
   * the member set becomes empty (this node only): fewer are taken for a DNS glitch
   * and the last set stays, as for a failed lookup. Default 3.
   */
  emptyPolls?: number | undefined;
  /**
   * servers are the DNS servers to ask, `host` or `host:port` (`[v6]:port`), in
   * order. Default: the system's (`/etc/resolv.conf`).
   */
  servers?: readonly string[] | undefined;
  /** timeoutMs bounds one query to one server before it is retried once. Default 2000. */
  timeoutMs?: number | undefined;
  /** logger gets membership changes and lookup failures (a pino logger fits). Default: silent. */
  logger?: Logger | undefined;
  /** clock drives the polling timer; tests pass a fake one. Default: the system clock. */
  clock?: Clock | undefined;
  /** random gives the jitter, a number in [0, 1). Default Math.random. */
  random?: (() => number) | undefined;
  /** resolver answers the queries instead of node:dns (tests). Default: a node:dns Resolver on `servers`. */
  resolver?: DnsResolver | undefined;
}

/** ResolvedDnsOptions are the options with defaults filled in and values checked. */
export interface ResolvedDnsOptions {
  name: string;
  srv: boolean;
  port: number | undefined;
  scheme: 'http' | 'https';
  self: string | undefined;
  family: 0 | 4 | 6;
  intervalMs: number;
  jitter: number;
  emptyPolls: number;
  servers: string[] | undefined;
  timeoutMs: number;
  logger: Logger;
  clock: Clock;
  random: () => number;
  resolver: DnsResolver | undefined;
}

/** DNS_DEFAULTS are the defaults of the timing options, for docs and the CLI's help. */
export const DNS_DEFAULTS = Object.freeze({
  intervalMs: 5000,
  jitter: 0.2,
  emptyPolls: 3,
  timeoutMs: 2000,
});

const hostLabel = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** checkDnsName checks a DNS name (a trailing dot allowed): labels of letters, digits, `-` and `_`. */
export function checkDnsName(name: unknown, what = 'dns name'): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(`${what} must be a non-empty string`);
  }
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length > 253 || !bare.split('.').every((label) => hostLabel.test(label))) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(name)} is not a DNS name (want e.g. peercache.default.svc.cluster.local)`,
    );
  }
  return name;
}

/**
 * checkDnsServer checks one resolver address: an IP, or an IP and a port
 * (`127.0.0.1:5353`, `[::1]:5353`), as node:dns `setServers` takes it.
 */
export function checkDnsServer(s: unknown): string {
  const bad = () =>
    new InvalidArgumentError(
      `dns server ${JSON.stringify(s)} must be an IP address, optionally with a port (127.0.0.1:5353, [::1]:53)`,
    );
  if (typeof s !== 'string') throw bad();
  if (isIP(s) !== 0) return s;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || isIP(host) === 0 || !(port >= 1 && port <= 65535)) throw bad();
  if (m?.[1] !== undefined && isIP(host) !== 6) throw bad();
  return s;
}

function number(
  value: number | undefined,
  fallback: number,
  what: string,
  min: number,
  max = Number.POSITIVE_INFINITY,
  whole = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (whole && !Number.isInteger(value))
  ) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(
      `${what} must be a ${whole ? 'whole number' : 'number'} ${range}, got ${String(value)}`,
    );
  }
  return value;
}

/** resolveDnsOptions validates `options` and fills in the defaults. */
export function resolveDnsOptions(options: DnsMembershipOptions): ResolvedDnsOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('dns membership options are required');
  }
  const srv = options.srv ?? false;
  const name = checkDnsName(options.name, srv ? 'dns SRV name' : 'dns name');
  const self = options.self === undefined ? undefined : parsePeerUrl(options.self, 'self');
  const selfUrl = self === undefined ? undefined : new URL(self);
  let port: number | undefined;
  if (srv) {
    if (options.port !== undefined) {
      throw new InvalidArgumentError('dns port is for A/AAAA records: SRV records carry the port');
    }
  } else {
    const selfPort =
      selfUrl === undefined
        ? undefined
        : Number(selfUrl.port || (selfUrl.protocol === 'https:' ? 443 : 80));
    port = number(options.port ?? selfPort, Number.NaN, 'dns port', 1, 65535, true);
    if (Number.isNaN(port)) {
      throw new InvalidArgumentError(
        'dns port is required without self (the peer port of the members)',
      );
    }
  }
  const scheme = options.scheme ?? (selfUrl?.protocol === 'https:' ? 'https' : 'http');
  if (scheme !== 'http' && scheme !== 'https') {
    throw new InvalidArgumentError(`dns scheme must be http or https, got ${String(scheme)}`);
  }
  if (selfUrl !== undefined && selfUrl.protocol !== `${scheme}:`) {
    throw new InvalidArgumentError(`dns scheme ${scheme} differs from self's (${self})`);
  }
  const family = options.family ?? 0;
  if (family !== 0 && family !== 4 && family !== 6) {
    throw new InvalidArgumentError(`dns family must be 0, 4 or 6, got ${String(family)}`);
  }
  let servers: string[] | undefined;
  if (options.servers !== undefined) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new InvalidArgumentError('dns servers must list at least one address');
    }
    servers = options.servers.map(checkDnsServer);
  }
  return {
    name,
    srv,
    port,
    scheme,
    self,
    family,
    intervalMs: number(options.intervalMs, DNS_DEFAULTS.intervalMs, 'dns intervalMs', 1),
    jitter: number(options.jitter, DNS_DEFAULTS.jitter, 'dns jitter', 0, 1),
    emptyPolls: number(options.emptyPolls, DNS_DEFAULTS.emptyPolls, 'dns emptyPolls', 1, 1e6, true),
    servers,
    timeoutMs: number(options.timeoutMs, DNS_DEFAULTS.timeoutMs, 'dns timeoutMs', 1),
    logger: options.logger ?? noopLogger,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    resolver: options.resolver,
  };
}
