// session.test.ts: the etcd session loop against an in-memory etcd: registration,
// coalesced whole-set updates, keys read for addresses, lost leases re-granted,
// the last set kept while etcd is unreachable, compaction, close and failFast.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ManualClock } from '../../../test/support/manual-clock.js';
import type { Logger } from '../../core/logger.js';
import { UnavailableError } from '../../errors.js';
import { type EtcdMembershipOptions, resolveEtcdOptions } from './options.js';
import { EtcdMembership, type EtcdMembershipStatus } from './session.js';
import { FakeEtcd } from './testing.js';

const SELF = 'http://10.0.0.1:8001';
const NODES = '/peercache/peercache/nodes/';

interface Harness {
  etcd: FakeEtcd;
  membership: EtcdMembership;
  client: ReturnType<FakeEtcd['client']>;
  applied: string[][];
  clock: ManualClock;
  logs: { level: string; msg: string; fields: Record<string, unknown> }[];
  start(): Promise<void>;
  status(): EtcdMembershipStatus;
  messages(): string[];
}

function harness(
  t: TestContext,
  options: Partial<EtcdMembershipOptions> = {},
  etcd = new FakeEtcd(),
): Harness {
  const logs: Harness['logs'] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      logs.push({ level, msg, fields });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  const client = etcd.client();
  const clock = new ManualClock();
  const membership = new EtcdMembership(
    resolveEtcdOptions({
      endpoints: 'http://fake-etcd:2379',
      self: SELF,
      leaseTtlSeconds: 1,
      logger,
      metadata: { version: '9.9.9', self: 'ignored' },
      timing: { retryMinMs: 5, retryMaxMs: 20, keepaliveIntervalMs: 20, coalesceMs: 15 },
      clock,
      ...options,
    }),
    client,
  );
  t.after(() => membership.close());
  const applied: string[][] = [];
  return {
    etcd,
    membership,
    client,
    applied,
    clock,
    logs,
    start: () => membership.start((peers) => applied.push([...peers])),
    status: () => membership.status() as unknown as EtcdMembershipStatus,
    messages: () => logs.map((l) => l.msg),
  };
}

/**
 * until advances the harness's clock in small steps, letting the session and the
 * fake etcd run between them, until `predicate` holds; it gives up after a
 * minute of the clock's time.
 */
async function until(
  h: Harness,
  predicate: () => boolean,
  what: string,
  limitMs = 60_000,
): Promise<void> {
  const deadline = h.clock.now() + limitMs;
  while (!predicate()) {
    if (h.clock.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await h.clock.advance(5);
  }
}

describe('EtcdMembership', () => {
  it('registers its key under a lease with a JSON value, and applies the whole set once started', async (t) => {
    const etcd = new FakeEtcd();
    etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    const h = harness(t, {}, etcd);
    await h.start();
    const stored = etcd.kv.get(`${NODES}${SELF}`);
    assert.ok(stored, 'our key is in etcd');
    assert.ok(etcd.leases.has(stored.lease), 'attached to a live lease');
    const value = JSON.parse(new TextDecoder().decode(stored.value)) as Record<string, unknown>;
    assert.equal(value.url, SELF);
    assert.equal(value.version, '9.9.9', 'metadata is stored');
    assert.equal(value.pid, process.pid);
    assert.equal(typeof value.startedAt, 'string');
    assert.deepEqual(h.applied, [['http://10.0.0.1:8001', 'http://10.0.0.2:8001']]);
    const s = h.status();
    assert.equal(s.registered, true);
    assert.equal(s.connected, true);
    assert.equal(s.leaseId, stored.lease.toString(16));
    assert.equal(s.revision, etcd.revision);
    assert.ok(s.lastChangeAt);
    // Keepalives follow.
    const before = etcd.calls.filter((c) => c === 'keepAlive').length;
    await h.clock.advance(100);
    assert.ok(etcd.calls.filter((c) => c === 'keepAlive').length > before);
  });

  it('coalesces a burst of changes into one update of the whole set', async (t) => {
    const h = harness(t);
    await h.start();
    assert.equal(h.applied.length, 1);
    for (let i = 2; i < 12; i++) h.etcd.put(`${NODES}http://10.0.0.${i}:8001`, '{}');
    await until(h, () => h.applied.length === 2, 'the burst applied');
    await h.clock.advance(50);
    assert.equal(h.applied.length, 2, 'ten joins made one update');
    assert.equal(h.applied[1]!.length, 11);
    assert.ok(h.messages().includes('etcd members changed'));
  });

  it('takes addresses from keys: a DELETE (no value) removes the peer; junk keys are ignored', async (t) => {
    const h = harness(t);
    await h.start();
    h.etcd.put(`${NODES}http://10.0.0.2:8001`, 'not json at all');
    h.etcd.put(`${NODES}not-a-url`, '{}');
    h.etcd.put(`${NODES}http://10.0.0.3:8001/path`, '{}');
    h.etcd.put('/peercache/peercache/other', '{}');
    await until(h, () => h.applied.length === 2, 'the join applied');
    assert.deepEqual(h.applied[1], [SELF, 'http://10.0.0.2:8001']);
    h.etcd.delete(`${NODES}http://10.0.0.2:8001`);
    await until(h, () => h.applied.length === 3, 'the leave applied');
    assert.deepEqual(h.applied[2], [SELF]);
  });

  it('keeps the last set while etcd is unreachable, then re-registers under a new lease', async (t) => {
    const etcd = new FakeEtcd();
    etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    const h = harness(t, {}, etcd);
    await h.start();
    const oldLease = h.etcd.kv.get(`${NODES}${SELF}`)!.lease;
    h.client.down = true;
    await until(h, () => h.status().connected === false, 'the loss noticed');
    assert.ok(h.status().lastError?.includes('unreachable'));
    // Longer than the 1 s TTL: this side must count its lease as lost.
    await h.clock.advance(1200);
    assert.equal(h.status().registered, false);
    assert.deepEqual(h.applied, [[SELF, 'http://10.0.0.2:8001']], 'nothing applied while down');
    h.client.down = false;
    await until(h, () => h.status().registered && h.status().connected, 're-registered');
    const stored = h.etcd.kv.get(`${NODES}${SELF}`)!;
    assert.notEqual(stored.lease, oldLease, 'a new lease');
    await until(h, () => !h.etcd.leases.has(oldLease), 'the stale lease revoked');
    await h.clock.advance(50);
    assert.deepEqual(h.applied, [[SELF, 'http://10.0.0.2:8001']], 'the set never changed');
    const msgs = h.messages();
    assert.equal(
      msgs.filter((m) => m === 'etcd connection lost').length,
      1,
      'one line for the loss',
    );
    assert.equal(msgs.filter((m) => m === 'etcd connection restored').length, 1);
    assert.ok(msgs.includes('etcd lease lost: re-granting'));
  });

  it('re-grants at once when a keepalive says the lease is gone (TTL 0)', async (t) => {
    const h = harness(t);
    await h.start();
    const lease = h.etcd.kv.get(`${NODES}${SELF}`)!.lease;
    h.etcd.leases.delete(lease); // gone without deleting the key: only the keepalive can tell
    await until(h, () => h.etcd.kv.get(`${NODES}${SELF}`)?.lease !== lease, 're-registered');
    assert.ok(h.etcd.leases.has(h.etcd.kv.get(`${NODES}${SELF}`)!.lease));
    const lost = h.logs.find((l) => l.msg === 'etcd lease lost: re-granting');
    assert.equal(lost?.fields.reason, 'etcd says it expired or was revoked');
  });

  it('puts its key again when someone deletes it, and re-grants when its lease is revoked', async (t) => {
    const h = harness(t, { timing: { keepaliveIntervalMs: 60_000, coalesceMs: 5 } });
    await h.start();
    h.etcd.delete(`${NODES}${SELF}`);
    await until(h, () => h.etcd.kv.has(`${NODES}${SELF}`), 'the key put back');
    const lease = h.etcd.kv.get(`${NODES}${SELF}`)!.lease;
    h.etcd.expire(lease);
    // The keepalive is a minute away: the watch must notice.
    await until(
      h,
      () => (h.etcd.kv.get(`${NODES}${SELF}`)?.lease ?? lease) !== lease,
      'a new lease',
    );
    assert.ok(h.messages().includes('our etcd key was deleted: registering again'));
  });

  it('reads the whole set afresh when its watch revision was compacted while cut off', async (t) => {
    const etcd = new FakeEtcd();
    etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    const h = harness(t, { leaseTtlSeconds: 60, timing: { keepaliveIntervalMs: 60_000 } }, etcd);
    await h.start();
    h.client.down = true;
    await until(h, () => h.status().connected === false, 'cut off');
    etcd.delete(`${NODES}http://10.0.0.2:8001`);
    etcd.put(`${NODES}http://10.0.0.3:8001`, '{}');
    etcd.compact();
    h.client.down = false;
    await until(h, () => h.applied.length === 2, 'the new set applied');
    assert.deepEqual(h.applied[1], [SELF, 'http://10.0.0.3:8001']);
    assert.ok(h.messages().includes('etcd watch revision compacted: reading the whole set again'));
    assert.equal(h.status().revision, etcd.revision);
  });

  it('resumes a broken watch from the next revision, missing no change', async (t) => {
    const h = harness(t, { leaseTtlSeconds: 60, timing: { keepaliveIntervalMs: 60_000 } });
    await h.start();
    h.client.down = true;
    await until(h, () => h.status().connected === false, 'cut off');
    h.etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    h.etcd.put(`${NODES}http://10.0.0.3:8001`, '{}');
    h.etcd.delete(`${NODES}http://10.0.0.3:8001`);
    const ranges = h.etcd.calls.filter((c) => c === 'range').length;
    h.client.down = false;
    await until(h, () => h.applied.length === 2, 'the change applied');
    assert.deepEqual(h.applied[1], [SELF, 'http://10.0.0.2:8001']);
    assert.equal(h.etcd.calls.filter((c) => c === 'range').length, ranges, 'no fresh read needed');
  });

  it('reads afresh when etcd turns out to be another cluster', async (t) => {
    const h = harness(t, { leaseTtlSeconds: 60, timing: { keepaliveIntervalMs: 60_000 } });
    await h.start();
    h.client.down = true;
    await until(h, () => h.status().connected === false, 'cut off');
    h.etcd.clusterId = '2';
    h.etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    h.client.down = false;
    await until(
      h,
      () => h.messages().includes('etcd is a different cluster now: reading the whole set again'),
      'resync',
    );
    await until(h, () => h.applied.length === 2, 'the set applied');
  });

  it('close revokes the lease at once, stops everything, and is idempotent', async (t) => {
    const h = harness(t);
    await h.start();
    const lease = h.etcd.kv.get(`${NODES}${SELF}`)!.lease;
    await Promise.all([h.membership.close(), h.membership.close()]);
    assert.equal(h.etcd.kv.has(`${NODES}${SELF}`), false, 'the key is gone');
    assert.equal(h.etcd.leases.has(lease), false);
    assert.equal(h.etcd.watchers, 0);
    assert.equal(h.client.closed, true);
    const calls = h.etcd.calls.length;
    h.etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    await h.clock.advance(60);
    assert.equal(h.etcd.calls.length, calls, 'no call after close');
    assert.equal(h.applied.length, 1, 'no apply after close');
    assert.equal(h.status().registered, false);
    await assert.rejects(h.start(), UnavailableError);
  });

  it('close with etcd unreachable resolves and says the lease will run out', async (t) => {
    const h = harness(t);
    await h.start();
    h.client.down = true;
    await h.membership.close();
    assert.ok(
      h
        .messages()
        .includes('could not revoke the etcd lease: peers drop this node when it expires'),
    );
  });

  it('without failFast, an unreachable etcd at start resolves, keeps retrying and joins later', async (t) => {
    const h = harness(t);
    h.client.down = true;
    await h.start();
    assert.deepEqual(h.applied, [], 'no set applied without etcd');
    assert.equal(h.status().connected, false);
    assert.ok(h.status().lastError);
    assert.ok(h.messages().includes('etcd not ready yet: retrying in the background'));
    await h.clock.advance(50);
    h.client.down = false;
    // Discovery may read before registration puts: the set ends with this node.
    await until(
      h,
      () => h.status().registered && JSON.stringify(h.applied.at(-1)) === JSON.stringify([SELF]),
      'joined',
    );
  });

  it('with failFast, an unreachable etcd at start rejects and stops', async (t) => {
    const h = harness(t, { failFast: true });
    h.client.down = true;
    await assert.rejects(h.start(), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.match(err.message, /cannot reach etcd at http:\/\/fake-etcd:2379/);
      return true;
    });
    const calls = h.etcd.calls.length;
    h.client.down = false;
    await h.clock.advance(60);
    assert.equal(h.etcd.calls.length, calls, 'no retries after a fail-fast start');
  });

  it('without self it only watches: no lease, no key', async (t) => {
    const etcd = new FakeEtcd();
    etcd.put(`${NODES}http://10.0.0.2:8001`, '{}');
    const h = harness(t, { self: undefined }, etcd);
    await h.start();
    assert.deepEqual(h.applied, [['http://10.0.0.2:8001']]);
    assert.equal(etcd.leases.size, 0);
    assert.ok(!etcd.calls.includes('grant') && !etcd.calls.includes('put'));
    assert.equal(h.status().leaseId, null);
    assert.equal(h.status().registered, false);
  });
});
