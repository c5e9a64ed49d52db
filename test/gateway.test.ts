// gateway.test.ts: `peercache gateway` as a real process in front of real `peercache node`
// processes: with etcd (routing to owners, joins, leaves, writes) and with a static list.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { tcpTransport } from '../src/transport/tcp/index.js';
import { jsonLogs } from './support/cli.js';
import { type EtcdServer, etcdBinary, startEtcd, suiteCleanup } from './support/etcd.js';
import { keysPerOwner } from './support/owned-keys.js';
import { VALUES_LOADER } from './support/peercache.js';
import {
  cleanupAfter,
  freePorts,
  type ManagedProcess,
  type ProcessRegistry,
  startProcess,
  waitFor,
} from './support/process.js';
import { testValue } from './support/values.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const SERVICE = 'gateway-test';
const SYNC = '__sync-';

// The nodes speak the CLI's default transport, tcp; this test asks them directly over it.
const peerTransport = tcpTransport();
after(() => peerTransport.close());

/** A `peercache node` or `peercache gateway` process and its API. */
interface Proc {
  /** url is a node's --self (its ring identity); a gateway's API URL. */
  url: string;
  api: string;
  proc: ManagedProcess;
}

async function start(args: string[], readyLine: string, registry: ProcessRegistry) {
  return startProcess(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    readyLine,
    timeoutMs: 60_000,
    registry,
  });
}

async function startNode(etcd: string, registry: ProcessRegistry): Promise<Proc> {
  const [peerPort, apiPort] = await freePorts(2);
  const url = `http://127.0.0.1:${peerPort}`;
  const api = `http://127.0.0.1:${apiPort}`;
  const args = ['node', '--self', url, '--api', `127.0.0.1:${apiPort}`];
  args.push('--etcd', etcd, '--service', SERVICE, '--lease-ttl', '2', '--loader', VALUES_LOADER);
  // Each load is logged at debug.
  args.push('--log-level', 'debug');
  return { url, api, proc: await start(args, `ready ${url}`, registry) };
}

async function startGateway(args: string[], registry: ProcessRegistry, host = '127.0.0.1') {
  const [apiPort] = await freePorts(1);
  const api = `http://127.0.0.1:${apiPort}`;
  // The ready line names the bound address: 0.0.0.0 when listening on every interface.
  const ready = `ready http://${host}:${apiPort}`;
  const proc = await start(['gateway', '--api', `${host}:${apiPort}`, ...args], ready, registry);
  return { url: api, api, proc };
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body, text: new TextDecoder().decode(body) };
}

const apiUrl = (p: Proc, key: string) => `${p.api}/api?${new URLSearchParams({ key })}`;
const get = (p: Proc, key: string) => call(apiUrl(p, key));

async function peersOf(p: Proc): Promise<string[]> {
  const res = await call(`${p.api}/peers`);
  assert.equal(res.status, 200, res.text);
  return [...(JSON.parse(res.text) as { peers: string[] }).peers].sort();
}

/**
 * loads counts a node's `loaded` log lines per key, once every line it logged
 * so far has arrived: a fresh key asked of it as a peer is loaded there
 * and logged last.
 */
async function loads(node: Proc): Promise<Record<string, number>> {
  const key = `${SYNC}${randomUUID()}`;
  // A peer request is served by the node it is sent to, never forwarded.
  await peerTransport.client(node.url).get('scores', key);
  await waitFor(() => jsonLogs(node.proc).some((l) => l.msg === 'loaded' && l.key === key), {
    timeoutMs: 10_000,
  });
  const counts: Record<string, number> = {};
  for (const l of jsonLogs(node.proc)) {
    if (l.msg !== 'loaded' || typeof l.key !== 'string' || l.key.startsWith(SYNC)) continue;
    counts[l.key] = (counts[l.key] ?? 0) + 1;
  }
  return counts;
}

/** where maps each key to the nodes that loaded it (and how often). */
async function where(nodes: readonly Proc[], keys: readonly string[]) {
  const counts = await Promise.all(nodes.map(loads));
  const out: Record<string, string[]> = {};
  for (const key of keys) {
    out[key] = nodes.flatMap((n, i) => Array(counts[i]![key] ?? 0).fill(n.url) as string[]);
  }
  return out;
}

function assertValue(got: { status: number; body: Uint8Array; text: string }, key: string) {
  assert.equal(got.status, 200, `GET ${key}: ${got.status} ${got.text}`);
  assert.deepEqual(got.body, testValue(key), `value of ${key}`);
}

const binary = await etcdBinary();
const skip = typeof binary === 'string' ? false : binary.skip;

describe('peercache gateway with etcd', { timeout: 90_000, skip }, () => {
  const cleanup = suiteCleanup();
  const registry = cleanupAfter();
  let etcd: EtcdServer;
  let nodes: Proc[] = [];
  let gateway: Proc;

  before(async () => {
    etcd = await startEtcd({ cleanup });
    [gateway, ...nodes] = await Promise.all([
      startGateway(['--etcd', etcd.endpoint, '--service', SERVICE], registry),
      startNode(etcd.endpoint, registry),
      startNode(etcd.endpoint, registry),
      startNode(etcd.endpoint, registry),
    ]);
  });

  /** Waits until the gateway and every node list exactly `urls`. */
  const settled = (urls: readonly string[], members: readonly Proc[]) =>
    waitFor(
      async () => {
        const views = await Promise.all([gateway, ...members].map(peersOf));
        return views.every((v) => JSON.stringify(v) === JSON.stringify([...urls].sort()));
      },
      { timeoutMs: 5000, message: `everyone lists ${urls.join(', ')}` },
    );

  it('routes each get to its owner: every key loaded once, there; the gateway caches nothing', async () => {
    const urls = nodes.map((n) => n.url);
    await settled(urls, nodes);
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set(urls);
    const keys = keysPerOwner(
      urls,
      (k) => ring.get(k),
      8,
      (i) => `gw-${i}`,
    );
    // Each key twice through the gateway, concurrently: one load, on its owner.
    const answers = await Promise.all(
      [...keys, ...keys].map(async (key) => ({ key, got: await get(gateway, key) })),
    );
    for (const { key, got } of answers) assertValue(got, key);
    const loaded = await where(nodes, keys);
    for (const key of keys) assert.deepEqual(loaded[key], [ring.get(key)], `loads of ${key}`);

    const missing = await get(gateway, 'missing-1');
    assert.equal(missing.status, 404, missing.text);
    const stats = JSON.parse((await call(`${gateway.api}/stats`)).text) as {
      groups: { scores: { stats: { localLoads: number }; main: { items: number } } };
    };
    assert.equal(stats.groups.scores.stats.localLoads, 0, 'the gateway loads nothing');
    assert.equal(stats.groups.scores.main.items, 0, 'the gateway caches nothing');
    const metrics = await call(`${gateway.api}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /peercache_ring_members 3/);
    assert.equal((await call(`${gateway.api}/healthz`)).status, 200);
  });

  it('PUT and DELETE through the gateway reach the owner', async () => {
    const urls = nodes.map((n) => n.url);
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set(urls);
    const key = 'gw-written';
    const owner = nodes.find((n) => n.url === ring.get(key))!;
    const put = await call(apiUrl(gateway, key), { method: 'PUT', body: 'from the gateway' });
    assert.equal(put.status, 204, put.text);
    for (const node of nodes) {
      const got = await get(node, key);
      assert.equal(got.text, 'from the gateway', `${key} on ${node.url}`);
    }
    assert.equal((await get(gateway, key)).text, 'from the gateway');
    assert.deepEqual((await where(nodes, [key]))[key], [], 'a set value is not loaded');

    const del = await call(apiUrl(gateway, key), { method: 'DELETE' });
    assert.equal(del.status, 204, del.text);
    assertValue(await get(gateway, key), key);
    assert.deepEqual((await where(nodes, [key]))[key], [owner.url], 'reloaded on its owner');
  });

  it('follows a join and a leave, and never shows up in a node ring', async () => {
    const fourth = await startNode(etcd.endpoint, registry);
    const all = [...nodes, fourth];
    await settled(
      all.map((n) => n.url),
      all,
    );
    // The gateway is in nobody's ring, nor registered in etcd.
    const registered = await etcd.keys(`/peercache/${SERVICE}/nodes/`);
    assert.deepEqual(
      registered.map((k) => k.key.slice(`/peercache/${SERVICE}/nodes/`.length)).sort(),
      all.map((n) => n.url).sort(),
    );
    const ring4 = createRing({ kind: defaultRing('tcp') });
    ring4.set(all.map((n) => n.url));
    const theirs: string[] = [];
    for (let i = 0; theirs.length < 4; i++) {
      if (ring4.get(`join-${i}`) === fourth.url) theirs.push(`join-${i}`);
    }
    for (const key of theirs) assertValue(await get(gateway, key), key);
    let loaded = await where(all, theirs);
    for (const key of theirs) assert.deepEqual(loaded[key], [fourth.url], `loads of ${key}`);

    // The fourth node leaves: its keys go to their owners among the three.
    assert.deepEqual(await fourth.proc.stop('SIGTERM', 10_000), { code: 0, signal: null });
    await settled(
      nodes.map((n) => n.url),
      nodes,
    );
    const ring3 = createRing({ kind: defaultRing('tcp') });
    ring3.set(nodes.map((n) => n.url));
    for (const key of theirs) assertValue(await get(gateway, key), key);
    loaded = await where(nodes, theirs);
    for (const key of theirs) assert.deepEqual(loaded[key], [ring3.get(key)], `loads of ${key}`);
  });
});

describe('peercache gateway with a static list', { timeout: 90_000 }, () => {
  const registry = cleanupAfter();

  it('a key whose owner is down is answered by its fallback owner, with both down 503 naming the owner; the API warns when open', async () => {
    const [peerPort, apiPort, deadPort] = await freePorts(3);
    const url = `http://127.0.0.1:${peerPort}`;
    const dead = `http://127.0.0.1:${deadPort}`;
    const nodeArgs = ['node', '--self', url, '--api', `127.0.0.1:${apiPort}`];
    nodeArgs.push('--loader', VALUES_LOADER, '--log-level', 'debug');
    const [node, gateway] = await Promise.all([
      start(nodeArgs, `ready ${url}`, registry).then(
        (proc): Proc => ({ url, api: `http://127.0.0.1:${apiPort}`, proc }),
      ),
      startGateway(['--peers', `${url},${dead}`], registry, '0.0.0.0'),
    ]);
    assert.deepEqual(await peersOf(gateway), [url, dead].sort());
    const ring = createRing({ kind: defaultRing('tcp') });
    ring.set([url, dead]);
    const keys = Array.from({ length: 20 }, (_, i) => `static-${i}`);
    const alive = keys.filter((k) => ring.get(k) === url);
    const orphaned = keys.filter((k) => ring.get(k) === dead);
    assert.ok(alive.length > 0 && orphaned.length > 0);
    // The dead node's keys go to their fallback owner, the next member on the ring:
    // here the one live node. The gateway itself never loads.
    for (const key of keys) assertValue(await get(gateway, key), key);
    const loaded = await where([node], keys);
    for (const key of keys) assert.deepEqual(loaded[key], [url], `loads of ${key}`);
    const stats = JSON.parse((await call(`${gateway.api}/stats`)).text) as {
      groups: { scores: { stats: { localLoads: number } } };
    };
    assert.equal(stats.groups.scores.stats.localLoads, 0, 'the gateway loads nothing');
    // Listening on every interface with no token: one warning, about the API.
    const warnings = jsonLogs(gateway.proc).filter((l) => /beyond loopback/.test(String(l.msg)));
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!.msg), /^the API listens beyond loopback/);
    // With the live node gone too, a key has neither its owner nor a fallback owner.
    await node.proc.stop('SIGTERM', 10_000);
    const got = await get(gateway, orphaned[0]!);
    assert.equal(got.status, 503, got.text);
    assert.match(got.text, new RegExp(`its owner ${dead} could not be reached`));
    assert.match(got.text, /a client-only node never loads/);
    assert.deepEqual(await gateway.proc.stop('SIGTERM', 10_000), { code: 0, signal: null });
  });
});
