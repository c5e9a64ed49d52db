// cli-etcd.test.ts: `peercache node --etcd ...` as real processes against a real etcd:
// join, leave on SIGTERM, an etcd that is not there yet, TLS and password auth, --fail-fast,
// malformed --etcd.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jsonLogs, runCli } from './support/cli.js';
import { type EtcdServer, etcdBinary, startEtcd, suiteCleanup } from './support/etcd.js';
import {
  cleanupAfter,
  freePorts,
  type ManagedProcess,
  type ProcessRegistry,
  startProcess,
  waitFor,
} from './support/process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const SERVICE = 'cli-test';
const PREFIX = '/cli-etcd';

/** Peers is the body of `GET /peers`. */
interface Peers {
  self: string;
  peers: string[];
  source: string;
  membership?: {
    connected: boolean;
    registered: boolean;
    lastError: string | null;
    leaseId: string | null;
  };
}

/** A `peercache node` process with its API. */
interface CliNode {
  url: string;
  api: string;
  proc: ManagedProcess;
}

async function startNode(
  etcd: string,
  registry: ProcessRegistry,
  extra: string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<CliNode> {
  const [peerPort, apiPort] = await freePorts(2);
  const url = `http://127.0.0.1:${peerPort}`;
  const args = [
    ...CLI,
    'node',
    '--self',
    url,
    '--api',
    `127.0.0.1:${apiPort}`,
    '--etcd',
    etcd,
    '--service',
    SERVICE,
    '--etcd-prefix',
    PREFIX,
    '--lease-ttl',
    '2',
    ...extra,
  ];
  const proc = await startProcess(process.execPath, args, {
    cwd: ROOT,
    ...(env === undefined ? {} : { env }),
    readyLine: `ready ${url}`,
    timeoutMs: 60_000,
    registry,
  });
  return { url, api: `http://127.0.0.1:${apiPort}`, proc };
}

async function peersOf(node: CliNode): Promise<Peers> {
  const res = await fetch(`${node.api}/peers`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return (await res.json()) as Peers;
}

const sorted = (list: readonly string[]) => [...list].sort();

const binary = await etcdBinary();
const skip = typeof binary === 'string' ? false : binary.skip;

describe('peercache node --etcd', { timeout: 90_000 }, () => {
  const cleanup = suiteCleanup();
  const registry = cleanupAfter();
  let etcd: EtcdServer;

  before(async () => {
    if (!skip) etcd = await startEtcd({ cleanup });
  });

  it('3 nodes see the same 3 members within 2 s; SIGTERM drops one within 1 s', {
    skip,
  }, async () => {
    const nodes = await Promise.all([0, 1, 2].map(() => startNode(etcd.endpoint, registry)));
    const urls = sorted(nodes.map((n) => n.url));
    // Counted from the moment the last node is up.
    await waitFor(
      async () => {
        const views = await Promise.all(nodes.map(peersOf));
        return views.every((v) => JSON.stringify(sorted(v.peers)) === JSON.stringify(urls));
      },
      { timeoutMs: 2000, message: 'all 3 nodes list the same 3 members' },
    );
    for (const node of nodes) {
      const view = await peersOf(node);
      assert.equal(view.source, 'etcd');
      assert.equal(view.membership?.connected, true);
      assert.equal(view.membership?.registered, true);
    }
    // The flags reached etcd: the keys live under --etcd-prefix/--service, on 2 s leases.
    const keys = await etcd.keys(`${PREFIX}/${SERVICE}/nodes/`);
    assert.deepEqual(
      keys.map((k) => k.key).sort(),
      urls.map((u) => `${PREFIX}/${SERVICE}/nodes/${u}`),
    );
    const ttl = await etcd.call('/v3/lease/timetolive', { ID: keys[0]!.lease });
    assert.equal(Number(ttl.grantedTTL), 2);

    const [gone, ...rest] = nodes as [CliNode, CliNode, CliNode];
    const left = urls.filter((u) => u !== gone.url);
    const stopped = gone.proc.stop('SIGTERM', 10_000);
    await waitFor(
      async () => {
        const views = await Promise.all(rest.map(peersOf));
        return views.every((v) => JSON.stringify(sorted(v.peers)) === JSON.stringify(left));
      },
      { timeoutMs: 1000, intervalMs: 20, message: 'the stopped node leaves the others' },
    );
    assert.deepEqual(await stopped, { code: 0, signal: null });
    assert.ok(jsonLogs(gone.proc).some((l) => l.msg === 'left etcd: lease revoked'));
    await Promise.all(rest.map((n) => n.proc.stop('SIGTERM', 10_000)));
  });

  it('an unreachable etcd: the node runs, shows the error, and joins once etcd is up', {
    skip,
  }, async () => {
    const [port] = await freePorts(1);
    const endpoint = `http://127.0.0.1:${port}`;
    const node = await startNode(endpoint, registry);
    const early = await peersOf(node);
    assert.deepEqual(early.peers, [node.url], 'its own ring until etcd answers');
    assert.equal(early.membership?.connected, false);
    assert.equal(early.membership?.registered, false);
    assert.match(early.membership?.lastError ?? '', /./, 'the error is in /peers');
    assert.ok(
      jsonLogs(node.proc).some((l) => l.msg === 'etcd not ready yet: retrying in the background'),
    );
    // Still retrying a moment later: the process did not exit.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(node.proc.exitStatus, undefined);

    const late = await startEtcd({ clientPort: port!, cleanup });
    await waitFor(async () => (await peersOf(node)).membership?.registered === true, {
      timeoutMs: 15_000,
      message: 'the node registers once etcd is up',
    });
    const keys = await late.keys(`${PREFIX}/${SERVICE}/nodes/`);
    assert.deepEqual(
      keys.map((k) => k.key),
      [`${PREFIX}/${SERVICE}/nodes/${node.url}`],
    );
    const view = await peersOf(node);
    assert.equal(view.membership?.connected, true);
    assert.deepEqual(view.peers, [node.url]);
    assert.deepEqual(await node.proc.stop('SIGTERM', 10_000), { code: 0, signal: null });
  });

  it('--etcd-ca/--etcd-cert/--etcd-key reach an etcd that requires client certificates', {
    skip,
  }, async () => {
    const secure = await startEtcd({ cleanup, tls: true });
    const dir = await mkdtemp(join(tmpdir(), 'peercache-cli-etcd-'));
    cleanup.after(() => rm(dir, { recursive: true, force: true }));
    const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') };
    await writeFile(files.ca, secure.tls!.ca);
    await writeFile(files.cert, secure.tls!.cert);
    await writeFile(files.key, secure.tls!.key);
    const node = await startNode(secure.endpoint, registry, [
      '--etcd-ca',
      files.ca,
      '--etcd-cert',
      files.cert,
      '--etcd-key',
      files.key,
      '--fail-fast',
    ]);
    const view = await peersOf(node);
    assert.equal(view.membership?.connected, true);
    const keys = await secure.keys(`${PREFIX}/${SERVICE}/nodes/`);
    assert.deepEqual(
      keys.map((k) => k.key),
      [`${PREFIX}/${SERVICE}/nodes/${node.url}`],
    );
    assert.deepEqual(await node.proc.stop('SIGTERM', 10_000), { code: 0, signal: null });
  });

  it('--etcd-username with PEERCACHE_ETCD_PASSWORD joins an etcd with auth on; a wrong --etcd-password exits 1', {
    skip,
  }, async () => {
    const guarded = await startEtcd({ cleanup });
    await guarded.call('/v3/auth/role/add', { name: 'root' });
    await guarded.call('/v3/auth/user/add', { name: 'root', password: 'secret' });
    await guarded.call('/v3/auth/user/grant', { user: 'root', role: 'root' });
    await guarded.call('/v3/auth/enable', {});
    const node = await startNode(
      guarded.endpoint,
      registry,
      ['--etcd-username', 'root', '--fail-fast'],
      { PEERCACHE_ETCD_PASSWORD: 'secret' },
    );
    const view = await peersOf(node);
    assert.equal(view.membership?.connected, true);
    assert.equal(view.membership?.registered, true);
    assert.equal(view.membership?.lastError, null);

    const [peerPort] = await freePorts(1);
    const wrong = await runCli([
      'node',
      '--self',
      `http://127.0.0.1:${peerPort}`,
      '--etcd',
      guarded.endpoint,
      '--service',
      SERVICE,
      '--etcd-prefix',
      PREFIX,
      '--etcd-username',
      'root',
      '--etcd-password',
      'wrong',
      '--fail-fast',
    ]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, /^peercache: cannot start: .*authentication failed/m);
    assert.doesNotMatch(wrong.stderr, /wrong/, 'the password is not echoed');
    // Only the node with the right password registered. Reading the keys needs a token
    // now, so the node's own view is the witness: it is alone, and still serving.
    const after = await peersOf(node);
    assert.deepEqual(after.peers, [node.url]);
    assert.equal(after.membership?.registered, true);
    assert.deepEqual(await node.proc.stop('SIGTERM', 10_000), { code: 0, signal: null });
    assert.ok(jsonLogs(node.proc).some((l) => l.msg === 'left etcd: lease revoked'));
  });

  it('--fail-fast with no etcd exits 1; a malformed --etcd exits 2', async () => {
    const [peerPort, deadPort] = await freePorts(2);
    const self = `http://127.0.0.1:${peerPort}`;
    const dead = `http://127.0.0.1:${deadPort}`;
    const [failFast, malformed, noHost] = await Promise.all([
      runCli(['node', '--self', self, '--etcd', dead, '--fail-fast']),
      runCli(['node', '--self', self, '--etcd', '127.0.0.1:2379']),
      runCli(['node', '--self', self, '--etcd', 'http://127.0.0.1:2379,http://']),
    ]);
    assert.equal(failFast.code, 1, failFast.stderr);
    assert.equal(failFast.stdout, '');
    assert.match(
      failFast.stderr,
      new RegExp(`^peercache: cannot start: cannot reach etcd at ${dead}`, 'm'),
    );
    for (const r of [malformed, noHost]) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^peercache: --etcd: etcd endpoint "[^"]*" [^\n]+\(see peercache node --help\)\n$/,
      );
    }
  });
});
