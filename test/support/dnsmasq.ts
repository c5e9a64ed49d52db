// dnsmasq.ts: a real DNS server for integration tests: Debian's dnsmasq-base (installed when
// missing and we are root) on a free loopback port, answering only from files in a
// temporary directory: a hosts file for A/AAAA records (reread on SIGHUP) and a conf
// file for SRV records (read at start only: changing them restarts it).

import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePorts,
  type ManagedProcess,
  type ProcessRegistry,
  startProcess,
  waitFor,
} from './process.js';

/** DNSMASQ is where Debian's dnsmasq package puts the server. */
const DNSMASQ = '/usr/sbin/dnsmasq';

/** DOMAIN is the domain the server answers for alone: names under it never go upstream. */
export const DOMAIN = 'test';

/** SrvRecord is one `--srv-host` record. */
export interface SrvRecord {
  name: string;
  target: string;
  port: number;
}

/** DnsServer is a running (or stopped, restartable) dnsmasq. */
export interface DnsServer {
  /** address is `127.0.0.1:PORT`, for `--dns-server`. */
  readonly address: string;
  /** process is the running process, or undefined while stopped. */
  readonly process: ManagedProcess | undefined;
  /** setHosts replaces the A/AAAA records (`address name` pairs) and makes dnsmasq reread them. */
  setHosts(records: readonly [string, string][]): Promise<void>;
  /** setSrv replaces the SRV records and restarts dnsmasq, which reads them only at start. */
  setSrv(records: readonly SrvRecord[]): Promise<void>;
  /** stop ends dnsmasq (SIGTERM): lookups fail until `start`. */
  stop(): Promise<void>;
  /** start starts dnsmasq again on the same port and files, resolving once it answers. */
  start(): Promise<void>;
  /** close stops dnsmasq and removes its files. */
  close(): Promise<void>;
}

function run(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: 10 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
      (err, _stdout, stderr) =>
        resolve(err ? `${err.message}\n${String(stderr).trim()}` : undefined),
    );
  });
}

let installing: Promise<string | { skip: string }> | undefined;

/**
 * dnsmasqBinary finds dnsmasq, installing Debian's package once per process when it is
 * missing and we are root. It resolves to `{ skip }` when there is no way to get it;
 * under `CI=true` nothing may skip, so it rejects.
 */
export async function dnsmasqBinary(): Promise<string | { skip: string }> {
  installing ??= (async () => {
    if (existsSync(DNSMASQ)) return DNSMASQ;
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
      return {
        skip: 'dnsmasq is not installed and we cannot install it (apt-get install dnsmasq-base)',
      };
    }
    const lock = (args: string[]) => run('flock', ['/tmp/peercache-apt.lock', 'apt-get', ...args]);
    let err = await lock(['install', '-y', '-q', 'dnsmasq-base']);
    if (err !== undefined && !existsSync(DNSMASQ)) {
      await lock(['update', '-q']);
      err = await lock(['install', '-y', '-q', 'dnsmasq-base']);
    }
    return existsSync(DNSMASQ) ? DNSMASQ : { skip: `apt-get install dnsmasq-base failed: ${err}` };
  })();
  const found = await installing;
  if (typeof found !== 'string' && process.env.CI === 'true') throw new Error(found.skip);
  return found;
}

/**
 * startDnsServer starts dnsmasq on 127.0.0.1 on a free port, answering for `*.test`
 * from its own files only (no /etc/hosts, no upstream servers, its pid file in its
 * temporary directory), with `hosts` as its A/AAAA records. The registry stops it at cleanup.
 */
export async function startDnsServer(
  binary: string,
  registry: ProcessRegistry,
  hosts: readonly [string, string][] = [],
): Promise<DnsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'peercache-dnsmasq-'));
  const hostsFile = join(dir, 'hosts');
  const confFile = join(dir, 'srv.conf');
  await writeFile(confFile, '');
  const writeHosts = (records: readonly [string, string][]) =>
    writeFile(hostsFile, records.map(([a, n]) => `${a} ${n}\n`).join(''));
  await writeHosts(hosts);
  let port = 0;
  let proc: ManagedProcess | undefined;

  const spawnOnce = async () => {
    proc = await startProcess(
      binary,
      [
        '--keep-in-foreground',
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--no-poll',
        `--local=/${DOMAIN}/`,
        `--addn-hosts=${hostsFile}`,
        `--conf-file=${confFile}`,
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        '--user=root',
        '--log-facility=-',
      ],
      { registry, timeoutMs: 10_000 },
    );
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    // Up once it answers anything (a name it has no record of: NXDOMAIN).
    await waitFor(
      () =>
        resolver.resolve4(`up.${DOMAIN}`).then(
          () => true,
          (err: { code?: string }) => err.code === 'ENOTFOUND' || err.code === 'ENODATA',
        ),
      { timeoutMs: 10_000, message: 'dnsmasq answering' },
    );
  };

  const firstStart = async () => {
    for (let attempt = 0; ; attempt++) {
      port = (await freePorts(1))[0] ?? 0;
      try {
        await spawnOnce();
        return;
      } catch (err) {
        // Its UDP port may be taken though the TCP one was free: try another.
        if (attempt >= 4) throw err;
      }
    }
  };
  const restart = async () => {
    await proc?.stop();
    proc = undefined;
    await spawnOnce();
  };

  await firstStart();
  return {
    get address() {
      return `127.0.0.1:${port}`;
    },
    get process() {
      return proc;
    },
    async setHosts(records) {
      await writeHosts(records);
      if (proc !== undefined) process.kill(proc.pid, 'SIGHUP');
    },
    async setSrv(records) {
      await writeFile(
        confFile,
        records.map((r) => `srv-host=${r.name},${r.target},${r.port}\n`).join(''),
      );
      await restart();
    },
    async stop() {
      await proc?.stop();
      proc = undefined;
    },
    start: () => spawnOnce(),
    async close() {
      await proc?.stop();
      proc = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
