// wiring.ts: what `peercache node` and `peercache gateway` build alike from their
// flags: TLS from files, the peer transport, etcd or DNS membership, and the start-up
// warnings about open doors and secrets on the command line.
import { isIPv4 } from 'node:net';
import type { Logger } from '../core/logger.js';
import { createDnsMembership, type DnsMembershipOptions } from '../membership/dns/index.js';
import { createEtcdMembership } from '../membership/etcd/index.js';
import type { EtcdTlsOptions } from '../membership/etcd/options.js';
import type { Membership } from '../membership/membership.js';
import type { NodeOptions } from '../node/node.js';
import type { RingKind } from '../ring/owner-ring.js';
import { type CertificateProblem, checkCertificate } from '../security/cert-check.js';
import { readFiles, readTlsFiles, type TlsOptions } from '../security/tls.js';
import { grpcTransport } from '../transport/grpc/index.js';
import type { HttpDialect } from '../transport/http/dialect.js';
import { httpTransport } from '../transport/http/transport.js';
import { tcpTransport } from '../transport/tcp/index.js';
import type { ServerLimitOptions } from '../util/server-limits.js';
import type { GatewayConfig, NodeConfig } from './args.js';
import {
  API_TOKEN_ENV,
  ETCD_PASSWORD_ENV,
  type EtcdFlags,
  PEER_SECRET_ENV,
  type SecurityConfig,
  type TlsFlags,
} from './cluster-args.js';
import type { DnsFlags } from './dns-args.js';

/** readPeerTls reads the `--tls-*` files into TlsOptions (checked), or undefined without them. */
export async function readPeerTls(flags: TlsFlags | undefined): Promise<TlsOptions | undefined> {
  if (flags === undefined) return undefined;
  return readTlsFiles(flags);
}

/**
 * dialectOf is the HTTP dialect of a ring kind: a cluster that places keys as a Go lineage
 * does speaks that lineage's HTTP too; the balanced ring (peercache only) speaks golang's.
 */
function dialectOf(ring: RingKind | undefined): HttpDialect {
  return ring === 'mailgun' || ring === 'groupcache-go' ? ring : 'golang';
}

/**
 * peerOptions are the createNode options of the peer protocol: the transport
 * `--transport` names, built with `tls`, the peer secret and the peer server's
 * `limits` (and `--base-path`, for HTTP).
 */
export function peerOptions(
  config: Pick<SecurityConfig, 'transport' | 'peerSecret'> & {
    basePath?: string | undefined;
    ring?: RingKind | undefined;
  },
  tls: TlsOptions | undefined,
  limits: ServerLimitOptions = {},
  logger?: Logger,
): Pick<NodeOptions, 'transport'> {
  const { peerSecret } = config;
  switch (config.transport) {
    case 'grpc':
      return { transport: grpcTransport({ tls, peerSecret, ...limits }) };
    case 'tcp':
      // The tcp client logs what it does to a peer's connection (a reset, a malformed answer).
      return { transport: tcpTransport({ tls, peerSecret, ...limits, logger }) };
    default:
      return {
        transport: httpTransport({
          tls,
          peerSecret,
          basePath: config.basePath,
          dialect: dialectOf(config.ring),
          ...limits,
        }),
      };
  }
}

/**
 * peerHealthOptions are the createNode options of `--peer-timeout` and
 * `--peer-health`: the request bound, and health tracking on (the node's
 * defaults) or off.
 */
export function peerHealthOptions(config: {
  peerTimeoutMs: number | undefined;
  peerHealth: boolean;
}): Pick<NodeOptions, 'peerTimeoutMs' | 'peerHealth'> {
  return {
    peerTimeoutMs: config.peerTimeoutMs,
    peerHealth: config.peerHealth ? undefined : { enabled: false },
  };
}

/** apiTlsOf is the API server's TLS: the peer certificate and key with `--api-tls`, else none. */
export function apiTlsOf(
  config: Pick<SecurityConfig, 'apiTls'>,
  tls: TlsOptions | undefined,
): TlsOptions | undefined {
  if (!config.apiTls || tls?.cert === undefined) return undefined;
  return { cert: tls.cert, key: tls.key };
}

/**
 * etcdMembership builds the etcd membership of `flags`, reading its TLS files.
 * With `self` the node registers; without (a gateway) it only watches.
 */
export async function etcdMembership(
  flags: EtcdFlags,
  self: string | undefined,
  logger: Logger,
  version: string,
): Promise<Membership> {
  let tls: EtcdTlsOptions | undefined;
  if (flags.tls !== undefined) {
    const [ca, cert, key] = await readFiles([
      flags.tls.caFile,
      flags.tls.certFile,
      flags.tls.keyFile,
    ]);
    tls = { ca, cert, key };
  }
  return createEtcdMembership({
    endpoints: flags.endpoints,
    self,
    service: flags.service,
    prefix: flags.prefix,
    leaseTtlSeconds: flags.leaseTtlSeconds,
    username: flags.username,
    password: flags.password,
    tls,
    logger,
    failFast: flags.failFast,
    metadata: { version },
  });
}

/**
 * dnsMembership builds the DNS membership of `flags`. A node gives its `self`
 * (always a member; its port is the default `--dns-port`, its scheme the
 * members'); a gateway gives none, and the members' scheme is `https` when it
 * has TLS flags.
 */
export function dnsMembership(
  flags: DnsFlags,
  self: string | undefined,
  tls: boolean,
  logger: Logger,
): Membership {
  return createDnsMembership({ ...dnsOptions(flags, self, tls), logger });
}

/** dnsOptions are the DNS membership options of `flags` (see {@link dnsMembership}). */
export function dnsOptions(
  flags: DnsFlags,
  self: string | undefined,
  tls: boolean,
): DnsMembershipOptions {
  return {
    name: flags.name,
    srv: flags.srv,
    port: flags.port,
    self,
    scheme: self === undefined ? (tls ? 'https' : 'http') : undefined,
    servers: flags.servers,
    intervalMs: flags.intervalMs,
  };
}

/**
 * membershipOf builds the membership the flags ask for: etcd, DNS, or none (the
 * static `--peers`). A node gives its `self`; a gateway gives none (it only follows).
 */
export async function membershipOf(
  config: Pick<NodeConfig, 'etcd' | 'dns' | 'tls'>,
  self: string | undefined,
  logger: Logger,
  version: string,
): Promise<Membership | undefined> {
  if (config.etcd !== undefined) return etcdMembership(config.etcd, self, logger, version);
  if (config.dns !== undefined) {
    return dnsMembership(config.dns, self, config.tls !== undefined, logger);
  }
  return undefined;
}

/** memberNodeOptions are the createNode options of `peercache node`. */
export function memberNodeOptions(
  config: NodeConfig,
  tls: TlsOptions | undefined,
  membership: Membership | undefined,
  logger: Logger | undefined,
): NodeOptions {
  return {
    self: config.self,
    peers: config.peers,
    listen: config.listen,
    ring: config.ring,
    // The drain is the CLI's own (./drain.ts): it ends once the API has gone quiet.
    drainMs: 0,
    replicas: config.replicas,
    membership,
    ...peerOptions(config, tls, config.limits.peer, logger),
    ...peerHealthOptions(config),
    logger,
  };
}

/**
 * gatewayNodeOptions are the createNode options of `peercache gateway`: a
 * client-only node (`member: false`), never on a ring.
 */
export function gatewayNodeOptions(
  config: GatewayConfig,
  tls: TlsOptions | undefined,
  membership: Membership | undefined,
  logger: Logger | undefined,
): NodeOptions {
  return {
    member: false,
    membership,
    ring: config.ring,
    replicas: config.replicas,
    ...peerOptions(config, tls, {}, logger),
    ...peerHealthOptions(config),
    logger,
  };
}

/**
 * gatewayCertificateProblems checks a gateway's certificate as what it is: a
 * client's (and the API's, with `--api-tls`), never a peer server's.
 */
export function gatewayCertificateProblems(
  config: Pick<GatewayConfig, 'apiTls'>,
  tls: TlsOptions | undefined,
): CertificateProblem[] {
  if (tls?.cert === undefined || tls.key === undefined) return [];
  return checkCertificate(
    { cert: tls.cert, key: tls.key, ca: tls.ca },
    { clientAuth: true, serverAuth: config.apiTls },
  );
}

/**
 * isLoopback says whether a listening address is reachable from this machine
 * only: 127.0.0.0/8, ::1 (also IPv4-mapped), or `localhost`.
 */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (a === 'localhost' || a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** Door is one listening server, for {@link warnOpenDoors}. */
export interface Door {
  /** what names it in the warning: `peer server` or `API`. */
  what: 'peer server' | 'API';
  /** address is the bound address (an IP) and port. */
  address: { address: string; port: number };
  /** guarded says whether TLS or a secret/token protects it. */
  guarded: boolean;
}

/**
 * warnOpenDoors logs one warning per server that listens beyond loopback with
 * neither TLS nor a secret (peers) or token (API): anyone who can reach it may
 * use it. Returns how many it logged.
 */
export function warnOpenDoors(logger: Logger, doors: readonly Door[]): number {
  let count = 0;
  for (const door of doors) {
    if (door.guarded || isLoopback(door.address.address)) continue;
    count++;
    const listen = `${door.address.address}:${door.address.port}`;
    if (door.what === 'peer server') {
      logger.warn(
        { listen, fix: '--peer-secret (or PEERCACHE_PEER_SECRET) or --tls-cert/--tls-key' },
        'the peer server listens beyond loopback with neither TLS nor a peer secret: anyone who can reach it can read, overwrite and remove cached values',
      );
    } else {
      logger.warn(
        { listen, fix: '--api-token (or PEERCACHE_API_TOKEN) or --api-tls' },
        'the API listens beyond loopback with neither TLS nor a token: anyone who can reach it can read, overwrite and remove cached values',
      );
    }
  }
  return count;
}

const envOf: Record<string, string> = {
  '--peer-secret': PEER_SECRET_ENV,
  '--api-token': API_TOKEN_ENV,
  '--etcd-password': ETCD_PASSWORD_ENV,
};

/** warnSecretFlags logs one warning per secret given as a flag (visible to `ps`). */
export function warnSecretFlags(logger: Logger, flags: readonly string[]): void {
  for (const flag of flags) {
    logger.warn(
      { flag, env: envOf[flag] },
      'a secret given as a flag is visible to every user of this machine (ps, /proc): prefer the environment variable',
    );
  }
}
