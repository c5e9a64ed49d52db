// cli.test.ts: the `peercache` executable as real processes: help, usage errors,
// a node with its API, the loaders, startup failures and signals.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliRun, jsonLogs, runCli } from '../support/cli.js';
import {
  cleanupAfter,
  freePorts,
  type ManagedProcess,
  startProcess,
  waitFor,
} from '../support/process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/** startNode starts `peercache node` and waits for its `ready <self>` line. */
async function startNode(
  self: string,
  extra: string[],
  registry: ReturnType<typeof cleanupAfter>,
): Promise<ManagedProcess> {
  return startProcess(process.execPath, [...CLI, 'node', '--self', self, ...extra], {
    cwd: ROOT,
    readyLine: `ready ${self}`,
    registry,
  });
}

const FLAGS = [
  '--self',
  '--listen',
  '--peers',
  '--api',
  '--group',
  '--loader',
  '--origin',
  '--replicas',
  '--base-path',
  '--log-level',
  '--transport',
  '--tls-cert',
  '--tls-key',
  '--tls-ca',
  '--tls-client-auth',
  '--api-tls',
  '--peer-secret',
  '--api-token',
  '--etcd',
  '--service',
  '--lease-ttl',
  '--etcd-prefix',
  '--etcd-username',
  '--etcd-password',
  '--etcd-ca',
  '--etcd-cert',
  '--etcd-key',
  '--fail-fast',
];

/** GATEWAY_FLAGS are the flags `peercache gateway --help` must document. */
const GATEWAY_FLAGS = [
  '--api',
  '--etcd',
  '--peers',
  '--group',
  '--service',
  '--etcd-prefix',
  '--etcd-username',
  '--etcd-password',
  '--etcd-ca',
  '--etcd-cert',
  '--etcd-key',
  '--fail-fast',
  '--replicas',
  '--base-path',
  '--transport',
  '--tls-ca',
  '--tls-cert',
  '--tls-key',
  '--api-tls',
  '--peer-secret',
  '--api-token',
  '--log-level',
];

describe('peercache help and usage errors', () => {
  test('--help, node --help and gateway --help mention every flag; --version prints the version', async () => {
    const [main, node, demo, gateway, version] = await Promise.all([
      runCli(['--help']),
      runCli(['node', '--help']),
      runCli(['demo', '--help']),
      runCli(['gateway', '--help']),
      runCli(['--version']),
    ]);
    for (const r of [main, node, demo, gateway, version]) assert.equal(r.code, 0, r.stderr);
    for (const flag of FLAGS) {
      assert.ok(main.stdout.includes(flag), `peercache --help lacks ${flag}`);
      assert.ok(node.stdout.includes(flag), `peercache node --help lacks ${flag}`);
    }
    for (const flag of GATEWAY_FLAGS) {
      assert.ok(gateway.stdout.includes(flag), `peercache gateway --help lacks ${flag}`);
    }
    assert.match(main.stdout, /peercache gateway/);
    assert.match(node.stdout, /ready <self URL>/);
    assert.match(gateway.stdout, /ready <API URL>/);
    for (const flag of ['--api', '--base-port', '--log-level'])
      assert.ok(demo.stdout.includes(flag));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.stdout, `${pkg.version}\n`);
  });

  test('bad command lines exit 2 with one line on stderr', async () => {
    const self = 'http://127.0.0.1:1';
    const cases: string[][] = [
      [],
      ['frobnicate'],
      ['node'],
      ['node', '--bogus'],
      ['node', '--self'],
      ['node', '--self', 'not a url'],
      ['node', '--self', self, 'extra'],
      ['node', '--self', self, '--group', 'g:12XB'],
      ['node', '--self', self, '--loader', 'x.mjs', '--origin', 'http://127.0.0.1:2'],
      ['node', '--self', self, '--api', 'nowhere'],
      ['node', '--self', self, '--log-level', 'loud'],
      ['demo', '--base-port', 'x'],
      ['node', '--self', self, '--etcd', 'localhost'],
      ['gateway'],
      ['gateway', '--peers', self, '--api', '127.0.0.1:1', '--lease-ttl', '2'],
    ];
    // Four at a time: a 2-core machine running the whole suite starts them slowly.
    const results: CliRun[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...(await Promise.all(cases.slice(i, i + 4).map((argv) => runCli(argv)))));
    }
    results.forEach((r, i) => {
      const what = JSON.stringify(cases[i]);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stdout, '', what);
      assert.match(r.stderr, /^peercache: [^\n]+\(see peercache[^\n]*--help\)\n$/, what);
      if (cases[i]![0] === 'gateway') {
        assert.match(r.stderr, /\(see peercache gateway --help\)\n$/, what);
      }
    });
  });
});

describe('peercache node', () => {
  const registry = cleanupAfter();
  let dir: string;
  let origin: Server;
  let originUrl: string;
  const originSeen: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peercache-cli-'));
    await writeFile(
      join(dir, 'loader.mjs'),
      [
        'export default async (key, { group, signal }) => {',
        "  if (key === 'hang') return new Promise(() => {});",
        "  return key === 'x' || key.startsWith('burst-') ? group + ':' + key : null;",
        '};',
        '',
      ].join('\n'),
    );
    origin = createServer((req, res) => {
      originSeen.push(req.url ?? '');
      if (req.url === '/v1/users/a%20b') res.end('from origin');
      else {
        res.writeHead(404);
        res.end();
      }
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  });
  after(async () => {
    origin.closeAllConnections();
    origin.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('with --api it serves the demo table, logs each load once (at debug), and SIGTERM exits 0', async () => {
    const [peerPort, apiPort] = await freePorts(2);
    const self = `http://127.0.0.1:${peerPort}`;
    const api = `http://127.0.0.1:${apiPort}`;
    const proc = await startNode(
      self,
      ['--api', `127.0.0.1:${apiPort}`, '--log-level', 'debug'],
      registry,
    );
    assert.deepEqual(proc.stdout, [`ready ${self}`]);
    const health = await fetch(`${api}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${api}/api?key=Tom`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), '630');
    }
    assert.equal((await fetch(`${api}/api?key=Nobody`)).status, 404);
    const peers = (await (await fetch(`${api}/peers`)).json()) as { self: string };
    assert.equal(peers.self, self);
    const started = jsonLogs(proc).find((l) => l.msg === 'started');
    assert.equal(started?.self, self);
    assert.equal(started?.api, api);
    assert.deepEqual(started?.groups, [{ name: 'scores', cacheBytes: 64 * 1024 * 1024 }]);
    const loads = jsonLogs(proc).filter((l) => l.msg === 'loaded');
    assert.deepEqual(
      loads.map((l) => [l.group, l.key]),
      [['scores', 'Tom']],
    );

    const status = await proc.stop('SIGTERM', 10_000);
    assert.deepEqual(status, { code: 0, signal: null });
    // stderr may still be on its way after the exit: the line must come.
    await waitFor(() => jsonLogs(proc).some((l) => l.msg === 'stopped'));
    await assert.rejects(fetch(`${api}/healthz`));
  });

  test('logs are written asynchronously and none is lost at exit: a burst, then SIGTERM', async () => {
    const [peerPort, apiPort] = await freePorts(2);
    const self = `http://127.0.0.1:${peerPort}`;
    const api = `http://127.0.0.1:${apiPort}`;
    const proc = await startNode(
      self,
      [
        '--api',
        `127.0.0.1:${apiPort}`,
        '--loader',
        join(dir, 'loader.mjs'),
        '--group',
        'things:1MiB',
        '--log-level',
        'debug',
      ],
      registry,
    );
    const keys = Array.from({ length: 400 }, (_, i) => `burst-${i}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys.slice(i, i + 50).map(async (key) => {
          const r = await fetch(`${api}/api?key=${key}`);
          assert.equal(await r.text(), `things:${key}`);
        }),
      );
    }
    // The signal comes at once: the last loads' lines may still wait to be written.
    assert.deepEqual(await proc.stop('SIGTERM', 10_000), { code: 0, signal: null });
    await waitFor(() => jsonLogs(proc).some((l) => l.msg === 'stopped'));
    const lines = jsonLogs(proc);
    const loaded = lines.filter((l) => l.msg === 'loaded').map((l) => l.key);
    assert.deepEqual(new Set(loaded), new Set(keys));
    assert.equal(loaded.length, keys.length, 'each load logged once');
    assert.equal(lines.at(-1)?.msg, 'stopped', 'the last line is the last one logged');
  });

  test('--origin loads over HTTP; SIGINT exits 0', async () => {
    const [peerPort, apiPort] = await freePorts(2);
    const self = `http://127.0.0.1:${peerPort}`;
    const api = `http://127.0.0.1:${apiPort}`;
    const proc = await startNode(
      self,
      ['--api', `127.0.0.1:${apiPort}`, '--origin', `${originUrl}/v1`, '--group', 'users:1MiB'],
      registry,
    );
    const r = await fetch(`${api}/api?key=a%20b`);
    assert.equal(await r.text(), 'from origin');
    assert.ok(originSeen.includes('/v1/users/a%20b'));
    assert.equal((await fetch(`${api}/api?key=missing&group=users`)).status, 404);
    assert.equal((await fetch(`${api}/api?key=x&group=scores`)).status, 404);
    assert.deepEqual(await proc.stop('SIGINT', 10_000), { code: 0, signal: null });
  });

  test('--loader runs the module; a second signal during shutdown exits at once', async () => {
    const [peerPort, apiPort] = await freePorts(2);
    const self = `http://127.0.0.1:${peerPort}`;
    const api = `http://127.0.0.1:${apiPort}`;
    const proc = await startNode(
      self,
      [
        '--api',
        `127.0.0.1:${apiPort}`,
        '--loader',
        join(dir, 'loader.mjs'),
        '--group',
        'things:1MiB',
      ],
      registry,
    );
    assert.equal(await (await fetch(`${api}/api?key=x`)).text(), 'things:x');
    assert.equal((await fetch(`${api}/api?key=y`)).status, 404);
    // A get that never finishes holds the graceful shutdown open...
    const hanging = fetch(`${api}/api?key=hang`).catch(() => undefined);
    await waitFor(async () => {
      const stats = (await (await fetch(`${api}/stats`)).json()) as {
        groups: { things: { stats: { gets: number } } };
      };
      return stats.groups.things.stats.gets === 3;
    });
    process.kill(proc.pid, 'SIGTERM');
    await waitFor(() => jsonLogs(proc).some((l) => l.msg === 'shutting down'));
    assert.equal(proc.exitStatus, undefined);
    // ...until a second signal ends it at once.
    process.kill(proc.pid, 'SIGTERM');
    const status = await Promise.race([
      proc.exited,
      new Promise((r) => setTimeout(r, 5000, 'late').unref()),
    ]);
    assert.deepEqual(status, { code: 143, signal: null });
    // Written on the way out, though the process did not wait for its logs.
    await waitFor(() => jsonLogs(proc).some((l) => l.msg === 'second signal: exiting now'));
    await hanging;
  });

  test('a taken port or a bad loader module exits 1 with a message', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as AddressInfo).port;
    try {
      const [taken, badLoader] = await Promise.all([
        runCli(['node', '--self', `http://127.0.0.1:${port}`]),
        runCli(['node', '--self', 'http://127.0.0.1:1', '--loader', './no/such/loader.mjs']),
      ]);
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, /^peercache: cannot start: .*EADDRINUSE/m);
      assert.equal(taken.stdout, '');
      assert.equal(badLoader.code, 1);
      assert.match(badLoader.stderr, /^peercache: cannot start: cannot import loader/m);
      // The fatal log line is written before the process exits, not lost with it.
      for (const r of [taken, badLoader]) {
        const fatal = r.stderr
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.msg === 'cannot start');
        assert.equal(fatal?.level, 60, r.stderr);
      }
    } finally {
      blocker.close();
    }
  });
});
