// etcd.ts: a real etcd server for integration tests (Debian's etcd-server, installed
// when missing and we are root) on free loopback ports with a temporary data dir,
// a JSON-gateway client to inspect and disturb it, and a TCP proxy that can cut
// one client off from it.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { makeTestCerts } from './certs.js';
import {
  type AfterHook,
  freePorts,
  type ManagedProcess,
  ProcessRegistry,
  startProcess,
  waitFor,
} from './process.js';

/** EtcdBinary is the etcd binary's path, or why there is none here. */
export type EtcdBinary = string | { skip: string };

const CANDIDATES = ['/usr/bin/etcd', '/usr/local/bin/etcd'];

function run(cmd: string, args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: 16 << 20,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      },
      (err, _stdout, stderr) => {
        const tail = String(stderr).trim().split('\n').slice(-5).join('\n');
        resolve(err ? `${err.message}\n${tail}` : undefined);
      },
    );
  });
}

function findEtcd(): string | undefined {
  for (const path of CANDIDATES) if (existsSync(path)) return path;
  return undefined;
}

/** Installs Debian's etcd-server with apt-get (root only), retrying after an update. */
async function install(): Promise<EtcdBinary> {
  if (process.getuid?.() !== 0) {
    return { skip: 'etcd is not installed and we are not root (apt-get install etcd-server)' };
  }
  if (!existsSync('/usr/bin/apt-get'))
    return { skip: 'etcd is not installed and there is no apt-get' };
  // Parallel test processes may install at once: flock makes them take turns.
  const locked = (args: string[]) =>
    existsSync('/usr/bin/flock')
      ? run('flock', ['/tmp/peercache-etcd-install.lock', 'apt-get', ...args], 15 * 60_000)
      : run('apt-get', args, 15 * 60_000);
  let err = await locked(['install', '-y', '-q', 'etcd-server']);
  if (err !== undefined && findEtcd() === undefined) {
    await locked(['update', '-q']);
    err = await locked(['install', '-y', '-q', 'etcd-server']);
  }
  const path = findEtcd();
  return (
    path ?? { skip: `apt-get install etcd-server failed: ${err ?? 'no etcd binary after it'}` }
  );
}

let installing: Promise<EtcdBinary> | undefined;

/**
 * etcdBinary finds the etcd binary, installing Debian's etcd-server once per
 * process when it is missing and we are root. It resolves to `{ skip }` when
 * there is no way to get one; under `CI=true` nothing may skip, so it rejects.
 */
export async function etcdBinary(): Promise<EtcdBinary> {
  installing ??= Promise.resolve(findEtcd() ?? install());
  const result = await installing;
  if (typeof result !== 'string' && process.env.CI === 'true') throw new Error(result.skip);
  return result;
}

/** EtcdKey is one key as the JSON gateway shows it. */
export interface EtcdKey {
  key: string;
  value: string;
  /** lease is the lease ID in decimal, or '0'. */
  lease: string;
  modRevision: number;
}

/** EtcdServer is a running (or stopped, restartable) etcd. */
export interface EtcdServer {
  /** endpoint is its client URL, e.g. `http://127.0.0.1:41234` (`https://` with `tls`). */
  readonly endpoint: string;
  /** tls holds the client's CA, certificate and key when etcd was started with `tls`. */
  readonly tls: EtcdClientTls | undefined;
  /** process is the running process, or undefined while stopped. */
  readonly process: ManagedProcess | undefined;
  /** stop ends etcd with SIGTERM (then SIGKILL); its data stays for `restart`. */
  stop(): Promise<void>;
  /** kill ends etcd with SIGKILL; its data stays for `restart`. */
  kill(): Promise<void>;
  /** restart starts etcd again on the same ports and data, resolving once it is healthy. */
  restart(): Promise<void>;
  /** call POSTs `body` as JSON to the gateway path (e.g. `/v3/kv/range`) and returns the answer. */
  call(path: string, body: unknown): Promise<Record<string, unknown>>;
  /** keys reads every key under `prefix`. */
  keys(prefix: string): Promise<EtcdKey[]>;
  /** revoke revokes a lease given in decimal (gateway) or hex (status, etcdctl). */
  revoke(lease: string, radix?: 10 | 16): Promise<void>;
  /** compact drops the history before `revision` (default: the current one) and returns it. */
  compact(revision?: number): Promise<number>;
  /** put writes `key` = `value` with no lease; returns the new revision. */
  put(key: string, value: string): Promise<number>;
  /** remove deletes `key`. */
  remove(key: string): Promise<void>;
}

/**
 * suiteCleanup returns an AfterHook whose functions run after the suite (or test
 * `t`) it was created in. Create it in the `describe` body and pass it to
 * {@link startEtcd} from a `before` hook: node:test's `after` called inside a
 * hook would run as soon as that hook ends.
 */
export function suiteCleanup(t?: AfterHook): AfterHook {
  const fns: Array<() => Promise<void>> = [];
  const run = async () => {
    for (const fn of fns.reverse()) await fn();
  };
  if (t) t.after(run);
  else after(run);
  return { after: (fn) => void fns.push(fn) };
}

/** StartEtcdOptions configure {@link startEtcd}. */
export interface StartEtcdOptions {
  /**
   * cleanup is when etcd is killed and its data removed. Default: node:test's
   * `after`, i.e. after the test that started it; from a `before` hook give a
   * {@link suiteCleanup} made in the suite.
   */
  cleanup?: AfterHook;
  /** clientPort is the client port to listen on. Default: a free one. */
  clientPort?: number;
  /**
   * host is the address etcd listens on, for clients and its peer port, e.g. the root
   * namespace's address of a network-namespace lab. Default: `127.0.0.1`.
   */
  host?: string;
  /**
   * tls serves clients over TLS with certificates made for the test (openssl) and
   * requires a client certificate (`--client-cert-auth`). Default false.
   */
  tls?: boolean;
}

/** EtcdClientTls are the PEMs a client needs for a TLS etcd: the CA, its certificate and key. */
export interface EtcdClientTls {
  ca: string;
  cert: string;
  key: string;
}

/** post sends `body` as JSON to `url` (http or https with `tls`) and parses the JSON answer. */
function post(
  url: string,
  body: unknown,
  tls: EtcdClientTls | undefined,
): Promise<{ status: number; answer: Record<string, unknown> }> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: 5000,
        ...(tls ?? {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const text = Buffer.concat(chunks).toString();
            resolve({
              status: res.statusCode ?? 0,
              answer: JSON.parse(text) as Record<string, unknown>,
            });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: unknown) => Buffer.from(String(s ?? ''), 'base64').toString();

function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i]! += 1;
      return end.toString('base64');
    }
  }
  return b64('\0');
}

/**
 * startEtcd starts a single-member etcd on free ports of `host` (127.0.0.1) with a temporary
 * data dir, resolving once a read through its JSON gateway works. Short raft timers make it elect
 * itself (and restart) quickly. After the suite (or `cleanup`) it is killed by
 * PID and its data dir removed. Callers should check {@link etcdBinary} first
 * and skip when it says so.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const binary = await etcdBinary();
  if (typeof binary !== 'string') throw new Error(binary.skip);
  const host = options.host ?? '127.0.0.1';
  const [freeClient, peerPort] = await freePorts(2, host);
  const clientPort = options.clientPort ?? freeClient;
  const dataDir = await mkdtemp(join(tmpdir(), 'peercache-etcd-'));
  const endpoint = `${options.tls ? 'https' : 'http'}://${host}:${clientPort}`;
  const peerUrl = `http://${host}:${peerPort}`;
  // The server certificate is good for clientAuth too: etcd's gateway dials its
  // own gRPC port with it.
  const certs = options.tls ? makeTestCerts() : undefined;
  const registry = new ProcessRegistry();
  let proc: ManagedProcess | undefined;
  const cleanup = async () => {
    await registry.stopAll(1000);
    await rm(dataDir, { recursive: true, force: true });
    certs?.cleanup();
  };
  if (options.cleanup) options.cleanup.after(cleanup);
  else after(cleanup);
  const tls: EtcdClientTls | undefined = certs && {
    ca: certs.ca.toString(),
    cert: certs.client.cert.toString(),
    key: certs.client.key.toString(),
  };
  const tlsArgs = certs
    ? [
        `--cert-file=${certs.node.certFile}`,
        `--key-file=${certs.node.keyFile}`,
        `--trusted-ca-file=${certs.caFile}`,
        '--client-cert-auth',
      ]
    : [];
  const args = [
    '--name=test',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    '--initial-cluster-state=new',
    '--heartbeat-interval=50',
    '--election-timeout=500',
    '--logger=zap',
    '--log-level=warn',
    ...tlsArgs,
  ];
  const call = async (path: string, body: unknown) => {
    const { status, answer } = await post(endpoint + path, body, tls);
    if (status !== 200 || answer.error !== undefined) {
      throw new Error(`etcd ${path}: ${status} ${JSON.stringify(answer)}`);
    }
    return answer;
  };
  const launch = async () => {
    const started = await startProcess(binary, args, { registry });
    try {
      // Ready once a read through the gateway works (over TLS too, unlike a plain fetch).
      await waitFor(
        async () => {
          if (started.exitStatus) throw new Error('etcd exited');
          return (await call('/v3/kv/range', { key: b64('/') })) !== undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50, message: `etcd at ${endpoint}` },
      );
    } catch (err) {
      await started.kill();
      throw new Error(`${(err as Error).message}\n${started.stderr.slice(-20).join('\n')}`);
    }
    proc = started;
  };
  await launch();
  const revisionOf = (answer: Record<string, unknown>) =>
    Number((answer.header as { revision?: string } | undefined)?.revision ?? 0);

  return {
    endpoint,
    tls,
    get process() {
      return proc;
    },
    async stop() {
      await proc?.stop('SIGTERM', 5000);
      proc = undefined;
    },
    async kill() {
      await proc?.kill();
      proc = undefined;
    },
    async restart() {
      if (proc?.exitStatus === undefined && proc !== undefined) await proc.stop('SIGTERM', 5000);
      await launch();
    },
    call,
    async keys(prefix) {
      const answer = await call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) });
      const kvs = (answer.kvs ?? []) as Array<Record<string, unknown>>;
      return kvs.map((kv) => ({
        key: unb64(kv.key),
        value: unb64(kv.value),
        lease: String(kv.lease ?? '0'),
        modRevision: Number(kv.mod_revision ?? 0),
      }));
    },
    async revoke(lease, radix = 10) {
      const id = radix === 16 ? BigInt.asIntN(64, BigInt(`0x${lease}`)).toString() : lease;
      await call('/v3/lease/revoke', { ID: id });
    },
    async compact(revision) {
      const rev = revision ?? revisionOf(await call('/v3/kv/range', { key: b64('\0') }));
      await call('/v3/kv/compaction', { revision: String(rev), physical: true });
      return rev;
    },
    async put(key, value) {
      return revisionOf(await call('/v3/kv/put', { key: b64(key), value: b64(value) }));
    },
    async remove(key) {
      await call('/v3/kv/deleterange', { key: b64(key) });
    },
  };
}

/** TcpProxy forwards a local port to a target and can cut every connection through it. */
export interface TcpProxy {
  /** endpoint is `http://127.0.0.1:PORT`, to give a client instead of the target's. */
  readonly endpoint: string;
  /** cut destroys every open connection and refuses new ones until `restore`. */
  cut(): void;
  /** restore accepts connections again. */
  restore(): void;
  /** close stops the proxy. */
  close(): Promise<void>;
}

/**
 * startTcpProxy listens on a free 127.0.0.1 port and forwards each connection
 * to `target` (`http://host:port`), so a test can cut one client off from etcd
 * while etcd keeps running for everyone else. Closed after the suite (or `cleanup`).
 */
export async function startTcpProxy(target: string, cleanup?: AfterHook): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const listenPort = address !== null && typeof address === 'object' ? address.port : 0;
  const cut = () => {
    open = false;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      cut();
      server.close(() => resolve());
    });
    return closed;
  };
  if (cleanup) cleanup.after(close);
  else after(close);
  return {
    endpoint: `http://127.0.0.1:${listenPort}`,
    cut,
    restore() {
      open = true;
    },
    close,
  };
}
