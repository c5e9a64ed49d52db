// transport-suite.ts: the conformance suite every peer transport passes: a real server of the
// transport on 127.0.0.1 serving real groups, exercised through a client of the same transport.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Group, LoadResult } from '../../src/core/group.js';
import { noopLogger } from '../../src/core/logger.js';
import { buildNodeStats } from '../../src/core/node-stats.js';
import {
  type CallOptions,
  type GroupLookup,
  getKeys,
  type PeerClient,
  type PeerGetManyResult,
  type PeerServedGroup,
  type PeerValue,
  removeKeys,
} from '../../src/core/peers.js';
import { GroupRegistry } from '../../src/core/registry.js';
import {
  ClearIncompleteError,
  type ErrorCode,
  isCacheError,
  UnavailableError,
} from '../../src/errors.js';
import { type CacheNode, createNode } from '../../src/node/node.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { VERSION } from '../../src/version.js';
import { losingClears } from '../support/lost-clear.js';
import { ManualClock, settle } from '../support/manual-clock.js';
import { freePort } from '../support/process.js';
import { VersionedSource } from '../support/versioned-source.js';

/**
 * TransportLimits are the options every transport under test is built with: its
 * ceilings (the transport's defaults when absent).
 */
export interface TransportLimits {
  maxValueBytes?: number;
  maxKeyBytes?: number;
  /** The client's own bound on each call; the transport's default when absent. */
  requestTimeoutMs?: number;
}

/** MakeTransport builds a fresh transport of the kind under test. */
export type MakeTransport = (limits: TransportLimits) => PeerTransport;

/** ConformanceOptions add what only the transport itself can do. */
export interface ConformanceOptions {
  /**
   * sendMalformed sends protocol-level garbage to the server at `baseUrl` (bytes
   * no client of ours would send); the suite then checks the server still serves.
   * Default: none.
   */
  sendMalformed?: (baseUrl: string) => Promise<void>;
  /**
   * unreachableUrl gives a peer URL where nothing listens. Default: loopback on
   * a port the OS just handed out free.
   */
  unreachableUrl?: () => Promise<string>;
  /**
   * largeValues runs the 128 MiB cluster test (memory heavy: run it once per
   * transport, not per variant). Default true.
   */
  largeValues?: boolean;
  /**
   * withoutGetMany is why the transport has no batch get (its client's getMany is one get
   * per key): the suite's checks that a getMany is one request are skipped with it. Every
   * other transport must send a getMany as one request. Default: none.
   */
  withoutGetMany?: string;
}

/** HTTP_WITHOUT_GET_MANY is why the HTTP transport skips the suite's one-request getMany checks. */
export const HTTP_WITHOUT_GET_MANY =
  "groupcache's HTTP wire has no batch get: a getMany is one get per key";

/** The limits of the suite's main server and client: small, so limit tests are quick. */
const limits = { maxValueBytes: 1 << 20, maxKeyBytes: 256 };
const GROUP = 'conformance';
/** A group whose own limits are tighter than the transport's ceilings. */
const SMALL_GROUP = 'conformance-small';
const smallLimits = { maxValueBytes: 1000, maxKeyBytes: 16 };
/** The large value of the cluster test: twice a group's default limit. */
const LARGE = 128 * 1024 * 1024;
/** How long a call may take before the suite calls it a hang. */
const HANG_MS = 5_000;

/**
 * runTransportConformance registers the suite for the transport called `name`:
 * get/set/remove (and many removes at once), not-found vs failure, limits, any Unicode key and any bytes,
 * expiry, cancellation, deadlines, shared loads, an unreachable peer, a server
 * closing mid-request, an unknown group, and bad input.
 */
export function runTransportConformance(
  name: string,
  makeTransport: MakeTransport,
  options: ConformanceOptions = {},
): void {
  describe(`${name} transport conformance`, { timeout: 120_000 }, () => {
    const fx = new Fixture();
    const opened: PeerTransport[] = [];
    const servers: PeerServer[] = [];
    let transport: PeerTransport;
    let client: PeerClient;
    let url: string;

    /** open builds a transport that `after` closes. */
    const open = (l: TransportLimits = limits) => {
      const t = makeTransport(l);
      opened.push(t);
      return t;
    };
    /** serve starts another server of `transport` on a free port, with its own shutdown signal. */
    const serve = async (signal = new AbortController().signal, lookup = fx.lookup) => {
      const server = await transport.serve(lookup, {
        host: '127.0.0.1',
        port: 0,
        signal,
        logger: noopLogger,
      });
      servers.push(server);
      return { server, client: transport.client(`http://127.0.0.1:${server.address.port}`) };
    };

    before(async () => {
      transport = open();
      const main = await serve();
      client = main.client;
      url = main.client.url;
    });
    after(async () => {
      fx.releaseAll();
      await Promise.all(servers.map((s) => s.close(0)));
      await Promise.all(opened.map((t) => t.close()));
    });

    it('get returns the owner value and loads it once', async () => {
      const first = await within(client.get(GROUP, 'plain'));
      assert.deepEqual(first.value, utf8('value of plain'));
      assert.equal(first.expireAt, 0);
      const again = await within(client.get(GROUP, 'plain'));
      assert.deepEqual(again.value, utf8('value of plain'));
      assert.equal(fx.loadsOf('plain'), 1);
    });

    it('not found is NOT_FOUND; a loader failure is another code that says why', async () => {
      await assert.rejects(within(client.get(GROUP, 'missing-1')), { code: 'NOT_FOUND' });
      const err = await rejection(client.get(GROUP, 'fail-1'));
      assert.notEqual(err.code, 'NOT_FOUND');
      assert.ok(
        err.code === 'INTERNAL' || err.code === 'UNAVAILABLE',
        `a failure is INTERNAL or UNAVAILABLE, got ${err.code}`,
      );
      assert.match(err.message, /boom: fail-1/);
    });

    it('set stores into the owner cache: get answers it without a load', async () => {
      const value = Uint8Array.from([9, 8, 7]);
      await within(client.set(GROUP, 'set-1', value, 0));
      const got = await within(client.get(GROUP, 'set-1'));
      assert.deepEqual(got.value, value);
      assert.equal(got.expireAt, 0);
      assert.equal(fx.loadsOf('set-1'), 0);
    });

    it('remove drops the key: the next get loads again', async () => {
      await within(client.get(GROUP, 'removed'));
      await within(client.remove(GROUP, 'removed'));
      await within(client.get(GROUP, 'removed'));
      assert.equal(fx.loadsOf('removed'), 2);
      // Removing what is not there is fine too.
      await within(client.remove(GROUP, 'never-there'));
    });

    it('removing many keys at once drops each: the next gets load again', async () => {
      // `_remove-keys/` is groupcache-go's batch path when POSTed, an ordinary key otherwise.
      const keys = ['many-1', 'many 2', 'many/3', 'many+4', 'ключ-5', '_remove-keys/'];
      for (const key of keys) await within(client.get(GROUP, key));
      // In one request where the client has removeMany, else one per key.
      await within(removeKeys(client, GROUP, [...keys, 'many-never-there']));
      for (const key of keys) await within(client.get(GROUP, key));
      assert.deepEqual(
        keys.map((k) => fx.loadsOf(k)),
        keys.map(() => 2),
      );
      await within(removeKeys(client, GROUP, []));
    });

    it('getMany answers each key with its own outcome: one failure fails no other', async () => {
      const overKey = 'k'.repeat(limits.maxKeyBytes + 1);
      const keys = [
        'gm-1',
        'gm ключ/2',
        'missing-gm',
        'fail-gm',
        `size:${limits.maxValueBytes + 1}`,
        '',
        overKey,
        'ttl:50000',
        'gm-1',
      ];
      const answer = await within(getKeys(client, GROUP, keys));
      assert.deepEqual([...answer.keys()], [...new Set(keys)]);
      assert.deepEqual(answered(answer, 'gm-1'), utf8('value of gm-1'));
      assert.deepEqual(answered(answer, 'gm ключ/2'), utf8('value of gm ключ/2'));
      assert.ok(answered(answer, 'ttl:50000') !== undefined);
      assert.ok((answer.get('ttl:50000') as PeerValue).expireAt > Date.now());
      assert.equal(codeOf(answer, 'missing-gm'), 'NOT_FOUND');
      const failed = answer.get('fail-gm');
      assert.ok(failed instanceof Error && /boom: fail-gm/.test(failed.message));
      assert.ok(['INTERNAL', 'UNAVAILABLE'].includes(codeOf(answer, 'fail-gm') ?? ''));
      assert.equal(codeOf(answer, `size:${limits.maxValueBytes + 1}`), 'TOO_LARGE');
      assert.equal(codeOf(answer, ''), 'INVALID_ARGUMENT');
      assert.equal(codeOf(answer, overKey), 'TOO_LARGE');
      assert.equal(fx.loadsOf('gm-1'), 1, 'a key asked twice is loaded once');
      assert.equal(fx.loadsOf(overKey) + fx.loadsOf(''), 0);
      // A caller's maxValueBytes holds for each key.
      const bounded = await within(
        getKeys(client, GROUP, ['size:1000', 'size:999'], { maxValueBytes: 999 }),
      );
      assert.equal(codeOf(bounded, 'size:1000'), 'TOO_LARGE');
      assert.deepEqual(answered(bounded, 'size:999'), pattern(999));
    });

    const perKey = options.withoutGetMany;
    it(
      perKey === undefined
        ? 'getMany is one request, whose keys the owner loads together'
        : `getMany is one get per key (${perKey})`,
      async () => {
        const keys = Array.from({ length: 50 }, (_, i) => `one-request-${i}`);
        const before = fx.requests;
        const answer = await within(getKeys(client, GROUP, keys));
        if (perKey === undefined)
          assert.equal(fx.requests - before, 1, 'the server was asked once');
        else assert.equal(fx.requests - before, keys.length, 'the server was asked once per key');
        assert.equal(answer.size, keys.length);
        for (const key of keys) assert.deepEqual(answered(answer, key), utf8(`value of ${key}`));
      },
    );

    it("getMany of an unknown group is each key's UNAVAILABLE (the caller falls back)", async () => {
      const outcome = await getKeys(client, 'no-such-group', ['a', 'b']).then(
        (answer) => [...answer.values()].map((o) => (o instanceof Error ? codeOfError(o) : 'OK')),
        (err: unknown) => [codeOfError(err), codeOfError(err)],
      );
      assert.deepEqual(outcome, ['UNAVAILABLE', 'UNAVAILABLE']);
    });

    it('expiry travels both ways, to the millisecond', async () => {
      const before = Date.now();
      const loaded = await within(client.get(GROUP, 'ttl:60000'));
      assert.ok(
        loaded.expireAt >= before + 60_000 && loaded.expireAt <= Date.now() + 60_000,
        `expireAt ${loaded.expireAt} is the loader's ttl from now`,
      );
      const expireAt = Date.now() + 3_600_000;
      await within(client.set(GROUP, 'expiring', utf8('soon'), expireAt));
      assert.equal((await within(client.get(GROUP, 'expiring'))).expireAt, expireAt);
      // A value that has already expired is not served: the owner loads afresh.
      await within(client.set(GROUP, 'expired', utf8('stale'), Date.now() - 1_000));
      assert.deepEqual(
        (await within(client.get(GROUP, 'expired'))).value,
        utf8('value of expired'),
      );
    });

    it('values up to maxValueBytes pass both ways; one byte more is TOO_LARGE', async () => {
      const max = limits.maxValueBytes;
      const got = await within(client.get(GROUP, `size:${max}`));
      assert.equal(got.value.byteLength, max);
      assert.deepEqual(got.value, pattern(max));
      await assert.rejects(within(client.get(GROUP, `size:${max + 1}`)), { code: 'TOO_LARGE' });

      await within(client.set(GROUP, 'big-set', pattern(max), 0));
      assert.deepEqual((await within(client.get(GROUP, 'big-set'))).value, pattern(max));
      await assert.rejects(within(client.set(GROUP, 'too-big-set', pattern(max + 1), 0)), {
        code: 'TOO_LARGE',
      });
      // The refused value was not stored: the owner loads the key.
      assert.deepEqual(
        (await within(client.get(GROUP, 'too-big-set'))).value,
        utf8('value of too-big-set'),
      );
    });

    it('keys are any Unicode and arrive exactly, on get, set and remove', async () => {
      const keys = [
        'a/b',
        '/',
        '/leading/and/trailing/',
        '%',
        '%2F',
        '%zz',
        '+',
        'a+b c',
        ' ',
        'tab\there',
        'new\nline',
        '?q=1&r=2#frag',
        '..',
        'ключ',
        '鍵',
        '😀 emoji',
        'e\u0301',
        '\u0000nul',
        '\\back\\slash',
      ];
      for (const key of keys) {
        const got = await within(client.get(GROUP, key));
        assert.deepEqual(got.value, utf8(`value of ${key}`), `get ${JSON.stringify(key)}`);
        const mine = utf8(`set ${key}`);
        await within(client.set(GROUP, key, mine, 0));
        assert.deepEqual((await within(client.get(GROUP, key))).value, mine);
        await within(client.remove(GROUP, key));
        assert.deepEqual((await within(client.get(GROUP, key))).value, utf8(`value of ${key}`));
        assert.equal(fx.loadsOf(key), 2, `loads of ${JSON.stringify(key)}`);
      }
    });

    it('a value is answered as a copy of its own, which later answers leave as it was', async () => {
      const first = await within(client.get(GROUP, 'owned-1'));
      const batch = await within(getKeys(client, GROUP, ['owned-2', 'owned-3']));
      // Later answers arrive over the same connection (into the same read buffer, over tcp).
      for (let i = 4; i < 40; i++) await within(client.get(GROUP, `owned-${i}`));
      const answers = [first, ...batch.values()] as PeerValue[];
      answers.forEach((got, i) => {
        assert.deepEqual(got.value, utf8(`value of owned-${i + 1}`), `owned-${i + 1} as it was`);
      });
      for (const got of answers) {
        // Owned (`PeerValue.owned`): the group hands it out without copying it again.
        assert.equal(got.owned, true);
        // No wire buffer behind it: at most a slab of Node's buffer pool beyond its own bytes.
        assert.ok(got.value.buffer.byteLength <= Math.max(Buffer.poolSize, got.value.byteLength));
      }
    });

    it('values are bytes: every byte value, and the empty value', async () => {
      const every = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      await within(client.set(GROUP, 'bytes', every, 0));
      assert.deepEqual((await within(client.get(GROUP, 'bytes'))).value, every);

      await within(client.set(GROUP, 'set-empty', new Uint8Array(0), 0));
      const setEmpty = await within(client.get(GROUP, 'set-empty'));
      assert.equal(setEmpty.value.byteLength, 0);

      const loadedEmpty = await within(client.get(GROUP, 'empty'));
      assert.equal(loadedEmpty.value.byteLength, 0);
      assert.equal(fx.loadsOf('empty'), 1);
    });

    it('keys are checked: empty, over maxKeyBytes, or not Unicode are refused', async () => {
      const atLimit = 'k'.repeat(limits.maxKeyBytes);
      assert.deepEqual(
        (await within(client.get(GROUP, atLimit))).value,
        utf8(`value of ${atLimit}`),
      );
      await assert.rejects(within(client.get(GROUP, `${atLimit}k`)), { code: 'TOO_LARGE' });
      // The limit is in UTF-8 bytes, not characters.
      const wide = 'é'.repeat(limits.maxKeyBytes / 2 + 1);
      await assert.rejects(within(client.get(GROUP, wide)), { code: 'TOO_LARGE' });
      await assert.rejects(within(client.set(GROUP, wide, utf8('x'), 0)), { code: 'TOO_LARGE' });
      await assert.rejects(within(client.get(GROUP, '')), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(within(client.get(GROUP, 'lone \ud800 surrogate')), {
        code: 'INVALID_ARGUMENT',
      });
      await assert.rejects(within(client.set(GROUP, 'lone \udc00', utf8('x'), 0)), {
        code: 'INVALID_ARGUMENT',
      });
      assert.equal(fx.loadsOf(`${atLimit}k`) + fx.loadsOf(wide) + fx.loadsOf(''), 0);
    });

    it("a group's own limits hold on the wire: a longer key or a larger set is TOO_LARGE", async () => {
      const { maxKeyBytes, maxValueBytes } = smallLimits;
      const key = 'k'.repeat(maxKeyBytes);
      assert.deepEqual((await within(client.get(SMALL_GROUP, key))).value, utf8(`value of ${key}`));
      await assert.rejects(within(client.get(SMALL_GROUP, `${key}k`)), { code: 'TOO_LARGE' });
      await assert.rejects(within(client.remove(SMALL_GROUP, `${key}k`)), { code: 'TOO_LARGE' });
      await within(client.set(SMALL_GROUP, 'fits', pattern(maxValueBytes), 0));
      assert.deepEqual(
        (await within(client.get(SMALL_GROUP, 'fits'))).value,
        pattern(maxValueBytes),
      );
      await assert.rejects(
        within(client.set(SMALL_GROUP, 'too-big', pattern(maxValueBytes + 1), 0)),
        { code: 'TOO_LARGE' },
      );
      assert.equal(fx.writesOf('too-big'), 0, 'the refused write never reached the group');
    });

    it("a caller's maxValueBytes bounds the value it takes: one byte more is TOO_LARGE", async () => {
      const got = await within(client.get(GROUP, 'size:1000', { maxValueBytes: 1000 }));
      assert.deepEqual(got.value, pattern(1000));
      await assert.rejects(within(client.get(GROUP, 'size:1000', { maxValueBytes: 999 })), {
        code: 'TOO_LARGE',
      });
    });

    it('a caller that cancels gets CANCELLED at once; its load, with no other waiter, is aborted', async () => {
      const key = 'hold-cancel';
      const controller = new AbortController();
      const call = client.get(GROUP, key, { signal: controller.signal });
      await within(fx.hold(key).started.promise);
      controller.abort();
      await assert.rejects(within(call), { code: 'CANCELLED' });
      await within(fx.hold(key).aborted.promise, 'the owner load to be aborted');
      // A signal aborted before the call: nothing is sent.
      const before = fx.callsOf('already');
      await assert.rejects(within(client.get(GROUP, 'already', { signal: controller.signal })), {
        code: 'CANCELLED',
      });
      assert.equal(fx.callsOf('already'), before);
    });

    it('a cancelled caller does not cancel another client shared load', async () => {
      const key = 'hold-shared';
      const other = open().client(url);
      const controller = new AbortController();
      const leaving = client.get(GROUP, key, { signal: controller.signal });
      const staying = other.get(GROUP, key);
      await within(fx.waitForCalls(key, 2), 'both requests to reach the owner');
      controller.abort();
      await assert.rejects(within(leaving), { code: 'CANCELLED' });
      // Give a wrongly propagated cancel time to arrive before checking it did not.
      await sleep(100);
      assert.equal(fx.hold(key).abortedYet, false, 'the shared load was aborted');
      fx.hold(key).release.resolve('shared value');
      assert.deepEqual((await within(staying)).value, utf8('shared value'));
      assert.equal(fx.loadsOf(key), 1);
    });

    it('a deadline travels to the owner, which stops waiting when it passes', async () => {
      const key = 'hold-deadline';
      const deadline = Date.now() + 300;
      await assert.rejects(within(client.get(GROUP, key, { deadline })), {
        code: 'DEADLINE_EXCEEDED',
      });
      const seen = fx.lastCall(key);
      assert.ok(seen?.deadline !== undefined, 'the owner was told the deadline');
      assert.ok(
        Math.abs(seen.deadline - deadline) < 250,
        `the owner deadline ${seen.deadline} is the caller's ${deadline}`,
      );
      await within(fx.hold(key).aborted.promise, 'the owner load to be aborted');
      // A deadline already passed fails at once, without reaching the peer.
      await assert.rejects(within(client.get(GROUP, 'late', { deadline: Date.now() - 1 })), {
        code: 'DEADLINE_EXCEEDED',
      });
      assert.equal(fx.callsOf('late'), 0);
    });

    it('requestTimeoutMs bounds a call and travels like a deadline', async () => {
      const key = 'hold-timeout';
      const quick = open({ ...limits, requestTimeoutMs: 300 }).client(url);
      const sent = Date.now();
      await assert.rejects(within(quick.get(GROUP, key)), { code: 'DEADLINE_EXCEEDED' });
      const seen = fx.lastCall(key);
      assert.ok(seen?.deadline !== undefined, 'the owner was told the deadline');
      assert.ok(Math.abs(seen.deadline - (sent + 300)) < 250, `owner deadline ${seen.deadline}`);
      await within(fx.hold(key).aborted.promise, 'the owner load to be aborted');
      // The caller's own deadline wins when it is the earlier one.
      const deadline = Date.now() + 100;
      await assert.rejects(within(quick.get(GROUP, 'hold-timeout-2', { deadline })), {
        code: 'DEADLINE_EXCEEDED',
      });
      assert.ok(Math.abs((fx.lastCall('hold-timeout-2')?.deadline ?? 0) - deadline) < 250);
    });

    it('a deadline travels with set and remove to the owner, as with get', async () => {
      const key = 'write-deadline';
      const deadline = Date.now() + 3_000;
      await within(client.set(GROUP, key, utf8('written'), 0, { deadline }));
      const set = fx.lastWrite('set', key);
      assert.ok(set?.deadline !== undefined, 'the owner was told the set deadline');
      assert.ok(
        Math.abs(set.deadline - deadline) < 250,
        `the owner set deadline ${set.deadline} is the caller's ${deadline}`,
      );
      assert.deepEqual((await within(client.get(GROUP, key))).value, utf8('written'));
      await within(client.remove(GROUP, key, { deadline }));
      const removed = fx.lastWrite('remove', key);
      assert.ok(removed?.deadline !== undefined, 'the owner was told the remove deadline');
      assert.ok(
        Math.abs(removed.deadline - deadline) < 250,
        `the owner remove deadline ${removed.deadline} is the caller's ${deadline}`,
      );
      assert.deepEqual((await within(client.get(GROUP, key))).value, utf8(`value of ${key}`));
    });

    it('a write whose deadline has passed fails at once and changes nothing', async () => {
      const key = 'write-late';
      await within(client.set(GROUP, key, utf8('kept'), 0));
      const past = Date.now() - 1;
      await assert.rejects(within(client.set(GROUP, key, utf8('late'), 0, { deadline: past })), {
        code: 'DEADLINE_EXCEEDED',
      });
      await assert.rejects(within(client.remove(GROUP, key, { deadline: past })), {
        code: 'DEADLINE_EXCEEDED',
      });
      assert.equal(fx.writesOf(key), 1, 'only the first write reached the owner');
      assert.deepEqual((await within(client.get(GROUP, key))).value, utf8('kept'));
    });

    it('requestTimeoutMs bounds set and remove and travels like a deadline', async () => {
      const quick = open({ ...limits, requestTimeoutMs: 2_000 }).client(url);
      const key = 'write-timeout';
      let sent = Date.now();
      await within(quick.set(GROUP, key, utf8('w'), 0));
      const set = fx.lastWrite('set', key);
      assert.ok(set?.deadline !== undefined, 'the owner was told the set deadline');
      assert.ok(Math.abs(set.deadline - (sent + 2_000)) < 250, `owner deadline ${set.deadline}`);
      sent = Date.now();
      await within(quick.remove(GROUP, key));
      const removed = fx.lastWrite('remove', key);
      assert.ok(removed?.deadline !== undefined, 'the owner was told the remove deadline');
      assert.ok(
        Math.abs(removed.deadline - (sent + 2_000)) < 250,
        `owner deadline ${removed.deadline}`,
      );
      // The caller's own deadline wins when it is the earlier one.
      const deadline = Date.now() + 500;
      await within(quick.set(GROUP, key, utf8('w'), 0, { deadline }));
      assert.ok(Math.abs((fx.lastWrite('set', key)?.deadline ?? 0) - deadline) < 250);
    });

    it('an unreachable peer is UNAVAILABLE for get, set and remove', async () => {
      const unreachable =
        options.unreachableUrl ?? (async () => `http://127.0.0.1:${await freePort()}`);
      const down = transport.client(await unreachable());
      await assert.rejects(within(down.get(GROUP, 'x')), { code: 'UNAVAILABLE' });
      await assert.rejects(within(down.set(GROUP, 'x', utf8('v'), 0)), { code: 'UNAVAILABLE' });
      await assert.rejects(within(down.remove(GROUP, 'x')), { code: 'UNAVAILABLE' });
    });

    it('the stats call answers the node report and what it holds of a key', async () => {
      assert.ok(client.nodeStats, 'the client has the stats call');
      // Asked more often than any key before it, it leads the hot keys.
      for (let i = 0; i < 40; i++) await within(client.get(GROUP, 'stats-key'));
      const stats = await within(client.nodeStats({ group: GROUP, key: 'stats-key' }));
      assert.equal(stats.version, VERSION);
      const report = stats.groups[GROUP];
      assert.ok(report !== undefined);
      assert.ok(report.stats.gets >= 1);
      assert.ok(report.main.items >= 1);
      assert.deepEqual(report.hotKeys[0], { key: 'stats-key', count: 40 });
      const value = utf8('value of stats-key');
      assert.equal(stats.key?.exists, true);
      assert.equal(stats.key?.main?.bytes, value.byteLength);
      assert.equal(stats.key?.hot, undefined);
      assert.deepEqual(new Uint8Array(Buffer.from(stats.key?.preview ?? '', 'base64')), value);
      // Without a key, no key report; a key it does not hold has no copy.
      assert.equal((await within(client.nodeStats({}))).key, undefined);
      const absent = await within(client.nodeStats({ group: GROUP, key: 'never-asked' }));
      assert.equal(absent.key?.exists, true);
      assert.equal(absent.key?.main, undefined);
      const noGroup = await within(client.nodeStats({ group: 'no-such-group', key: 'k' }));
      assert.equal(noGroup.key?.exists, false);
      assert.equal(fx.loadsOf('never-asked'), 0);
    });

    it('a server that gives no stats answers the stats call NOT_FOUND and keeps serving', async () => {
      const { client: c } = await serve(undefined, { getGroup: fx.lookup.getGroup });
      assert.ok(c.nodeStats);
      await assert.rejects(within(c.nodeStats({})), { code: 'NOT_FOUND' });
      const got = await within(c.get(GROUP, 'after-stats'));
      assert.deepEqual(got.value, utf8('value of after-stats'));
    });

    it('the stats call to an unreachable peer is UNAVAILABLE', async () => {
      const unreachable =
        options.unreachableUrl ?? (async () => `http://127.0.0.1:${await freePort()}`);
      const down = transport.client(await unreachable());
      assert.ok(down.nodeStats);
      await assert.rejects(within(down.nodeStats({})), { code: 'UNAVAILABLE' });
    });

    it('an unknown group is UNAVAILABLE (the caller falls back), not NOT_FOUND', async () => {
      for (const call of [
        client.get('no-such-group', 'k'),
        client.set('no-such-group', 'k', utf8('v'), 0),
        client.remove('no-such-group', 'k'),
      ]) {
        const err = await rejection(call);
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /no such group/);
      }
    });

    it('a closing server finishes in-flight requests within its grace period', async () => {
      const { server, client: c } = await serve();
      const key = 'hold-grace';
      const call = c.get(GROUP, key);
      await within(fx.hold(key).started.promise);
      const closing = server.close(HANG_MS);
      await sleep(50);
      fx.hold(key).release.resolve('finished during grace');
      assert.deepEqual((await within(call)).value, utf8('finished during grace'));
      await within(closing, 'the server to close');
      await assert.rejects(within(c.get(GROUP, 'after-close')), { code: 'UNAVAILABLE' });
    });

    it('a server closed past its grace drops in-flight requests: UNAVAILABLE, never a hang', async () => {
      const { server, client: c } = await serve();
      const key = 'hold-dropped';
      const call = c.get(GROUP, key);
      await within(fx.hold(key).started.promise);
      const closing = server.close(100);
      await assert.rejects(within(call), { code: 'UNAVAILABLE' });
      await within(closing, 'the server to close');
      await within(fx.hold(key).aborted.promise, 'the owner load to be aborted');
    });

    it('the server shutdown signal aborts in-flight loads; the caller gets UNAVAILABLE', async () => {
      const shutdown = new AbortController();
      const { client: c } = await serve(shutdown.signal);
      const key = 'hold-shutdown';
      const call = c.get(GROUP, key);
      await within(fx.hold(key).started.promise);
      shutdown.abort(new UnavailableError('node is shutting down'));
      await assert.rejects(within(call), { code: 'UNAVAILABLE' });
      await within(fx.hold(key).aborted.promise, 'the owner load to be aborted');
    });

    it("a group's generation travels both ways, and a clear notice clears the group", async () => {
      // Never cleared: nothing is sent, nothing comes back.
      const before = await within(client.get(GROUP, 'gen-0'));
      assert.equal(before.generation, undefined, 'no generation before any clear');
      assert.equal(fx.lastCall('gen-0')?.generation, undefined);
      const g = Date.now();
      await within(client.clear?.(GROUP, g) ?? Promise.reject(new Error('no clear call')));
      assert.equal(fx.group.generation, g, 'the notice reached the group');
      assert.equal(fx.group.inspect('gen-0').main, undefined, 'and emptied it');
      // An older notice changes nothing; one for a group the server lacks is done.
      await within(client.clear!(GROUP, g - 1));
      await within(client.clear!('no-such-group', g));
      assert.equal(fx.group.generation, g);
      // A request with a higher generation clears the group first; the answer carries it.
      await within(client.get(GROUP, 'gen-1'));
      const got = await within(client.get(GROUP, 'gen-1', { generation: g + 1 }));
      assert.equal(fx.group.generation, g + 1);
      assert.equal(fx.lastCall('gen-1')?.generation, g + 1, 'the request carried it');
      assert.equal(got.generation, g + 1, 'the answer carried it');
      assert.equal(fx.loadsOf('gen-1'), 2, 'cleared before it answered: loaded anew');
      // Writes carry it too, and their answers bring the peer's back.
      const heard: number[] = [];
      const onGeneration = (n: number) => heard.push(n);
      await within(client.set(GROUP, 'gen-2', utf8('v'), 0, { generation: g + 2, onGeneration }));
      await within(client.remove(GROUP, 'gen-2', { onGeneration }));
      assert.equal(fx.group.generation, g + 2);
      assert.deepEqual(heard, [g + 2, g + 2]);
      // A malformed generation is refused and the server keeps serving.
      await assert.rejects(within(client.clear!(GROUP, 1.5)), { code: 'INVALID_ARGUMENT' });
      assert.equal(fx.group.generation, g + 2);
      assert.deepEqual((await within(client.get(GROUP, 'plain'))).value, utf8('value of plain'));
    });

    it(
      perKey === undefined
        ? "a batch answer carries one generation on every value: its oldest value's, 0 as oldest"
        : `each value of a getMany carries its own get's generation (${perKey})`,
      async () => {
        // Values found under different generations (a clear that landed while some loaded).
        const generations: Record<string, number | undefined> = { a: 9, b: 4, c: 9, d: undefined };
        const mixed: PeerServedGroup = {
          name: 'mixed',
          getForPeer: (key) => ({
            value: utf8(`v:${key}`),
            expireAt: 0,
            minuteQps: 0,
            generation: generations[key],
          }),
          setFromPeer() {},
          removeFromPeer() {},
        };
        const { client: c } = await serve(undefined, {
          getGroup: (name) => (name === 'mixed' ? mixed : undefined),
        });
        const carried = async (keys: string[]) => {
          const answer = await within(getKeys(c, 'mixed', keys));
          return keys.map((key) => {
            const got = answer.get(key);
            assert.ok(got !== undefined && !(got instanceof Error), `${key} was answered`);
            assert.deepEqual(got.value, utf8(`v:${key}`));
            return got.generation ?? 0;
          });
        };
        const batch = perKey === undefined;
        assert.deepEqual(await carried(['a', 'c']), [9, 9], 'all found under 9');
        assert.deepEqual(
          await carried(['a', 'b', 'c']),
          batch ? [4, 4, 4] : [9, 4, 9],
          'none newer than the oldest',
        );
        assert.deepEqual(
          await carried(['a', 'd', 'b']),
          batch ? [0, 0, 0] : [9, 0, 4],
          'one found before any clear',
        );
      },
    );

    it('the server keeps serving after bad input', async () => {
      const bad = await Promise.allSettled([
        client.get(GROUP, ''),
        client.get(GROUP, 'x'.repeat(limits.maxKeyBytes * 4)),
        client.set(GROUP, 'k', pattern(limits.maxValueBytes + 1), 0),
        client.get('', 'k'),
        client.get('no-such-group', 'k'),
        client.remove(GROUP, ''),
      ]);
      for (const r of bad) assert.equal(r.status, 'rejected');
      if (options.sendMalformed) await within(options.sendMalformed(url), 'sendMalformed');
      assert.deepEqual(
        (await within(client.get(GROUP, 'still-fine'))).value,
        utf8('value of still-fine'),
      );
    });
  });

  if (options.largeValues !== false) largeValueCluster(name, makeTransport);
  batchCluster(name, makeTransport, options.withoutGetMany);
}

/**
 * largeValueCluster registers the test of a group whose values are larger than
 * the default limit, on a 2-node cluster of the transport with its default
 * options: the owner's value reaches the other node byte-exact, and one over
 * the group's limit fails there as it does on the owner.
 */
function largeValueCluster(name: string, makeTransport: MakeTransport): void {
  describe(`${name}: a group's large values cross the wire`, { timeout: 120_000 }, () => {
    const nodes: CacheNode[] = [];
    /** loaded[i] lists the keys node i loaded itself. */
    const loaded: string[][] = [];
    const large = Buffer.alloc(LARGE, Buffer.from(pattern(4096)));

    before(async () => {
      const urls = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
      for (const self of urls) {
        // A generous peer timeout: the test is of the limits, not of a busy machine's speed.
        const node = createNode({
          self,
          peers: urls,
          transport: makeTransport({}),
          peerTimeoutMs: 60_000,
        });
        const mine: string[] = [];
        nodes.push(node);
        loaded.push(mine);
        node.newGroup('large', {
          cacheBytes: 0,
          maxValueBytes: LARGE,
          load: (key) => {
            mine.push(key);
            return key.startsWith('over') ? Buffer.alloc(LARGE + 1) : large;
          },
        });
        await node.listen();
      }
    });
    after(() => Promise.all(nodes.map((n) => n.close())));

    /** keyOwnedBy finds a key starting with `prefix` that `owner` owns. */
    const keyOwnedBy = (owner: CacheNode, prefix: string) => {
      for (let i = 0; ; i++) {
        const key = `${prefix}-${i}`;
        if (owner.ownerOf(key) === owner.self) return key;
      }
    };

    it(`a ${LARGE >> 20} MiB value comes from its remote owner byte-exact; one byte more is refused`, async () => {
      const [asker, owner] = nodes as [CacheNode, CacheNode];
      const big = keyOwnedBy(owner, 'big');
      const got = await asker.getGroup('large')!.get(big);
      assert.equal(got.length, LARGE);
      assert.ok(got.equalBytes(large), 'the bytes are the same');
      assert.deepEqual(
        loaded,
        [[], [big]],
        'loaded once, by the owner: the value crossed the wire',
      );
      // The owner's loader went over the group's limit: an INTERNAL error that says so.
      const over = keyOwnedBy(owner, 'over');
      await assert.rejects(asker.getGroup('large')!.get(over), {
        code: 'INTERNAL',
        message: /over the group's limit of 134217728/,
      });
      assert.deepEqual(loaded, [[], [big, over]], 'the owner loaded it, and only the owner');
    });
  });

  describe(`${name}: clear empties a group on every node`, { timeout: 120_000 }, () => {
    const nodes: CacheNode[] = [];
    // Made when the block starts, not when it is registered: deadlines computed on it
    // travel to servers on the real clock.
    let clock: ManualClock;
    /** Clear notices from the first node to these URLs are lost. */
    const cut = new Set<string>();
    const source = new VersionedSource();

    before(async () => {
      clock = new ManualClock(Date.now());
      const urls: string[] = [];
      for (let i = 0; i < 3; i++) urls.push(`http://127.0.0.1:${await freePort()}`);
      for (const self of urls) {
        const transport = makeTransport({});
        const node = createNode({
          self,
          peers: urls,
          clock,
          transport: self === urls[0] ? losingClears(transport, cut) : transport,
          peerTimeoutMs: 60_000,
        });
        nodes.push(node);
        node.newGroup('cleared', {
          cacheBytes: 1 << 20,
          hotCacheChance: 1,
          load: source.load,
        });
        await node.listen();
      }
    });
    after(() => Promise.all(nodes.map((n) => n.close())));

    const groupOf = (node: CacheNode | undefined) => node?.getGroup('cleared') as Group;
    const keyOwnedBy = (owner: CacheNode, prefix: string) => {
      for (let i = 0; ; i++) {
        const key = `${prefix}-${i}`;
        if (owner.ownerOf(key) === owner.self) return key;
      }
    };
    /** held lists what every node's caches hold of `key`. */
    const held = (key: string) =>
      nodes.flatMap((n) => {
        const seen = groupOf(n).inspect(key);
        return [seen.main, seen.hot]
          .filter((e) => e !== undefined)
          .map((e) => `${n.self}=${e.view?.toString()}`);
      });

    it('a clear on one node empties the others; the next gets load from the source', async () => {
      const [a, b, c] = nodes as [CacheNode, CacheNode, CacheNode];
      const keys = [keyOwnedBy(a, 'x'), keyOwnedBy(b, 'x'), keyOwnedBy(c, 'x')];
      for (const n of nodes) for (const key of keys) await within(groupOf(n).get(key));
      for (const key of keys) assert.equal(held(key).length, 3, `${key} is held by every node`);
      source.version = 2;
      const result = await within(groupOf(a).clear());
      assert.deepEqual(result.unsupported, []);
      for (const n of nodes) assert.equal(groupOf(n).generation, result.generation);
      for (const key of keys) assert.deepEqual(held(key), [], `${key} is gone from every node`);
      for (const n of nodes) {
        for (const key of keys) {
          assert.equal((await within(groupOf(n).get(key))).toString(), `${key}@2`);
        }
      }
      for (const key of keys) assert.equal(source.loads.get(key), 2, `${key} was loaded once more`);
    });

    it('a load in flight during a clear answers its callers but is kept nowhere', async () => {
      const [a, b] = nodes as [CacheNode, CacheNode, CacheNode];
      source.holdLoads();
      const key = keyOwnedBy(b, 'hold');
      const v = source.version;
      const asked = groupOf(a).get(key);
      while ((source.loads.get(key) ?? 0) === 0) await settle();
      await within(groupOf(b).clear());
      source.version = v + 1;
      source.release();
      assert.equal((await within(asked)).toString(), `${key}@${v}`);
      assert.deepEqual(held(key), [], 'the value found before the clear was not kept');
      assert.equal((await within(groupOf(a).get(key))).toString(), `${key}@${v + 1}`);
    });

    it('a node that missed the notice clears itself at its next exchange; the notice reaches it later', async () => {
      const [a, b, c] = nodes as [CacheNode, CacheNode, CacheNode];
      const atC = keyOwnedBy(c, 'lost');
      const alsoAtC = keyOwnedBy(c, 'also');
      await within(groupOf(c).get(atC));
      await within(groupOf(c).get(alsoAtC));
      const old = source.version;
      source.version = old + 1;
      cut.add(c.self);
      const err = await groupOf(a)
        .clear()
        .then(
          () => assert.fail('the clear resolved though a notice was lost'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof ClearIncompleteError, `a ClearIncompleteError, got ${String(err)}`);
      assert.deepEqual(err.peers, [c.self]);
      assert.equal(groupOf(b).generation, err.generation);
      assert.ok(groupOf(c).generation < err.generation, 'c missed it');
      assert.deepEqual(held(atC), [`${c.self}=${atC}@${old}`], 'c still holds its old value');
      // b asks c: the request carries b's generation, so c clears itself and loads anew.
      assert.equal((await within(groupOf(b).get(atC))).toString(), `${atC}@${old + 1}`);
      assert.equal(groupOf(c).generation, err.generation, 'c caught up');
      assert.deepEqual(held(alsoAtC), [], "c's other old values went with its clear");
      for (const entry of held(atC)) assert.match(entry, new RegExp(`@${old + 1}$`));
      // The notice is sent again in the background, and reaches c once it can.
      assert.deepEqual(groupOf(a).clearPending, [c.self]);
      cut.delete(c.self);
      await clock.advance(1_000);
      await within(
        until(() => groupOf(a).clearPending.length === 0),
        'the retry',
      );
    });
  });
}

/**
 * batchCluster checks getMany across three nodes of the transport: each owner is sent one
 * request for its keys, which its loadMany loads in as few calls as batchMax allows, and a
 * key asked by a batch and by single gets at once is loaded once. Skipped, with the reason
 * given, for a transport without a batch get.
 */
function batchCluster(name: string, makeTransport: MakeTransport, perKey?: string): void {
  describe(`${name}: getMany across a cluster`, { timeout: 60_000 }, () => {
    const BATCH_MAX = 100;
    const nodes: CacheNode[] = [];
    /** requests[i]: the requests for the group that reached node i's server. */
    const requests: number[] = [];
    /** loadMany[i]: the key lists node i's loadMany was called with. */
    const loadMany: string[][][] = [];

    before(async () => {
      const urls = await Promise.all(
        [0, 1, 2].map(async () => `http://127.0.0.1:${await freePort()}`),
      );
      for (const [i, self] of urls.entries()) {
        const base = makeTransport({});
        requests.push(0);
        // Counts the requests each server is sent: a server looks a request's group up once.
        const counting: PeerTransport = {
          name: base.name,
          client: (url, o) => base.client(url, o),
          serve: (groups, o) =>
            base.serve(
              {
                getGroup: (group) => {
                  if (group === 'batch') requests[i] = (requests[i] ?? 0) + 1;
                  return groups.getGroup(group);
                },
                ...(groups.nodeStats === undefined
                  ? {}
                  : {
                      nodeStats: (r) =>
                        (groups.nodeStats as NonNullable<GroupLookup['nodeStats']>)(r),
                    }),
              },
              o,
            ),
          close: () => base.close(),
        };
        const node = createNode({ self, peers: urls, transport: counting, peerTimeoutMs: 30_000 });
        const calls: string[][] = [];
        nodes.push(node);
        loadMany.push(calls);
        node.newGroup('batch', {
          cacheBytes: 16 << 20,
          batchMax: BATCH_MAX,
          loadMany: (keys) => {
            calls.push([...keys]);
            return new Map(keys.map((k) => [k, `value of ${k}`]));
          },
        });
        await node.listen();
      }
    });
    after(() => Promise.all(nodes.map((n) => n.close())));

    it(
      perKey === undefined
        ? '1,000 cold keys: one request per owner, at most ceil(its keys / batchMax) loadMany calls'
        : `1,000 cold keys: one get per key, each key loaded once by its owner (${perKey})`,
      async () => {
        const asker = nodes[0] as CacheNode;
        const keys = Array.from({ length: 1000 }, (_, i) => `cold-${i}`);
        requests.fill(0);
        const got = await within(asker.getGroup('batch')!.getMany(keys));
        assert.equal(got.size, keys.length);
        assert.equal(got.errors.size, 0);
        for (const key of keys) assert.equal(got.get(key)?.toString(), `value of ${key}`);
        for (const [i, node] of nodes.entries()) {
          const owned = keys.filter((k) => asker.ownerOf(k) === node.self);
          assert.ok(owned.length > 0, `node ${i} owns some of the keys`);
          const loadedHere = (loadMany[i] ?? []).flat();
          assert.deepEqual(
            new Set(loadedHere),
            new Set(owned),
            `node ${i} loaded exactly its keys`,
          );
          assert.equal(loadedHere.length, owned.length, `node ${i} loaded each of its keys once`);
          if (perKey !== undefined) {
            if (i > 0) assert.equal(requests[i], owned.length, `node ${i}: one get per key`);
            continue;
          }
          assert.ok(
            (loadMany[i] ?? []).length <= Math.ceil(owned.length / BATCH_MAX),
            `node ${i}: ${loadMany[i]?.length} loadMany calls for ${owned.length} keys`,
          );
          if (i > 0) assert.equal(requests[i], 1, `node ${i} was sent one request`);
        }
      },
    );

    it('a batch and single gets of the same keys, from every node at once, load each once', async () => {
      const keys = Array.from({ length: 60 }, (_, i) => `shared-${i}`);
      for (const calls of loadMany) calls.length = 0;
      const groups = nodes.map((n) => n.getGroup('batch')!);
      const [g0, g1, g2] = groups as [(typeof groups)[0], (typeof groups)[0], (typeof groups)[0]];
      const [first, , second] = await within(
        Promise.all([
          g0.getMany(keys),
          Promise.all(keys.map((k) => g0.get(k))),
          g1.getMany(keys),
          Promise.all(keys.map((k) => g2.get(k))),
        ]),
      );
      assert.equal(first.size, keys.length);
      assert.equal(second.size, keys.length);
      const loaded = loadMany.flat(2);
      assert.deepEqual(loaded.toSorted(), keys.toSorted(), 'every key loaded once in the cluster');
    });
  });
}

/** Hold is a load that waits until the test releases it, or its signal aborts. */
interface Hold {
  started: Deferred<void>;
  release: Deferred<LoadResult>;
  aborted: Deferred<unknown>;
  abortedYet: boolean;
}

/**
 * Fixture is the suite's group and what it saw: a real GroupRegistry group whose
 * loader's answer depends on the key, wrapped to record each getForPeer call.
 *
 * Keys: `missing…` → not found; `fail…` → throws `boom: <key>`; `size:N` → N
 * bytes of a pattern; `ttl:N` → a value with an N ms ttl; `empty` → no bytes;
 * `hold…` → waits for the test; anything else → `value of <key>`.
 */
class Fixture {
  readonly registry = new GroupRegistry();
  /** The suite's main group itself. */
  readonly group: Group;
  readonly lookup: GroupLookup;
  readonly #loads = new Map<string, number>();
  readonly #calls: { key: string; options: CallOptions | undefined }[] = [];
  readonly #writes: { op: 'set' | 'remove'; key: string; options: CallOptions | undefined }[] = [];
  readonly #holds = new Map<string, Hold>();
  readonly #callWaiters = new Set<() => void>();
  /** requests counts the requests that reached the server (each looks its group up once). */
  requests = 0;

  constructor() {
    const group = this.registry.newGroup(GROUP, {
      cacheBytes: 16 << 20,
      load: (key, { signal }) => this.#load(key, signal),
      hotKeySampleEvery: 1,
    });
    const recorded: PeerServedGroup = {
      name: group.name,
      getForPeer: (key, options) => {
        this.#calls.push({ key, options });
        for (const wake of this.#callWaiters) wake();
        return group.getForPeer(key, options);
      },
      setFromPeer: (key, value, expireAt, options) => {
        this.#writes.push({ op: 'set', key, options });
        group.setFromPeer(key, value, expireAt, { generation: options?.generation });
      },
      removeFromPeer: (key, options) => {
        this.#writes.push({ op: 'remove', key, options });
        group.removeFromPeer(key, { generation: options?.generation });
      },
      get generation() {
        return group.generation;
      },
      clearFromPeer: (generation) => group.clearFromPeer(generation),
    };
    this.group = group;
    const small = this.registry.newGroup(SMALL_GROUP, {
      cacheBytes: 1 << 20,
      ...smallLimits,
      load: (key) => `value of ${key}`,
    });
    const recordedSmall: PeerServedGroup = {
      name: small.name,
      maxKeyBytes: small.maxKeyBytes,
      maxValueBytes: small.maxValueBytes,
      getForPeer: (key, options) => small.getForPeer(key, options),
      setFromPeer: (key, value, expireAt) => {
        this.#writes.push({ op: 'set', key, options: undefined });
        small.setFromPeer(key, value, expireAt);
      },
      removeFromPeer: (key) => small.removeFromPeer(key),
    };
    this.lookup = {
      // A server looks the group up once per request: a batch is one lookup.
      getGroup: (name) => {
        this.requests++;
        return name === GROUP ? recorded : name === SMALL_GROUP ? recordedSmall : undefined;
      },
      nodeStats: (request) =>
        buildNodeStats(request, {
          groups: () => this.registry.groups(),
          getGroup: (name) => this.registry.getGroup(name),
          version: VERSION,
          startedAt: 0,
          now: Date.now,
        }),
    };
  }

  loadsOf(key: string): number {
    return this.#loads.get(key) ?? 0;
  }

  callsOf(key: string): number {
    return this.#calls.filter((c) => c.key === key).length;
  }

  lastCall(key: string): CallOptions | undefined {
    return this.#calls.findLast((c) => c.key === key)?.options;
  }

  /** writesOf counts the sets and removes of `key` that reached the group. */
  writesOf(key: string): number {
    return this.#writes.filter((w) => w.key === key).length;
  }

  /** lastWrite is the options of the last `op` of `key` that reached the group, if any did. */
  lastWrite(op: 'set' | 'remove', key: string): CallOptions | undefined {
    return this.#writes.findLast((w) => w.op === op && w.key === key)?.options;
  }

  /** waitForCalls resolves once the owner has been asked for `key` `count` times. */
  waitForCalls(key: string, count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.callsOf(key) < count) return;
        this.#callWaiters.delete(check);
        resolve();
      };
      this.#callWaiters.add(check);
      check();
    });
  }

  hold(key: string): Hold {
    let h = this.#holds.get(key);
    if (h === undefined) {
      h = { started: deferred(), release: deferred(), aborted: deferred(), abortedYet: false };
      this.#holds.set(key, h);
    }
    return h;
  }

  /** releaseAll lets every held load finish, so nothing is left pending. */
  releaseAll(): void {
    for (const h of this.#holds.values()) h.release.resolve('released');
  }

  async #load(key: string, signal: AbortSignal): Promise<LoadResult> {
    this.#loads.set(key, this.loadsOf(key) + 1);
    if (key.startsWith('missing')) return null;
    if (key.startsWith('fail')) throw new Error(`boom: ${key}`);
    if (key === 'empty') return '';
    const size = /^size:(\d+)$/.exec(key);
    if (size) return pattern(Number(size[1]));
    const ttl = /^ttl:(\d+)$/.exec(key);
    if (ttl) return { value: `value of ${key}`, ttlMs: Number(ttl[1]) };
    if (key.startsWith('hold')) return this.#held(key, signal);
    return `value of ${key}`;
  }

  #held(key: string, signal: AbortSignal): Promise<LoadResult> {
    const h = this.hold(key);
    h.started.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        h.abortedYet = true;
        h.aborted.resolve(signal.reason);
        reject(signal.reason);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      h.release.promise.then((v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      });
    });
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** within fails when `promise` has not settled after HANG_MS: a hang is a failure, not a timeout. */
async function within<T>(promise: Promise<T>, what = 'the call'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung for ${HANG_MS} ms`)), HANG_MS);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** until resolves once `done()` holds, looking again after the I/O and callbacks queued meanwhile. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await settle();
}

/** rejection returns the CacheError `promise` rejects with, failing if it resolves or hangs. */
async function rejection(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await within(promise);
  } catch (err) {
    assert.ok(isCacheError(err), `expected a CacheError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

/** answered is the value a getMany answered for `key`, undefined when it answered an error. */
function answered(answer: PeerGetManyResult, key: string): Uint8Array | undefined {
  const outcome = answer.get(key);
  return outcome === undefined || outcome instanceof Error ? undefined : outcome.value;
}

/** codeOf is the error code a getMany answered for `key`, undefined for a value. */
function codeOf(answer: PeerGetManyResult, key: string): string | undefined {
  const outcome = answer.get(key);
  return outcome instanceof Error ? codeOfError(outcome) : undefined;
}

function codeOfError(err: unknown): string {
  return isCacheError(err) ? err.code : `not a CacheError: ${String(err)}`;
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** pattern is `n` bytes that differ from one offset to the next. */
function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}
