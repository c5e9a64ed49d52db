// dry-run.ts: `--dry-run` for `peercache node` and `peercache gateway`: check everything
// a start would check short of binding ports and calling other services (files read,
// TLS checked, the node and its membership built), then print the resolved config as
// JSON with its secrets redacted.

import { X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { noopLogger } from '../core/logger.js';
import { moduleUrl } from '../loaders/module.js';
import { resolveDnsOptions } from '../membership/dns/options.js';
import type { Membership } from '../membership/membership.js';
import { createNode } from '../node/node.js';
import { resolveTls, type TlsOptions } from '../security/tls.js';
import type { GatewayConfig, NodeConfig } from './args.js';
import type { EtcdFlags, SecurityConfig } from './cluster-args.js';
import type { RunIo } from './lifecycle.js';
import { version } from './lifecycle.js';
import {
  dnsOptions,
  gatewayCertificateProblems,
  gatewayNodeOptions,
  isLoopback,
  memberNodeOptions,
  membershipOf,
  readPeerTls,
} from './wiring.js';

/** REDACTED replaces a secret's value in the printed config. */
export const REDACTED = '[redacted]';

/** DryRunReport is what `--dry-run` prints: the command, its resolved config, and its warnings. */
export interface DryRunReport {
  /** command is the command checked. */
  command: 'node' | 'gateway';
  /** version is peercache's. */
  version: string;
  /** membership says where members come from: `static`, `etcd` or `dns`. */
  membership: 'static' | 'etcd' | 'dns';
  /** config is the parsed config (undefined: left to its default), secrets redacted. */
  config: Record<string, unknown>;
  /** warnings are what a start would warn about (a secret on the command line, a certificate). */
  warnings: string[];
}

/**
 * runDryRun runs `check` and prints its report as JSON on stdout (exit 0), or
 * `peercache: <message>` on stderr (exit 2) when the config cannot work.
 */
export async function runDryRun(check: () => Promise<DryRunReport>, io: RunIo): Promise<number> {
  let report: DryRunReport;
  try {
    report = await check();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`peercache: ${message} (dry run)\n`);
    return 2;
  }
  // A value left to its default is undefined in the config: printed as null.
  const json = JSON.stringify(report, (_key, value: unknown) => value ?? null, 2);
  io.stdout.write(`${json}\n`);
  return 0;
}

/** checkNode resolves a node's config: reads its TLS files and loader, builds its node and membership. */
export async function checkNode(config: NodeConfig): Promise<DryRunReport> {
  const warnings = secretWarnings(config.secretFlags);
  const tls = await readPeerTls(config.tls);
  const loader =
    config.loader.kind === 'module'
      ? { ...config.loader, resolved: await resolveModule(config.loader.module) }
      : config.loader;
  await build(config, config.self, (membership) => {
    const node = createNode(memberNodeOptions(config, tls, membership, undefined));
    for (const g of config.groups) {
      node.newGroup(g.name, { cacheBytes: g.cacheBytes, load: async () => null });
    }
    return node;
  });
  // The certificate serves peers (and clients, under --tls-client-auth), as at a start.
  const tlsWarnings = resolveTls(tls)?.warnings ?? [];
  const listen = config.listen ?? new URL(config.self).host;
  if (!guarded(config, 'peer') && !isLoopback(hostOf(listen))) {
    warnings.push('the peer server listens beyond loopback with neither TLS nor a peer secret');
  }
  if (config.api !== undefined && !guarded(config, 'api') && !isLoopback(config.api.host)) {
    warnings.push('the API listens beyond loopback with neither TLS nor a token');
  }
  return {
    command: 'node',
    version: version(),
    membership: membershipKind(config),
    config: {
      ...redact(config),
      loader,
      dns: dnsSummary(config, config.self),
      tls: tlsSummary(config, tls),
    },
    warnings: [...warnings, ...tlsWarnings.map((w) => w.message)],
  };
}

/** checkGateway resolves a gateway's config: reads its TLS files, builds its node and membership. */
export async function checkGateway(config: GatewayConfig): Promise<DryRunReport> {
  const warnings = secretWarnings(config.secretFlags);
  const tls = await readPeerTls(config.tls);
  await build(config, undefined, (membership) => {
    const node = createNode(gatewayNodeOptions(config, tls, membership, undefined));
    if (config.peers.length > 0) node.setPeers(config.peers, 'static');
    for (const name of config.groups) node.newGroup(name, { cacheBytes: 0 });
    return node;
  });
  for (const problem of gatewayCertificateProblems(config, tls)) warnings.push(problem.message);
  if (!guarded(config, 'api') && !isLoopback(config.api.host)) {
    warnings.push('the API listens beyond loopback with neither TLS nor a token');
  }
  return {
    command: 'gateway',
    version: version(),
    membership: membershipKind(config),
    config: {
      ...redact(config),
      dns: dnsSummary(config, undefined),
      tls: tlsSummary(config, tls),
    },
    warnings,
  };
}

/**
 * build makes the membership and the node as a start would (their options are
 * checked as they are built), then closes both: nothing was started, so nothing
 * is asked of etcd or DNS and no port is bound.
 */
async function build(
  config: Pick<NodeConfig, 'etcd' | 'dns' | 'tls'>,
  self: string | undefined,
  makeNode: (membership: Membership | undefined) => { close(): Promise<void> },
): Promise<void> {
  const membership = await membershipOf(config, self, noopLogger, version());
  try {
    const node = makeNode(membership);
    await node.close();
  } finally {
    await membership?.close();
  }
}

function membershipKind(config: { etcd: unknown; dns: unknown }): DryRunReport['membership'] {
  return config.etcd !== undefined ? 'etcd' : config.dns !== undefined ? 'dns' : 'static';
}

/** resolveModule says what `--loader` would import, and checks that a file exists there. */
async function resolveModule(spec: string): Promise<string> {
  const url = moduleUrl(spec);
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    await access(path).catch(() => {
      throw new Error(`--loader ${spec}: no such file ${path}`);
    });
    return path;
  }
  try {
    return import.meta.resolve(url);
  } catch (err) {
    throw new Error(`--loader ${spec}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** dnsSummary is the `--dns` flags with the defaults a start would use filled in. */
function dnsSummary(config: Pick<NodeConfig, 'dns' | 'tls'>, self: string | undefined) {
  const flags = config.dns;
  if (flags === undefined) return undefined;
  const options = dnsOptions(flags, self, config.tls !== undefined);
  const { port, scheme, intervalMs, emptyPolls } = resolveDnsOptions(options);
  return {
    ...flags,
    port: flags.srv ? 'from the SRV records' : port,
    scheme,
    servers: flags.servers ?? 'the system resolvers (/etc/resolv.conf)',
    intervalMs,
    emptyPolls,
  };
}

/** redact copies a config with its secrets replaced by {@link REDACTED}. */
function redact<T extends SecurityConfig & { etcd: EtcdFlags | undefined }>(
  config: T,
): Record<string, unknown> {
  const hide = (v: string | undefined) => (v === undefined ? undefined : REDACTED);
  const { secretFlags: _flags, ...rest } = config;
  return {
    ...rest,
    peerSecret: hide(config.peerSecret),
    apiToken: hide(config.apiToken),
    etcd:
      config.etcd === undefined
        ? undefined
        : { ...config.etcd, password: hide(config.etcd.password) },
  };
}

function guarded(config: SecurityConfig, what: 'peer' | 'api'): boolean {
  return what === 'peer'
    ? config.tls?.certFile !== undefined || config.peerSecret !== undefined
    : config.apiTls || config.apiToken !== undefined;
}

function hostOf(hostPort: string): string {
  return hostPort.replace(/:\d+$/, '');
}

function secretWarnings(flags: readonly string[]): string[] {
  return flags.map((f) => `${f} is given as a flag: every user of this machine can read it (ps)`);
}

/** tlsSummary describes the TLS files read and the certificate's subject and end. */
function tlsSummary(
  config: SecurityConfig,
  tls: TlsOptions | undefined,
): Record<string, unknown> | undefined {
  if (config.tls === undefined) return undefined;
  const leaf = tls?.cert === undefined ? undefined : new X509Certificate(tls.cert);
  return {
    ...config.tls,
    certificate:
      leaf === undefined
        ? undefined
        : {
            subject: leaf.subject.replaceAll('\n', ', '),
            validTo: new Date(leaf.validTo).toISOString(),
          },
  };
}
