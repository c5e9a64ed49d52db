// etcd.test.ts: etcd membership against a real etcd: nodes join and agree on one
// ring, leave (gracefully, SIGTERM, SIGKILL) and rejoin, ride out etcd going
// down under load, re-register after a revoked lease, read afresh after a
// compaction, fail clearly (or keep retrying) on bad or unreachable etcd, and
// talk to etcd with a password or over TLS with a client certificate.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../src/core/logger.js';
import { InvalidArgumentError, UnauthenticatedError, UnavailableError } from '../src/errors.js';
import { createEtcdMembership, type EtcdMembershipOptions } from '../src/membership/etcd/index.js';
import type { EtcdMembershipStatus } from '../src/membership/etcd/session.js';
import type { Membership } from '../src/membership/membership.js';
import { type CacheNode, createNode } from '../src/node/node.js';
import {
  type EtcdServer,
  etcdBinary,
  startEtcd,
  startTcpProxy,
  suiteCleanup,
} from './support/etcd.js';
import {
  cleanupAfter,
  freePorts,
  type ManagedProcess,
  startProcess,
  waitFor,
} from './support/process.js';
import { testValue } from './support/values.js';

const binary = await etcdBinary();
const skip = typeof binary === 'string' ? false : binary.skip;

/** TTL is the lease TTL of the test nodes, short so a killed node leaves quickly. */
const TTL = 2;
/** Test timers: quick retries, so recovery is bounded by etcd, not by our backoff. */
const TIMING = { retryMinMs: 50, retryMaxMs: 250, coalesceMs: 20 };
const FIXTURE = 'test/fixtures/etcd-node.ts';

/** LogEntry is one captured log line. */
interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function captureLogger(into: LogEntry[]): Logger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      into.push({ level, msg, fields });
    };
  return { debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Member is an in-process node with etcd membership. */
interface Member {
  url: string;
  node: CacheNode;
  membership: Membership;
  logs: LogEntry[];
  status(): EtcdMembershipStatus;
  ring(): string[];
}

/** Every in-process node started here, closed after the file. */
const started: CacheNode[] = [];
after(async () => {
  await Promise.all(started.map((n) => n.close()));
});

let serviceCount = 0;
/** freshService names a service of its own, so one test's keys never meet another's. */
const freshService = () => `svc${++serviceCount}-${process.pid}`;

async function member(
  endpoints: string | string[],
  service: string,
  extra: Partial<EtcdMembershipOptions> = {},
  url?: string,
): Promise<Member> {
  const self = url ?? `http://127.0.0.1:${(await freePorts(1))[0]}`;
  const logs: LogEntry[] = [];
  const membership = createEtcdMembership({
    endpoints,
    self,
    service,
    leaseTtlSeconds: TTL,
    logger: captureLogger(logs),
    timing: TIMING,
    ...extra,
  });
  const node = createNode({ self, membership });
  started.push(node);
  node.newGroup('scores', { cacheBytes: 0, load: (key) => testValue(key) });
  await node.listen();
  return {
    url: self,
    node,
    membership,
    logs,
    status: () => membership.status?.() as unknown as EtcdMembershipStatus,
    ring: () => node.peers().peers,
  };
}

const sorted = (urls: Iterable<string>) => [...urls].sort();

/** ringsAre waits up to `timeoutMs` until every node's ring is exactly `urls`. */
async function ringsAre(nodes: readonly Member[], urls: readonly string[], timeoutMs: number) {
  const want = JSON.stringify(sorted(urls));
  await waitFor(
    () => {
      const rings = nodes.map((n) => JSON.stringify(n.ring()));
      if (rings.every((r) => r === want)) return true;
      throw new Error(`rings are ${rings.join(' ')}`);
    },
    { timeoutMs, intervalMs: 10, message: `every ring = ${want}` },
  );
}

/** keysOf lists the peer URLs registered under `service` in etcd, read with etcd's JSON API. */
async function keysOf(etcd: EtcdServer, service: string) {
  const prefix = `/peercache/${service}/nodes/`;
  const keys = await etcd.keys(prefix);
  return keys.map((k) => ({ ...k, url: k.key.slice(prefix.length) }));
}

/** fixtureNode starts test/fixtures/etcd-node.ts as a real process. */
async function fixtureNode(
  registry: ReturnType<typeof cleanupAfter>,
  endpoint: string,
  service: string,
  self: string,
): Promise<{ proc: ManagedProcess; apiUrl: string }> {
  const [apiPort] = await freePorts(1);
  const proc = await startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      FIXTURE,
      `--self=${self}`,
      `--etcd=${endpoint}`,
      `--api-port=${apiPort}`,
      `--lease-ttl=${TTL}`,
      `--service=${service}`,
    ],
    { readyLine: 'ready', timeoutMs: 30_000, registry },
  );
  return { proc, apiUrl: `http://127.0.0.1:${apiPort}` };
}

async function peersOf(apiUrl: string): Promise<string[]> {
  const res = await fetch(`${apiUrl}/peers`, { signal: AbortSignal.timeout(2000) });
  return ((await res.json()) as { peers: string[] }).peers;
}

describe('etcd membership against a real etcd', { skip, timeout: 180_000 }, () => {
  let etcd: EtcdServer;
  const registry = cleanupAfter();
  const cleanup = suiteCleanup();

  before(async () => {
    etcd = await startEtcd({ cleanup });
  });

  it('3 nodes joining see the same 3-member ring within 2 s, registered as the key says', async () => {
    const service = freshService();
    const t0 = Date.now();
    const nodes = await Promise.all([0, 1, 2].map(() => member(etcd.endpoint, service)));
    const urls = nodes.map((n) => n.url);
    await ringsAre(nodes, urls, Math.max(0, 2000 - (Date.now() - t0)));
    const keys = await keysOf(etcd, service);
    assert.deepEqual(sorted(keys.map((k) => k.url)), sorted(urls));
    for (const k of keys) {
      const value = JSON.parse(k.value) as Record<string, unknown>;
      assert.equal(value.url, k.url, 'the value names the same URL as the key');
      assert.equal(typeof value.startedAt, 'string');
      assert.equal(value.pid, process.pid);
      assert.notEqual(k.lease, '0', `${k.url} is attached to a lease`);
    }
    for (const n of nodes) {
      const s = n.status();
      assert.equal(s.connected, true);
      assert.equal(s.registered, true);
      assert.equal(
        BigInt(`0x${s.leaseId}`),
        BigInt.asUintN(64, BigInt(keys.find((k) => k.url === n.url)!.lease)),
      );
      assert.equal(n.node.peers().source, 'etcd');
    }
    await Promise.all(nodes.map((n) => n.node.close()));
  });

  it('a node closed gracefully leaves the others within 1 s; a watch-only membership never registers', async () => {
    const service = freshService();
    const nodes = await Promise.all([0, 1, 2].map(() => member(etcd.endpoint, service)));
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      2000,
    );
    const watcherSets: (readonly string[])[] = [];
    const watcher = createEtcdMembership({ endpoints: etcd.endpoint, service, timing: TIMING });
    await watcher.start((peers) => watcherSets.push(peers));
    assert.deepEqual(watcherSets.at(-1), sorted(nodes.map((n) => n.url)));

    const [gone, ...stay] = nodes as [Member, Member, Member];
    const t0 = Date.now();
    await gone.node.close();
    await ringsAre(
      stay,
      stay.map((n) => n.url),
      Math.max(0, 1000 - (Date.now() - t0)),
    );
    assert.deepEqual(
      sorted((await keysOf(etcd, service)).map((k) => k.url)),
      sorted(stay.map((n) => n.url)),
    );
    await waitFor(() => watcherSets.at(-1)?.length === 2, { timeoutMs: 1000 });
    assert.equal(gone.status().leaseId, null, 'the closed node holds no lease');
    await watcher.close();
    await watcher.close(); // idempotent
    await Promise.all(stay.map((n) => n.node.close()));
  });

  it('a process ended by SIGTERM leaves within 1 s, one killed by SIGKILL within TTL + 2 s, and a restarted one rejoins', async () => {
    const service = freshService();
    const nodes = await Promise.all([0, 1].map(() => member(etcd.endpoint, service)));
    const [childPort] = await freePorts(1);
    const childUrl = `http://127.0.0.1:${childPort}`;
    const all = [...nodes.map((n) => n.url), childUrl];

    let child = await fixtureNode(registry, etcd.endpoint, service, childUrl);
    await ringsAre(nodes, all, 2000);
    await waitFor(
      async () => JSON.stringify(await peersOf(child.apiUrl)) === JSON.stringify(sorted(all)),
      {
        timeoutMs: 2000,
        message: 'the child agrees on the ring',
      },
    );

    // SIGTERM: the fixture closes the node, which revokes its lease.
    const t0 = Date.now();
    const status = await child.proc.stop('SIGTERM', 5000);
    assert.equal(status.code, 0, `clean exit\n${child.proc.stderr.join('\n')}`);
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      Math.max(0, 1000 - (Date.now() - t0)),
    );
    assert.ok(
      child.proc.stderr.some((l) => l.includes('left etcd: lease revoked')),
      'the child revoked its lease on the way out',
    );

    // A restarted node (same URL) rejoins.
    child = await fixtureNode(registry, etcd.endpoint, service, childUrl);
    await ringsAre(nodes, all, 2000);

    // SIGKILL: nothing revokes the lease; the others drop the node when it expires.
    await child.proc.kill();
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      TTL * 1000 + 2000,
    );
    assert.deepEqual(
      sorted((await keysOf(etcd, service)).map((k) => k.url)),
      sorted(nodes.map((n) => n.url)),
    );
    await Promise.all(nodes.map((n) => n.node.close()));
  });

  it("a lease revoked behind the node's back is re-granted and the node re-registered", async () => {
    const service = freshService();
    const nodes = await Promise.all([0, 1, 2].map(() => member(etcd.endpoint, service)));
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      2000,
    );
    const victim = nodes[1]!;
    const before = victim.status().leaseId!;
    await etcd.revoke(before, 16);
    await waitFor(
      async () => {
        const s = victim.status();
        const keys = await keysOf(etcd, service);
        const key = keys.find((k) => k.url === victim.url);
        return (
          s.registered &&
          s.leaseId !== before &&
          key !== undefined &&
          BigInt.asUintN(64, BigInt(key.lease)).toString(16) === s.leaseId
        );
      },
      { timeoutMs: 3000, message: 're-registered under a new lease' },
    );
    assert.ok(victim.logs.some((l) => l.msg === 'etcd lease lost: re-granting'));
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      2000,
    );
    await Promise.all(nodes.map((n) => n.node.close()));
  });

  it('a watcher cut off past a compaction reads the whole set afresh and ends up right', async () => {
    const service = freshService();
    const proxy = await startTcpProxy(etcd.endpoint);
    // A's lease outlives the cut, so only its watch has to recover.
    const a = await member(proxy.endpoint, service, { leaseTtlSeconds: 10 });
    const b = await member(etcd.endpoint, service);
    await ringsAre([a, b], [a.url, b.url], 2000);

    proxy.cut();
    await waitFor(() => a.status().connected === false, {
      timeoutMs: 5000,
      message: 'A notices the cut',
    });
    const c = await member(etcd.endpoint, service);
    await b.node.close();
    for (let i = 0; i < 5; i++) await etcd.put(`/peercache/${service}/other/${i}`, 'x');
    const compacted = await etcd.compact();
    assert.ok(
      compacted > a.status().revision + 1,
      'the compaction passed the revision A watches from',
    );
    assert.deepEqual(a.ring(), sorted([a.url, b.url]), 'while cut off, A keeps its last set');
    proxy.restore();

    await ringsAre([a, c], [a.url, c.url], 5000);
    assert.ok(
      a.logs.some((l) => l.msg === 'etcd watch revision compacted: reading the whole set again'),
      'A found its revision compacted and read afresh',
    );
    assert.ok(a.status().revision >= compacted);
    await Promise.all([a, c].map((n) => n.node.close()));
    await proxy.close();
  });

  it('with a dead endpoint listed first, calls move on to the next one', async () => {
    const [dead] = await freePorts(1);
    const service = freshService();
    const a = await member([`http://127.0.0.1:${dead}`, etcd.endpoint], service);
    const b = await member(etcd.endpoint, service);
    await ringsAre([a, b], [a.url, b.url], 3000);
    assert.equal(a.status().registered, true);
    await Promise.all([a, b].map((n) => n.node.close()));
  });

  it('bad input: a malformed endpoint is an InvalidArgumentError at construction', () => {
    for (const endpoints of [
      'not a url',
      'ftp://127.0.0.1:2379',
      'http://127.0.0.1:2379/v3',
      'localhost:2379',
      'http://user:pw@127.0.0.1:2379',
    ]) {
      assert.throws(
        () => createEtcdMembership({ endpoints, self: 'http://127.0.0.1:1' }),
        (err: unknown) => err instanceof InvalidArgumentError && /etcd endpoint/.test(err.message),
        endpoints,
      );
    }
    assert.throws(() => createEtcdMembership({ endpoints: [] }), InvalidArgumentError);
    assert.throws(
      () => createEtcdMembership({ endpoints: etcd.endpoint, self: 'http://127.0.0.1:1/' }),
      InvalidArgumentError,
    );
  });
});

describe('etcd membership when etcd goes down', { skip, timeout: 120_000 }, () => {
  it('under steady gets, with etcd killed until every lease has run out: no failed get, no peer dropped, all re-registered with new leases', async () => {
    const etcd = await startEtcd();
    const service = freshService();
    const nodes = await Promise.all([0, 1, 2].map(() => member(etcd.endpoint, service)));
    const urls = sorted(nodes.map((n) => n.url));
    await ringsAre(nodes, urls, 2000);
    const oldLeases = nodes.map((n) => n.status().leaseId);

    let stop = false;
    let gets = 0;
    const failures: string[] = [];
    const ringChanges: string[] = [];
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const node = nodes[i % 3]!;
        const key = `key-${i % 200}`;
        try {
          const view = await node.node.getGroup('scores')!.get(key);
          if (!view.equalBytes(testValue(key)!)) throw new Error('wrong value');
          gets++;
        } catch (err) {
          failures.push(`${key} via ${node.url}: ${(err as Error).message}`);
        }
        for (const n of nodes) {
          if (JSON.stringify(n.ring()) !== JSON.stringify(urls))
            ringChanges.push(JSON.stringify(n.ring()));
        }
        // Let the peers' sockets and etcd's stream be served between bursts of gets.
        if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    await waitFor(() => gets >= 50, { message: 'the load under way' });
    await etcd.kill();
    // The outage outlasts every lease: etcd's TTL runs in real time on the server,
    // so this waits (about TTL) until each node counts its lease as lost.
    await waitFor(() => nodes.every((n) => !n.status().registered), {
      timeoutMs: 4 * TTL * 1000,
      intervalMs: 50,
      message: 'every node saw its lease run out while etcd was down',
    });
    for (const n of nodes) {
      const s = n.status();
      assert.equal(s.connected, false, `${n.url} knows etcd is down`);
      assert.ok(s.lastError, 'status shows the error');
    }
    await etcd.restart();
    await waitFor(
      async () => {
        const keys = await keysOf(etcd, service);
        return (
          keys.length === 3 &&
          nodes.every((n, i) => {
            const s = n.status();
            const key = keys.find((k) => k.url === n.url);
            return (
              s.registered &&
              s.connected &&
              s.leaseId !== oldLeases[i] &&
              key !== undefined &&
              BigInt.asUintN(64, BigInt(key.lease)).toString(16) === s.leaseId
            );
          })
        );
      },
      { timeoutMs: 5000, intervalMs: 50, message: 'every node registered again under a new lease' },
    );
    const recovered = gets;
    await waitFor(() => gets >= recovered + 50, { message: 'the load going on after recovery' });
    stop = true;
    await load;

    assert.deepEqual(failures, [], 'no get failed');
    assert.ok(gets > 100, `the load kept going (${gets} gets)`);
    assert.deepEqual(ringChanges, [], 'no node dropped a peer');
    const peerErrors = nodes.reduce(
      (sum, n) => sum + n.node.getGroup('scores')!.stats.peerErrors,
      0,
    );
    assert.equal(peerErrors, 0, 'every get reached its owner');
    await ringsAre(nodes, urls, 1000);
    for (const n of nodes) {
      assert.ok(n.logs.some((l) => l.msg === 'etcd connection lost'));
      assert.ok(n.logs.some((l) => l.msg === 'etcd connection restored'));
    }
    await Promise.all(nodes.map((n) => n.node.close()));
  });

  it('an unreachable endpoint: the node starts, keeps retrying with the error in its status, and joins once etcd is up', async () => {
    const [port] = await freePorts(1);
    const endpoint = `http://127.0.0.1:${port}`;
    const service = freshService();
    const lonely = await member(endpoint, service);
    const s = lonely.status();
    assert.equal(s.connected, false);
    assert.equal(s.registered, false);
    assert.match(String(s.lastError), /127\.0\.0\.1/);
    assert.deepEqual(lonely.ring(), [lonely.url], 'alone until etcd answers');
    assert.ok(lonely.logs.some((l) => l.msg === 'etcd not ready yet: retrying in the background'));

    const etcd = await startEtcd({ clientPort: port });
    const other = await member(etcd.endpoint, service);
    await ringsAre([lonely, other], [lonely.url, other.url], 3000);
    assert.equal(lonely.status().registered, true);
    await Promise.all([lonely, other].map((n) => n.node.close()));
  });

  it('failFast: start rejects with UnavailableError when etcd cannot be reached', async () => {
    const [port] = await freePorts(1);
    await assert.rejects(
      member(`http://127.0.0.1:${port}`, freshService(), { failFast: true }),
      (err: unknown) => err instanceof UnavailableError && /cannot reach etcd/.test(err.message),
    );
  });
});

describe('etcd membership with authentication and TLS', { skip, timeout: 60_000 }, () => {
  it('registers with the right password; failFast rejects a wrong one with UnauthenticatedError', async () => {
    const etcd = await startEtcd();
    const service = freshService();
    const credentials = { username: 'root', password: 'secret' };
    // The first node has credentials before etcd's auth is on: it goes on without a
    // token, then authenticates once etcd asks for one.
    const early = await member(etcd.endpoint, service, credentials);
    await etcd.call('/v3/auth/role/add', { name: 'root' });
    await etcd.call('/v3/auth/user/add', { name: 'root', password: 'secret' });
    await etcd.call('/v3/auth/user/grant', { user: 'root', role: 'root' });
    await etcd.call('/v3/auth/enable', {});
    const late = await member(etcd.endpoint, service, credentials);
    const nodes = [early, late];
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      2000,
    );
    assert.ok(nodes.every((n) => n.status().registered));
    await assert.rejects(
      member(etcd.endpoint, service, { username: 'root', password: 'wrong', failFast: true }),
      (err: unknown) =>
        err instanceof UnauthenticatedError && /authentication failed/.test(err.message),
    );
    // Revoking needs a token now: the early node gets one and leaves at once.
    await early.node.close();
    assert.ok(early.logs.some((l) => l.msg === 'left etcd: lease revoked'));
    await ringsAre([late], [late.url], 1000);
    await late.node.close();
  });

  it('registers over TLS with a client certificate; without one etcd cannot be reached', async () => {
    const etcd = await startEtcd({ tls: true });
    assert.match(etcd.endpoint, /^https:/);
    const service = freshService();
    const nodes = await Promise.all(
      [0, 1].map(() => member(etcd.endpoint, service, { tls: etcd.tls })),
    );
    await ringsAre(
      nodes,
      nodes.map((n) => n.url),
      2000,
    );
    assert.deepEqual(
      sorted((await keysOf(etcd, service)).map((k) => k.url)),
      sorted(nodes.map((n) => n.url)),
    );
    await assert.rejects(
      member(etcd.endpoint, service, { tls: { ca: etcd.tls!.ca }, failFast: true }),
      UnavailableError,
    );
    await Promise.all(nodes.map((n) => n.node.close()));
  });
});
