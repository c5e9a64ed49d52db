// secure.test.ts: `peercache node` processes with --transport grpc, with TLS and a peer
// secret, and the warning about servers open beyond loopback.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { defaultRing } from '../../src/cli/args.js';
import { createRing } from '../../src/ring/owner-ring.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import { makeTestCerts } from '../support/certs.js';
import { jsonLogs } from '../support/cli.js';
import { cleanupAfter, freePorts, type ManagedProcess, startProcess } from '../support/process.js';
import { testValue } from '../support/values.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const LOADER = 'test/fixtures/values-loader.ts';

function start(
  self: string,
  args: string[],
  registry: ReturnType<typeof cleanupAfter>,
  env: NodeJS.ProcessEnv = {},
): Promise<ManagedProcess> {
  const argv = [...CLI, 'node', '--self', self, '--loader', LOADER, ...args];
  return startProcess(process.execPath, argv, {
    cwd: ROOT,
    env: { PEERCACHE_PEER_SECRET: undefined, PEERCACHE_API_TOKEN: undefined, ...env },
    readyLine: `ready ${self}`,
    timeoutMs: 60_000,
    registry,
  });
}

/** startGateway starts `peercache gateway --api 127.0.0.1:PORT ...`; resolves with its API URL. */
async function startGateway(
  args: string[],
  registry: ReturnType<typeof cleanupAfter>,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const [port] = await freePorts(1);
  const api = `http://127.0.0.1:${port}`;
  await startProcess(process.execPath, [...CLI, 'gateway', '--api', `127.0.0.1:${port}`, ...args], {
    cwd: ROOT,
    env: { PEERCACHE_PEER_SECRET: undefined, PEERCACHE_API_TOKEN: undefined, ...env },
    readyLine: `ready ${api}`,
    timeoutMs: 60_000,
    registry,
  });
  return api;
}

const warnings = (proc: ManagedProcess, pattern: RegExp) =>
  jsonLogs(proc).filter((l) => l.level === 40 && pattern.test(String(l.msg)));

interface Stats {
  groups: { scores: { stats: { localLoads: number; serverRequests: number } } };
}

describe('peercache node --transport grpc', { timeout: 90_000 }, () => {
  const registry = cleanupAfter();

  test('3 nodes with static peers: a key asked on every node and a gateway is loaded once, on its owner', async () => {
    const ports = await freePorts(6);
    const urls = ports.slice(0, 3).map((p) => `http://127.0.0.1:${p}`);
    const apis = ports.slice(3).map((p) => `http://127.0.0.1:${p}`);
    await Promise.all(
      urls.map((self, i) =>
        start(
          self,
          ['--transport', 'grpc', '--peers', urls.join(','), '--api', `127.0.0.1:${ports[3 + i]}`],
          registry,
        ),
      ),
    );
    const gateway = await startGateway(
      ['--transport', 'grpc', '--peers', urls.join(',')],
      registry,
    );
    const ring = createRing({ kind: defaultRing('grpc') });
    ring.set(urls);
    const key = 'grpc-key';
    const owner = urls.indexOf(ring.get(key)!);
    const answers = await Promise.all(
      [...apis, gateway].map((api) => fetch(`${api}/api?key=${key}`)),
    );
    for (const res of answers) {
      assert.equal(res.status, 200);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), testValue(key));
    }
    const loads = await Promise.all(
      apis.map(async (api) => {
        const stats = (await (await fetch(`${api}/stats`)).json()) as Stats;
        return stats.groups.scores.stats.localLoads;
      }),
    );
    assert.deepEqual(
      loads,
      urls.map((_, i) => (i === owner ? 1 : 0)),
    );
    // The peer port speaks gRPC: a gRPC client gets the (cached) value, HTTP/1.1 gets nothing.
    const grpc = grpcTransport();
    try {
      const got = await grpc.client(urls[owner]!).get('scores', key);
      assert.deepEqual(got.value, testValue(key));
    } finally {
      await grpc.close();
    }
    const http1 = await fetch(`${urls[owner]}/_groupcache/scores/${key}`).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(http1, 200);
  });
});

describe('peercache node with TLS and a peer secret (the default tcp transport)', {
  timeout: 90_000,
}, () => {
  const registry = cleanupAfter();
  const certs = makeTestCerts();
  after(() => certs.cleanup());

  test('peers talk TLS with the secret; strangers get nothing; the API serves HTTPS with a token', async () => {
    const [portA, portB, apiA, apiB] = await freePorts(4);
    const a = `https://127.0.0.1:${portA}`;
    const b = `https://127.0.0.1:${portB}`;
    const tls = ['--tls-cert', certs.node.certFile, '--tls-key', certs.node.keyFile];
    tls.push('--tls-ca', certs.caFile);
    const peers = ['--peers', `${a},${b}`];
    const secret = 'peer-s3cret';
    const token = 'api-t0ken';
    const [procA, procB] = await Promise.all([
      // A: the secret and the token from the environment; its API over HTTPS.
      start(a, [...tls, ...peers, '--api', `127.0.0.1:${apiA}`, '--api-tls'], registry, {
        PEERCACHE_PEER_SECRET: secret,
        PEERCACHE_API_TOKEN: token,
      }),
      // B: the secret as a flag (warned about); its API plain, on loopback.
      start(b, [...tls, ...peers, '--peer-secret', secret, '--api', `127.0.0.1:${apiB}`], registry),
    ]);
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set([a, b]);
    let key = 'tls-0';
    for (let i = 1; ring.get(key) !== b; i++) key = `tls-${i}`;

    // A's API: HTTPS, checked against the cluster's CA, with the token.
    const agent = new Agent({ connect: { ca: certs.ca } });
    try {
      const api = `https://127.0.0.1:${apiA}`;
      const denied = await request(`${api}/api?key=${key}`, { dispatcher: agent });
      assert.equal(denied.statusCode, 401);
      await denied.body.dump();
      const got = await request(`${api}/api?key=${key}`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(got.statusCode, 200);
      assert.deepEqual(new Uint8Array(await got.body.arrayBuffer()), testValue(key));
    } finally {
      await agent.close();
    }
    // ...loaded once, on B, over TLS with the secret; a gateway with the CA and the secret
    // gets it from B too (from B's cache: no second load).
    const gateway = await startGateway(
      ['--peers', `${a},${b}`, '--tls-ca', certs.caFile],
      registry,
      {
        PEERCACHE_PEER_SECRET: secret,
      },
    );
    const viaGateway = await fetch(`${gateway}/api?key=${key}`);
    assert.equal(viaGateway.status, 200);
    assert.deepEqual(new Uint8Array(await viaGateway.arrayBuffer()), testValue(key));
    const stats = (await (await fetch(`http://127.0.0.1:${apiB}/stats`)).json()) as Stats;
    assert.equal(stats.groups.scores.stats.localLoads, 1);
    assert.equal(stats.groups.scores.stats.serverRequests, 2, "A's and the gateway's requests");

    // B's peer port (tcp, the default): TLS only, and the secret is required.
    const plain = tcpTransport();
    const noSecret = tcpTransport({ tls: { ca: certs.ca } });
    const withSecret = tcpTransport({ tls: { ca: certs.ca }, peerSecret: secret });
    try {
      await assert.rejects(plain.client(`http://127.0.0.1:${portB}`).get('scores', key), {
        code: 'UNAVAILABLE',
      });
      await assert.rejects(noSecret.client(b).get('scores', key), { code: 'UNAUTHENTICATED' });
      assert.deepEqual((await withSecret.client(b).get('scores', key)).value, testValue(key));
    } finally {
      await Promise.all([plain.close(), noSecret.close(), withSecret.close()]);
    }

    const flagWarnings = (p: ManagedProcess) =>
      jsonLogs(p).filter((l) => l.level === 40 && l.flag === '--peer-secret');
    assert.equal(flagWarnings(procA).length, 0);
    assert.equal(flagWarnings(procB).length, 1);
    assert.equal(flagWarnings(procB)[0]!.env, 'PEERCACHE_PEER_SECRET');
    for (const p of [procA, procB]) assert.deepEqual(warnings(p, /beyond loopback/), []);
  });
});

describe('the beyond-loopback warning', { timeout: 90_000 }, () => {
  const registry = cleanupAfter();

  test('0.0.0.0 without a secret or token warns once per server; with them it does not', async () => {
    const [peerOpen, apiOpen, peerShut, apiShut] = await freePorts(4);
    const open = `http://127.0.0.1:${peerOpen}`;
    const shut = `http://127.0.0.1:${peerShut}`;
    const [procOpen, procShut] = await Promise.all([
      start(open, ['--listen', `0.0.0.0:${peerOpen}`, '--api', `0.0.0.0:${apiOpen}`], registry),
      start(shut, ['--listen', `0.0.0.0:${peerShut}`, '--api', `0.0.0.0:${apiShut}`], registry, {
        PEERCACHE_PEER_SECRET: 'secret',
        PEERCACHE_API_TOKEN: 'token',
      }),
    ]);
    const opened = warnings(procOpen, /beyond loopback/);
    assert.deepEqual(
      opened.map((w) => [w.listen, String(w.msg).split(' listens')[0]]),
      [
        [`0.0.0.0:${peerOpen}`, 'the peer server'],
        [`0.0.0.0:${apiOpen}`, 'the API'],
      ],
    );
    assert.deepEqual(warnings(procShut, /beyond loopback/), []);
    // Both serve through the loopback address as well.
    assert.equal((await fetch(`http://127.0.0.1:${apiOpen}/api?key=k`)).status, 200);
    const res = await fetch(`http://127.0.0.1:${apiShut}/api?key=k`, {
      headers: { authorization: 'Bearer token' },
    });
    assert.equal(res.status, 200);
  });
});
