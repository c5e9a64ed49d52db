// netns.ts: a small network of Linux network namespaces for fault tests: hosts joined to
// the root namespace through a switch (a bridge in a namespace of its own), processes run
// inside a host, and a silent cut of one host's link that can be healed.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  type AfterHook,
  type ManagedProcess,
  type StartProcessOptions,
  startProcess,
} from './process.js';

/**
 * NETNS_PREFIX starts the name of every namespace and link a lab makes:
 * `pcn<pid>x<tag>-...` for namespaces, `pcn<pid>x<tag>r` for the root side of the
 * uplink. The pid is the test process's, so a sweep can tell a dead run's leftovers
 * from a live one's.
 */
export const NETNS_PREFIX = 'pcn';

const STALE = /^pcn(\d+)x[0-9a-z]+/;
const SUBNET = '10.231';
const COMMAND_TIMEOUT_MS = 15_000;

/** NetnsSupport is `true` when labs can be made here, or why they cannot. */
export type NetnsSupport = true | { skip: string };

/** run runs a command to its end and resolves with its stdout; it rejects with its stderr. */
function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (input === undefined) {
      execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout));
      });
      return;
    }
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || `exit ${code ?? signal}`}`));
    });
    child.stdin.end(input);
  });
}

/** which finds a binary in the usual system directories. */
function which(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/** alive says whether a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** namespaces lists the names of the network namespaces `ip netns` knows. */
async function namespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/** rootLinks lists the names of the root namespace's network interfaces. */
async function rootLinks(): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show']);
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m) names.push(m[1]!);
  }
  return names;
}

/**
 * netnsSupport says whether this process can make labs: it must be root, have `ip`
 * and `nft`, and be allowed to create a network namespace (tried once). Under
 * `CI=true` nothing may skip: it rejects with the reason instead.
 */
export async function netnsSupport(): Promise<NetnsSupport> {
  const result = await probe();
  if (result !== true && process.env.CI === 'true') throw new Error(result.skip);
  return result;
}

async function probe(): Promise<NetnsSupport> {
  if (process.platform !== 'linux') return { skip: 'network namespaces need Linux' };
  if (process.getuid?.() !== 0) return { skip: 'network namespaces need root (ip netns add)' };
  if (which('ip') === undefined) return { skip: 'no ip command (apt-get install iproute2)' };
  if (which('nft') === undefined) return { skip: 'no nft command (apt-get install nftables)' };
  const name = `${NETNS_PREFIX}${process.pid}xprobe`;
  try {
    await run('ip', ['netns', 'add', name]);
  } catch (err) {
    return { skip: `cannot create a network namespace: ${(err as Error).message}` };
  }
  try {
    await run('ip', ['netns', 'exec', name, 'nft', 'list', 'ruleset']);
  } catch (err) {
    return { skip: `nft does not work in a network namespace: ${(err as Error).message}` };
  } finally {
    await run('ip', ['netns', 'del', name]).catch(() => {});
  }
  return true;
}

/**
 * sweepStaleNetns removes what labs of test processes that no longer run left
 * behind (a run killed before its cleanup): it SIGKILLs the processes still inside
 * their namespaces (by the pids `ip netns pids` lists), deletes the namespaces and
 * the root-side links. Names without our prefix, and labs of live processes, are
 * never touched. Resolves with the names removed.
 */
export async function sweepStaleNetns(): Promise<string[]> {
  const removed: string[] = [];
  const stale = (name: string) => {
    const m = STALE.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  for (const ns of (await namespaces()).filter(stale)) {
    const pids = await run('ip', ['netns', 'pids', ns]).catch(() => '');
    for (const pid of pids.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await run('ip', ['netns', 'del', ns]).catch(() => {});
    removed.push(ns);
  }
  for (const link of (await rootLinks()).filter(stale)) {
    await run('ip', ['link', 'del', link]).catch(() => {});
    removed.push(link);
  }
  return removed;
}

/** freeSubnet picks a third octet for 10.231.N.0/24 that no root interface uses yet. */
async function freeSubnet(): Promise<number> {
  const out = await run('ip', ['-4', '-o', 'addr', 'show']);
  const used = new Set<number>();
  for (const m of out.matchAll(/inet 10\.231\.(\d+)\./g)) used.add(Number(m[1]));
  const start = process.pid % 200;
  for (let i = 0; i < 250; i++) {
    const n = 1 + ((start + i) % 250);
    if (!used.has(n)) return n;
  }
  throw new Error('no free 10.231.N.0/24 subnet for a lab');
}

/** NetnsHost is one host of a lab: a network namespace with one link to the switch. */
export interface NetnsHost {
  /** NetnsHost.index is its number in the lab, from 1. */
  readonly index: number;
  /** NetnsHost.namespace is the network namespace's name (for `ip netns exec`). */
  readonly namespace: string;
  /** NetnsHost.address is its IPv4 address, e.g. `10.231.7.11`. */
  readonly address: string;
  /** NetnsHost.isCut says whether its link is cut now. */
  readonly isCut: boolean;
  /**
   * NetnsHost.start runs `cmd args` inside the namespace (`ip netns exec`, which
   * becomes the command: the process's pid is the command's) with {@link startProcess}.
   */
  start(
    cmd: string,
    args: readonly string[],
    options?: StartProcessOptions,
  ): Promise<ManagedProcess>;
  /**
   * NetnsHost.cut silently drops every IP packet to and from this host at the switch,
   * as a failed link does: no reset, no ICMP, nothing its peers or the host itself can
   * tell from a slow network. Its own loopback keeps working. Idempotent.
   */
  cut(): Promise<void>;
  /** NetnsHost.heal restores the link after {@link NetnsHost.cut}. Idempotent. */
  heal(): Promise<void>;
}

/** NetnsLab is a set of hosts in network namespaces, joined to the root namespace. */
export interface NetnsLab {
  /** NetnsLab.prefix starts the name of each of its namespaces and links. */
  readonly prefix: string;
  /** NetnsLab.rootAddress is the root namespace's address on the lab's network (`10.231.N.1`). */
  readonly rootAddress: string;
  /** NetnsLab.hosts are its hosts, `hosts[i].index === i + 1`. */
  readonly hosts: readonly NetnsHost[];
  /**
   * NetnsLab.close deletes the namespaces and links (stop the processes started in
   * them first). Idempotent.
   */
  close(): Promise<void>;
}

/** CreateNetnsLabOptions configure {@link createNetnsLab}. */
export interface CreateNetnsLabOptions {
  /** The number of hosts. Default 3. */
  hosts?: number;
  /**
   * cleanup gets the lab's `close`, e.g. a node:test context or a `suiteCleanup()`.
   * Default: none (call `close`). The lab is also removed, synchronously, when this
   * process exits.
   */
  cleanup?: AfterHook;
}

/**
 * createNetnsLab makes `hosts` network namespaces, each with `lo` up and one veth link
 * (`eth0`, address `10.231.N.(10 + i)/24`) to a bridge that lives in a namespace of its
 * own (the switch, `<prefix>-sw`), and one more link from the switch to the root
 * namespace (`10.231.N.1`), where the test runs. N is a /24 no root interface uses.
 * Keeping the bridge out of the root namespace keeps the root's firewall (e.g. a
 * FORWARD policy of DROP with br_netfilter) out of the hosts' traffic, and lets a cut
 * be a rule in the switch. Stale labs of dead test processes are swept first. Check
 * {@link netnsSupport} before calling it.
 */
export async function createNetnsLab(options: CreateNetnsLabOptions = {}): Promise<NetnsLab> {
  const count = options.hosts ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 200) {
    throw new RangeError(`hosts must be 1..200, got ${count}`);
  }
  await sweepStaleNetns();
  const prefix = `${NETNS_PREFIX}${process.pid}x${randomBytes(2).readUInt16BE(0).toString(36)}`;
  const subnet = `${SUBNET}.${await freeSubnet()}`;
  const sw = `${prefix}-sw`;
  const uplink = `${prefix}r`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-h${i + 1}`);

  let closed: Promise<void> | undefined;
  const removeSync = () => {
    for (const ns of [...names, sw]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // not there
      }
    }
    try {
      execFileSync('ip', ['link', 'del', uplink], { stdio: 'ignore', timeout: 5000 });
    } catch {
      // gone with the switch's namespace
    }
  };
  const onExit = () => removeSync();
  process.on('exit', onExit);
  const close = () => {
    closed ??= (async () => {
      process.off('exit', onExit);
      const existing = new Set(await namespaces().catch(() => [...names, sw]));
      for (const ns of [...names, sw]) {
        if (existing.has(ns)) await run('ip', ['netns', 'del', ns]).catch(() => {});
      }
      if ((await rootLinks().catch(() => [uplink])).includes(uplink)) {
        await run('ip', ['link', 'del', uplink]).catch(() => {});
      }
    })();
    return closed;
  };
  options.cleanup?.after(close);

  const ip = (...args: string[]) => run('ip', args);
  try {
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'set', 'lo', 'up');
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    await ip('link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'up0', 'netns', sw);
    await ip('-n', sw, 'link', 'set', 'up0', 'master', 'br0');
    await ip('-n', sw, 'link', 'set', 'up0', 'up');
    await ip('addr', 'add', `${subnet}.1/24`, 'dev', uplink);
    await ip('link', 'set', uplink, 'up');
    for (const [i, ns] of names.entries()) {
      const port = `h${i + 1}`;
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', sw);
      await ip('-n', sw, 'link', 'set', port, 'master', 'br0');
      await ip('-n', sw, 'link', 'set', port, 'up');
      await ip('-n', ns, 'addr', 'add', `${subnet}.${11 + i}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
  } catch (err) {
    await close();
    throw err;
  }

  const hosts = names.map((ns, i): NetnsHost => {
    const port = `h${i + 1}`;
    const table = `cut${port}`;
    let isCut = false;
    return {
      index: i + 1,
      namespace: ns,
      address: `${subnet}.${11 + i}`,
      get isCut() {
        return isCut;
      },
      start(cmd, args, startOptions) {
        return startProcess('ip', ['netns', 'exec', ns, cmd, ...args], startOptions);
      },
      async cut() {
        if (isCut) return;
        // At the switch, IP frames from and to this host's port are dropped; ARP still
        // passes, as on a real network where a router or firewall drops the traffic,
        // so nobody is told "host unreachable" either.
        await run(
          'ip',
          ['netns', 'exec', sw, 'nft', '-f', '-'],
          `table bridge ${table} {
  chain cut {
    type filter hook forward priority 0; policy accept;
    iifname "${port}" ether type { ip, ip6 } drop
    oifname "${port}" ether type { ip, ip6 } drop
  }
}
`,
        );
        isCut = true;
      },
      async heal() {
        if (!isCut) return;
        await run('ip', ['netns', 'exec', sw, 'nft', 'delete', 'table', 'bridge', table]);
        isCut = false;
      },
    };
  });

  return { prefix, rootAddress: `${subnet}.1`, hosts, close };
}
