// session.test.ts: DNS membership driven by a manual clock and a fake resolver: sets
// applied on change only, failures and empty answers keeping the last set, SRV ports,
// jitter, logging once per streak, and close.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { InvalidArgumentError } from '../../errors.js';
import { recordingLogger } from '../../util/limits-testing.js';
import { createDnsMembership, type DnsMembershipOptions } from './index.js';
import type { DnsResolver, SrvAnswer } from './lookup.js';

type Answer<T> = T[] | { code: string };

/** FakeResolver answers from tables the test edits; a name it does not know has no records. */
class FakeResolver implements DnsResolver {
  a = new Map<string, Answer<string>>();
  aaaa = new Map<string, Answer<string>>();
  srv = new Map<string, Answer<SrvAnswer>>();
  queries = 0;
  cancelled = 0;
  #answer<T>(table: Map<string, Answer<T>>, name: string): Promise<T[]> {
    this.queries++;
    const found = table.get(name);
    if (found === undefined) {
      return Promise.reject(
        Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' }),
      );
    }
    if (!Array.isArray(found)) {
      return Promise.reject(Object.assign(new Error(`query ${found.code} ${name}`), found));
    }
    return Promise.resolve([...found]);
  }
  resolve4(name: string) {
    return this.#answer(this.a, name);
  }
  resolve6(name: string) {
    return this.#answer(this.aaaa, name);
  }
  resolveSrv(name: string) {
    return this.#answer(this.srv, name);
  }
  cancel() {
    this.cancelled++;
  }
}

/** logs records a membership's log lines, with a count of those matching a message. */
function logs() {
  const { logger, lines } = recordingLogger();
  return { logger, said: (msg: RegExp) => lines.filter((l) => msg.test(l.message)).length };
}

const SELF = 'http://127.0.0.1:8001';
const NAME = 'cache.test';

function setup(options: Partial<DnsMembershipOptions> = {}) {
  const clock = new ManualClock();
  const resolver = new FakeResolver();
  const log = logs();
  const applied: string[][] = [];
  const membership = createDnsMembership({
    name: NAME,
    self: SELF,
    intervalMs: 1000,
    jitter: 0,
    clock,
    resolver,
    logger: log.logger,
    ...options,
  });
  const start = () => membership.start((peers) => applied.push([...peers]));
  return { clock, resolver, log, applied, membership, start };
}

describe('DNS membership: A/AAAA records', () => {
  test('applies the addresses with the port, self included, and again only when the set changes', async () => {
    const { clock, resolver, applied, start, membership } = setup();
    resolver.a.set(NAME, ['127.0.0.3', '127.0.0.2']);
    await start();
    assert.deepEqual(applied, [
      ['http://127.0.0.1:8001', 'http://127.0.0.2:8001', 'http://127.0.0.3:8001'],
    ]);

    resolver.a.set(NAME, ['127.0.0.2', '127.0.0.3', '127.0.0.1']); // same set, other order
    await clock.advance(1000);
    assert.equal(applied.length, 1);

    resolver.a.set(NAME, ['127.0.0.2', '127.0.0.4']); // one leaves, one joins: one step
    await clock.advance(1000);
    assert.deepEqual(applied[1], [
      'http://127.0.0.1:8001',
      'http://127.0.0.2:8001',
      'http://127.0.0.4:8001',
    ]);
    assert.equal(applied.length, 2);
    assert.equal(membership.status?.().members, 3);
    await membership.close();
  });

  test('reads AAAA too, writing IPv6 hosts in brackets; family 4 asks for A only', async () => {
    const both = setup({ self: undefined, port: 9000 });
    both.resolver.a.set(NAME, ['10.0.0.1']);
    both.resolver.aaaa.set(NAME, ['fd00::1']);
    await both.start();
    assert.deepEqual(both.applied, [['http://10.0.0.1:9000', 'http://[fd00::1]:9000']]);
    await both.membership.close();

    const v4 = setup({ self: undefined, port: 9000, family: 4 });
    v4.resolver.a.set(NAME, ['10.0.0.1']);
    v4.resolver.aaaa.set(NAME, { code: 'ETIMEOUT' }); // never asked
    await v4.start();
    assert.deepEqual(v4.applied, [['http://10.0.0.1:9000']]);
    await v4.membership.close();
  });

  test('polls every intervalMs, spread by jitter', async () => {
    const low = setup({ jitter: 0.2, random: () => 0 });
    low.resolver.a.set(NAME, ['127.0.0.2']);
    await low.start();
    assert.deepEqual(low.clock.delays, [800]);
    await low.membership.close();

    const high = setup({ jitter: 0.2, random: () => 0.5 });
    high.resolver.a.set(NAME, ['127.0.0.2']);
    await high.start();
    assert.deepEqual(high.clock.delays, [1000]);
    const before = high.resolver.queries;
    await high.clock.advance(999);
    assert.equal(high.resolver.queries, before);
    await high.clock.advance(1);
    assert.ok(high.resolver.queries > before);
    await high.membership.close();
  });
});

describe('DNS membership: failures and empty answers', () => {
  test('a failed lookup keeps the last set, logged once per streak', async () => {
    const { clock, resolver, applied, start, log, membership } = setup();
    resolver.a.set(NAME, ['127.0.0.2']);
    await start();
    resolver.a.set(NAME, { code: 'ECONNREFUSED' });
    await clock.advance(5000);
    assert.equal(applied.length, 1, 'no set applied during the outage');
    assert.equal(log.said(/dns lookup failed/), 1);
    const status = membership.status?.() ?? {};
    assert.equal(status.failedLookups, 5);
    assert.match(String(status.lastError), /ECONNREFUSED/);

    resolver.a.set(NAME, ['127.0.0.2', '127.0.0.3']);
    await clock.advance(1000);
    assert.equal(log.said(/dns lookup answered again/), 1);
    assert.deepEqual(applied[1], [
      'http://127.0.0.1:8001',
      'http://127.0.0.2:8001',
      'http://127.0.0.3:8001',
    ]);
    assert.equal(membership.status?.().failedLookups, 0);

    resolver.a.set(NAME, { code: 'ESERVFAIL' }); // a new streak logs again
    await clock.advance(1000);
    assert.equal(log.said(/dns lookup failed/), 2);
    await membership.close();
  });

  test('an empty answer keeps the last set until emptyPolls lookups in a row agree', async () => {
    const { clock, resolver, applied, start, log, membership } = setup({ emptyPolls: 3 });
    resolver.a.set(NAME, ['127.0.0.2']);
    await start();
    resolver.a.delete(NAME); // NXDOMAIN
    await clock.advance(2000);
    assert.equal(applied.length, 1, 'two empty answers: the set stays');
    assert.equal(log.said(/no records: keeping/), 1);
    await clock.advance(1000);
    assert.deepEqual(applied[1], [SELF], 'the third: this node only');
    assert.equal(log.said(/still no records/), 1);
    await clock.advance(3000);
    assert.equal(applied.length, 2);
    await membership.close();
  });

  test('an empty answer between answers does not count toward emptyPolls', async () => {
    const { clock, resolver, applied, start, membership } = setup({ emptyPolls: 2 });
    resolver.a.set(NAME, ['127.0.0.2']);
    await start();
    for (let i = 0; i < 4; i++) {
      resolver.a.set(NAME, { code: 'ENODATA' });
      await clock.advance(1000);
      resolver.a.set(NAME, ['127.0.0.2']);
      await clock.advance(1000);
    }
    assert.equal(applied.length, 1);
    await membership.close();
  });

  test('the first lookup is applied even when empty, and a failed first lookup applies nothing', async () => {
    const empty = setup();
    await empty.start();
    assert.deepEqual(empty.applied, [[SELF]]);
    await empty.membership.close();

    const failed = setup();
    failed.resolver.a.set(NAME, { code: 'ETIMEOUT' });
    await failed.start();
    assert.deepEqual(failed.applied, []);
    failed.resolver.a.set(NAME, ['127.0.0.2']);
    await failed.clock.advance(1000);
    assert.deepEqual(failed.applied, [[SELF, 'http://127.0.0.2:8001']]);
    await failed.membership.close();
  });
});

describe('DNS membership: SRV records', () => {
  test('each target resolved to its addresses, with the port of its record', async () => {
    const { resolver, applied, start, membership } = setup({
      name: '_peer._tcp.cache.test',
      srv: true,
    });
    resolver.srv.set('_peer._tcp.cache.test', [
      { name: 'a.cache.test', port: 8001, priority: 0, weight: 0 },
      { name: 'b.cache.test', port: 8002, priority: 0, weight: 0 },
      { name: 'gone.cache.test', port: 8003, priority: 0, weight: 0 },
    ]);
    resolver.a.set('a.cache.test', ['127.0.0.1']);
    resolver.a.set('b.cache.test', ['127.0.0.1', '127.0.0.2']);
    await start();
    assert.deepEqual(applied, [
      ['http://127.0.0.1:8001', 'http://127.0.0.1:8002', 'http://127.0.0.2:8002'],
    ]);
    assert.equal(membership.status?.().records, 'SRV');
    await membership.close();
  });

  test('a target whose lookup fails fails the whole lookup', async () => {
    const { clock, resolver, applied, start, membership } = setup({ name: '_p._tcp.c', srv: true });
    resolver.srv.set('_p._tcp.c', [{ name: 'a.c', port: 8002, priority: 0, weight: 0 }]);
    resolver.a.set('a.c', ['127.0.0.2']);
    await start();
    resolver.a.set('a.c', { code: 'ETIMEOUT' });
    await clock.advance(1000);
    assert.equal(applied.length, 1);
    assert.equal(membership.status?.().failedLookups, 1);
    await membership.close();
  });
});

describe('DNS membership: lifecycle and options', () => {
  test('close stops polling, cancels queries, and is idempotent; start after close rejects', async () => {
    const { clock, resolver, start, membership } = setup();
    resolver.a.set(NAME, ['127.0.0.2']);
    await start();
    await Promise.all([membership.close(), membership.close()]);
    assert.equal(resolver.cancelled, 1);
    assert.deepEqual(clock.delays, []);
    const queries = resolver.queries;
    await clock.advance(10_000);
    assert.equal(resolver.queries, queries);
    await assert.rejects(
      membership.start(() => {}),
      /closed/,
    );
  });

  test('bad options throw InvalidArgumentError', () => {
    const bad: Partial<DnsMembershipOptions>[] = [
      { name: '' },
      { name: 'bad name.example' },
      { name: 'x', self: undefined }, // no port
      { name: 'x', port: 0 },
      { name: 'x', port: 65536 },
      { name: '_p._tcp.x', srv: true, port: 8001 },
      { name: 'x', servers: [] },
      { name: 'x', servers: ['dns.example:53'] },
      { name: 'x', servers: ['127.0.0.1:0'] },
      { name: 'x', scheme: 'https' }, // self is http
      { name: 'x', intervalMs: 0 },
      { name: 'x', jitter: 2 },
      { name: 'x', emptyPolls: 0 },
      { name: 'x', family: 5 as 4 },
    ];
    for (const options of bad) {
      assert.throws(
        () => createDnsMembership({ name: NAME, self: SELF, ...options }),
        InvalidArgumentError,
        JSON.stringify(options),
      );
    }
    for (const servers of [['127.0.0.1'], ['127.0.0.1:5353'], ['[::1]:53'], ['::1']]) {
      createDnsMembership({ name: NAME, self: SELF, servers });
    }
  });
});
