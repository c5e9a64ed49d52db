// peer-health.test.ts: HealthCheckedPeer driven by a fake clock and a fake peer client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import {
  type CacheError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  isCacheError,
  NotFoundError,
  UnavailableError,
} from '../errors.js';
import { LEAVING, peerLeaving } from './leave.js';
import type { Logger } from './logger.js';
import {
  HealthCheckedPeer,
  type HealthCheckedPeerOptions,
  type PeerCallObserver,
  PROBE_GROUP,
  probeAnswered,
} from './peer-health.js';
import { type CallOptions, getKeys, type PeerClient, type PeerValue } from './peers.js';

interface Sent {
  group: string;
  key: string;
  options: CallOptions | undefined;
  resolve: (v: PeerValue) => void;
  reject: (err: unknown) => void;
}

/** FakePeer records every call; the test settles each one. Probes are answered as `probe` says. */
class FakePeer implements PeerClient {
  readonly url = 'http://peer:1';
  readonly calls: Sent[] = [];
  probes = 0;
  /** What a probe gets: an answer (`no such group`), silence, or a refused connection. */
  probe: 'answer' | 'hang' | 'refuse' | 'manual' = 'answer';
  /** With probe `manual`: answers the probe sent last. */
  answerProbe: (() => void) | undefined;
  closed = 0;
  get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    if (group === PROBE_GROUP) {
      this.probes++;
      if (this.probe === 'answer') {
        return Promise.reject(new UnavailableError(`peer ${this.url}: no such group: ${group}`));
      }
      if (this.probe === 'refuse') {
        return Promise.reject(new UnavailableError(`peer ${this.url}: connect ECONNREFUSED`));
      }
      return new Promise((_, reject) => {
        if (this.probe === 'manual') {
          this.answerProbe = () => reject(new UnavailableError(`no such group: ${group}`));
        }
      });
    }
    return new Promise((resolve, reject) => {
      this.calls.push({ group, key, options, resolve, reject });
    });
  }
  set(): Promise<void> {
    return Promise.resolve();
  }
  remove(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed++;
  }
}

const value: PeerValue = { value: new Uint8Array([1]), expireAt: 0, minuteQps: 0 };

function recordingLogger(): { logger: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_fields: Record<string, unknown>, msg: string) => {
    lines.push({ level, msg });
  };
  return {
    lines,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
  };
}

function setup(
  options: HealthCheckedPeerOptions = {},
  getMany?: NonNullable<PeerClient['getMany']>,
) {
  const clock = new ManualClock(1_000_000);
  const inner = new FakePeer();
  if (getMany !== undefined) (inner as PeerClient).getMany = getMany;
  const { logger, lines } = recordingLogger();
  const peer = new HealthCheckedPeer(inner, {
    clock,
    logger,
    failureThreshold: 3,
    suspectAfterMs: 500,
    probeTimeoutMs: 1_000,
    probeIntervalMs: 1_000,
    requestTimeoutMs: 5_000,
    ...options,
  });
  return { clock, inner, peer, lines };
}

/** outcome records how a promise settled, without leaving a rejection unhandled. */
function outcome<T>(p: Promise<T>): { value?: T; err?: unknown; settled: boolean } {
  const o: { value?: T; err?: unknown; settled: boolean } = { settled: false };
  p.then(
    (v) => {
      o.value = v;
      o.settled = true;
    },
    (e: unknown) => {
      o.err = e;
      o.settled = true;
    },
  );
  return o;
}

const refused = () => new UnavailableError('peer http://peer:1: connect ECONNREFUSED');

describe('HealthCheckedPeer', () => {
  test('caps every deadline at requestTimeoutMs, keeping an earlier one of the caller', async () => {
    const { clock, inner, peer } = setup();
    void outcome(peer.get('g', 'a'));
    void outcome(peer.get('g', 'b', { deadline: clock.now() + 60_000 }));
    void outcome(peer.get('g', 'c', { deadline: clock.now() + 100 }));
    assert.equal(inner.calls[0]?.options?.deadline, clock.now() + 5_000);
    assert.equal(inner.calls[1]?.options?.deadline, clock.now() + 5_000);
    assert.equal(inner.calls[2]?.options?.deadline, clock.now() + 100);
    for (const c of inner.calls) c.resolve(value);
    await settle();
  });

  test('passes answers through and stays healthy with no timers left', async () => {
    const { clock, inner, peer } = setup();
    const got = outcome(peer.get('g', 'k'));
    inner.calls[0]?.resolve(value);
    await settle();
    assert.equal(got.value, value);
    await clock.advance(10_000);
    assert.equal(peer.healthy, true);
    assert.equal(inner.probes, 0, 'a peer that answers is never probed');
    assert.equal(clock.pending, 0);
  });

  test('marks the peer unhealthy after failureThreshold calls in a row fail to reach it', async () => {
    const { inner, peer, lines } = setup();
    inner.probe = 'hang'; // the probes sent on the way do not decide here
    const results = [outcome(peer.get('g', 'a')), outcome(peer.get('g', 'b'))];
    inner.calls[0]?.reject(refused());
    inner.calls[1]?.reject(refused());
    await settle();
    assert.equal(peer.healthy, true, 'two failures are under the threshold of three');
    results.push(outcome(peer.get('g', 'c')));
    inner.calls[2]?.reject(refused());
    await settle();
    assert.equal(peer.healthy, false);
    assert.match(peer.state().reason ?? '', /3 requests in a row .*ECONNREFUSED/);
    for (const r of results) assert.ok(isCacheError(r.err, 'UNAVAILABLE'), 'failures pass through');
    assert.equal(lines.filter((l) => l.msg.startsWith('peer unhealthy')).length, 1);
  });

  test('a success between failures starts the count again', async () => {
    const { inner, peer } = setup();
    inner.probe = 'hang';
    for (const settleWith of ['fail', 'fail', 'ok', 'fail', 'fail']) {
      void outcome(peer.get('g', 'k'));
      const call = inner.calls.at(-1);
      if (settleWith === 'ok') call?.resolve(value);
      else call?.reject(refused());
      await settle();
    }
    assert.equal(peer.healthy, true);
  });

  test("the peer's error answers prove it alive and never count", async () => {
    const { clock, inner, peer } = setup({ failureThreshold: 1 });
    const notFound = outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(new NotFoundError('no such key'));
    const loaderFailed = outcome(peer.get('g', 'b'));
    inner.calls[1]?.reject(new InternalError('loader failed', { remote: true }));
    await settle();
    await clock.advance(5_000);
    assert.equal(peer.healthy, true);
    assert.equal(inner.probes, 0, 'an answer is no reason to probe');
    assert.ok(isCacheError(notFound.err, 'NOT_FOUND'));
    assert.ok(isCacheError(loaderFailed.err, 'INTERNAL'));
  });

  test("a caller's own deadline or abort does not count against the peer", async () => {
    const { clock, inner, peer } = setup({ failureThreshold: 1 });
    void outcome(peer.get('g', 'a', { deadline: clock.now() + 100 }));
    inner.calls[0]?.reject(new DeadlineExceededError("the caller's deadline passed"));
    const gone = new AbortController();
    gone.abort();
    void outcome(peer.get('g', 'b', { signal: gone.signal }));
    inner.calls[1]?.reject(new UnavailableError('cancelled'));
    await settle();
    assert.equal(peer.healthy, true);
    assert.equal(inner.probes, 0);
  });

  test('a call failing to reach the peer makes it probed; an answered probe keeps it healthy', async () => {
    const { inner, peer } = setup();
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    assert.equal(inner.probes, 1);
    assert.equal(peer.healthy, true);
  });

  test('a failed probe marks the peer unhealthy at once', async () => {
    const { inner, peer } = setup();
    inner.probe = 'refuse';
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    assert.equal(peer.healthy, false);
    assert.match(peer.state().reason ?? '', /^a health probe failed: .*ECONNREFUSED/);
  });

  test('a hung peer: calls waiting past suspectAfterMs trigger a probe; its silence fails them all at once', async () => {
    const { clock, inner, peer } = setup();
    inner.probe = 'hang';
    const waiting = [outcome(peer.get('g', 'a')), outcome(peer.get('g', 'b'))];
    await clock.advance(499);
    assert.equal(inner.probes, 0, 'not suspected before suspectAfterMs');
    await clock.advance(1);
    assert.equal(inner.probes, 1, 'probed once the calls have waited suspectAfterMs');
    await clock.advance(999);
    assert.equal(peer.healthy, true, 'the probe has until probeTimeoutMs');
    assert.ok(waiting.every((w) => !w.settled));
    await clock.advance(1);
    assert.equal(peer.healthy, false);
    assert.match(peer.state().reason ?? '', /no answer to a health probe within 1000 ms/);
    for (const w of waiting) {
      assert.ok(w.settled, 'waiting calls fail when the peer is marked unhealthy');
      assert.ok(isCacheError(w.err, 'UNAVAILABLE'));
      assert.match((w.err as CacheError).message, /http:\/\/peer:1 stopped answering/);
    }
    // The transport's late answers change nothing for the callers already failed.
    inner.calls[0]?.reject(new DeadlineExceededError('timed out'));
    await settle();
    assert.equal(peer.healthy, false);
  });

  test('an answer that came in while this process was busy beats an overdue probe timer', async () => {
    const { clock, inner, peer } = setup();
    inner.probe = 'manual';
    void outcome(peer.get('g', 'a'));
    await clock.advance(500);
    assert.equal(inner.probes, 1);
    // The answer is read in the same turn of the event loop as the overdue timer
    // fires, after it (as socket data is read after timers): it must still count.
    setImmediate(() => inner.answerProbe?.());
    await clock.advance(1_000);
    assert.equal(peer.healthy, true);
  });

  test('a call answered while the probe waited proves the peer alive', async () => {
    const { clock, inner, peer } = setup();
    inner.probe = 'hang';
    void outcome(peer.get('g', 'a'));
    await clock.advance(500);
    assert.equal(inner.probes, 1);
    inner.calls[0]?.resolve(value);
    await clock.advance(1_000);
    assert.equal(peer.healthy, true, 'the probe got no answer, but the call did');
  });

  test('a slow owner that answers probes stays healthy while its loads take long', async () => {
    const { clock, inner, peer } = setup();
    const slow = outcome(peer.get('g', 'slow'));
    await clock.advance(4_000);
    assert.ok(inner.probes >= 2, 'probed while the call waits in silence');
    assert.equal(peer.healthy, true);
    inner.calls[0]?.resolve(value);
    await settle();
    assert.equal(slow.value, value);
  });

  test('while unhealthy calls fail at once, naming the peer and the reason, and never reach it', async () => {
    const { inner, peer } = setup();
    inner.probe = 'refuse';
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    const sentBefore = inner.calls.length;
    const failed = outcome(peer.get('g', 'b'));
    const failedSet = outcome(peer.set('g', 'b', new Uint8Array(1), 0));
    const failedRemove = outcome(peer.remove('g', 'b'));
    await settle();
    assert.equal(inner.calls.length, sentBefore, 'nothing sent to an unhealthy peer');
    for (const f of [failed, failedSet, failedRemove]) {
      assert.ok(f.err instanceof UnavailableError);
      assert.match(f.err.message, /peer http:\/\/peer:1 is unhealthy \(.*ECONNREFUSED.*\)/);
    }
  });

  test('probes an unhealthy peer every probeIntervalMs and resumes on its first answer', async () => {
    const { clock, inner, peer, lines } = setup();
    inner.probe = 'refuse';
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    const probes = inner.probes;
    await clock.advance(999);
    assert.equal(inner.probes, probes);
    await clock.advance(1);
    assert.equal(inner.probes, probes + 1, 'the next probe after probeIntervalMs');
    await clock.advance(3_000);
    assert.equal(inner.probes, probes + 4, 'and one per interval while it fails');
    assert.equal(peer.healthy, false);
    inner.probe = 'answer';
    await clock.advance(1_000);
    assert.equal(peer.healthy, true, 'healthy again on the first answered probe');
    assert.equal(peer.state().reason, undefined);
    const after = outcome(peer.get('g', 'b'));
    assert.equal(inner.calls.length, 2, 'calls go to the peer again');
    inner.calls[1]?.resolve(value);
    await settle();
    assert.equal(after.value, value);
    await clock.advance(10_000);
    assert.equal(inner.probes, probes + 5, 'no probes once healthy and quiet');
    assert.equal(lines.filter((l) => l.msg === 'peer healthy again').length, 1);
    assert.equal(lines.filter((l) => l.msg.startsWith('peer unhealthy')).length, 1);
  });

  test('a probe that waits out its timeout does not stretch the interval between probes', async () => {
    // Probes of a cut-off peer get no answer at all: each fails at probeTimeoutMs (2 s), and
    // the next is sent probeIntervalMs (1 s) after the previous one was, that is at once.
    const { clock, inner, peer } = setup({ probeTimeoutMs: 2_000, probeIntervalMs: 1_000 });
    inner.probe = 'hang';
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    assert.equal(inner.probes, 1, 'the failed call is followed by a probe');
    await clock.advance(2_000);
    assert.equal(peer.healthy, false, 'its silence marks the peer unhealthy');
    // Marked unhealthy: the first probe of the unhealthy peer comes probeIntervalMs later.
    await clock.advance(999);
    assert.equal(inner.probes, 1);
    await clock.advance(1);
    assert.equal(inner.probes, 2);
    await clock.advance(1_999);
    assert.equal(inner.probes, 2, 'one probe out at a time');
    await clock.advance(1);
    assert.equal(inner.probes, 3, 'the next as soon as it timed out, not probeIntervalMs later');
    await clock.advance(4_000);
    assert.equal(inner.probes, 5, 'one per probeTimeoutMs while they time out');
    // The link is back: the probe out now is answered, and the peer is used again.
    inner.probe = 'manual';
    await clock.advance(2_000);
    inner.answerProbe?.();
    await settle();
    assert.equal(peer.healthy, true);
  });

  test('a late answer to a call sent before the peer went down makes it healthy', async () => {
    const { clock, inner, peer } = setup();
    inner.probe = 'hang';
    void outcome(peer.get('g', 'a'));
    await clock.advance(1_500);
    assert.equal(peer.healthy, false);
    inner.calls[0]?.resolve(value);
    await settle();
    assert.equal(peer.healthy, true);
  });

  test('repeated failed probes are logged at most once per interval, with a count', async () => {
    const { clock, inner, peer, lines } = setup({ logIntervalMs: 10_000 });
    inner.probe = 'refuse';
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    await clock.advance(25_000);
    const still = lines.filter((l) => l.msg === 'peer still unhealthy');
    assert.ok(still.length >= 2 && still.length <= 3, `${still.length} lines for 25 probes`);
  });

  test('close stops probing and closes the wrapped client', async () => {
    const { clock, inner, peer } = setup();
    inner.probe = 'refuse';
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await settle();
    await peer.close();
    assert.equal(inner.closed, 1);
    const probes = inner.probes;
    await clock.advance(10_000);
    assert.equal(inner.probes, probes);
    assert.equal(clock.pending, 0);
  });

  test('disabled, it only caps deadlines', async () => {
    const { clock, inner, peer } = setup({ enabled: false, failureThreshold: 1 });
    void outcome(peer.get('g', 'a'));
    inner.calls[0]?.reject(refused());
    await clock.advance(5_000);
    assert.equal(peer.healthy, true);
    assert.equal(inner.probes, 0);
    assert.equal(inner.calls[0]?.options?.deadline, 1_000_000 + 5_000);
  });

  test('probeAnswered tells an answer from a failure to reach the peer', () => {
    assert.equal(
      probeAnswered(new UnavailableError('peer x: GET answered 404: no such group')),
      true,
    );
    assert.equal(probeAnswered(new NotFoundError()), true);
    assert.equal(probeAnswered(new InternalError('boom', { remote: true })), true);
    assert.equal(probeAnswered(new UnavailableError('connect ECONNREFUSED')), false);
    assert.equal(probeAnswered(new DeadlineExceededError()), false);
    assert.equal(probeAnswered(new Error('socket hang up')), false);
  });

  test('rejects bad options', () => {
    const inner = new FakePeer();
    const bad = (options: HealthCheckedPeerOptions, name: string) =>
      assert.throws(
        () => new HealthCheckedPeer(inner, options),
        (err: unknown) => err instanceof InvalidArgumentError && err.message.startsWith(name),
      );
    bad({ failureThreshold: 0 }, 'failureThreshold');
    bad({ failureThreshold: 1.5 }, 'failureThreshold');
    bad({ requestTimeoutMs: -1 }, 'requestTimeoutMs');
    bad({ probeTimeoutMs: Number.NaN }, 'probeTimeoutMs');
    bad({ suspectAfterMs: 0 }, 'suspectAfterMs');
    bad({ probeIntervalMs: Number.POSITIVE_INFINITY }, 'probeIntervalMs');
  });
});

describe('a peer that says it is leaving', () => {
  const leaving = () =>
    new UnavailableError(`peer http://peer:1: ${LEAVING}: ask the key's next owner`);

  test('is reported leaving at once, before its caller sees the answer, and is not counted as failing', async () => {
    const heard: string[] = [];
    const { inner, peer } = setup({ onLeaving: (url) => heard.push(`leaving ${url}`) });
    const call = peer.get('g', 'k').catch((err: unknown) => {
      heard.push(`caller ${String(err)}`);
      return err;
    });
    await settle();
    inner.calls[0]?.reject(leaving());
    const err = await call;
    assert.equal(peerLeaving(err), true);
    assert.deepEqual(
      heard.map((h) => h.split(':')[0]),
      ['leaving http', 'caller UnavailableError'],
    );
    assert.deepEqual(peer.state(), {
      healthy: false,
      since: peer.state().since,
      reason: 'leaving the cluster',
      leaving: true,
    });
  });

  test('still gets the calls sent to it (a write drops its copy) and is back only when a probe is answered', async () => {
    const returned: string[] = [];
    const { clock, inner, peer } = setup({ onReturned: (url) => returned.push(url) });
    inner.probe = 'manual';
    peer.markLeaving();
    const drop = outcome(peer.remove('g', 'k'));
    await settle();
    assert.equal(drop.settled, true, 'a call to a leaving peer is sent, not failed at once');
    assert.equal(peer.leaving, true, 'an answered call does not end the leave');
    // The leaving process still answers probes with "leaving"; then it is gone (refused).
    inner.probe = 'refuse';
    await clock.advance(1_000);
    await clock.advance(1_000);
    assert.equal(peer.leaving, true);
    assert.deepEqual(returned, []);
    // Restarted at its address: the probe's "no such group" is an answer from a member.
    inner.probe = 'answer';
    await clock.advance(1_000);
    assert.equal(peer.leaving, false);
    assert.equal(peer.healthy, true);
    assert.deepEqual(returned, ['http://peer:1']);
  });

  test('rejoined ends the leave when the membership has it join again', () => {
    const returned: string[] = [];
    const { peer } = setup({ onReturned: (url) => returned.push(url) });
    peer.rejoined();
    assert.deepEqual(returned, [], 'a peer that never left does not return');
    peer.markLeaving();
    peer.rejoined();
    assert.equal(peer.healthy, true);
    assert.deepEqual(returned, ['http://peer:1']);
  });

  test('with health tracking off it is still reported leaving', async () => {
    const heard: string[] = [];
    const { inner, peer } = setup({ enabled: false, onLeaving: (url) => heard.push(url) });
    const call = outcome(peer.set('g', 'k', new Uint8Array(1), 0));
    await settle();
    // set on the fake peer resolves; a get carries the leaving answer.
    assert.equal(call.settled, true);
    const get = outcome(peer.get('g', 'k'));
    await settle();
    inner.calls[0]?.reject(leaving());
    await settle();
    assert.equal(peerLeaving(get.err), true);
    assert.deepEqual(heard, ['http://peer:1']);
  });
});

describe('getMany through a HealthCheckedPeer', () => {
  test('one key answered "leaving" marks the peer leaving before the caller sees the answer', async () => {
    const heard: string[] = [];
    const sent: (readonly string[])[] = [];
    const { peer } = setup(
      { onLeaving: (url) => heard.push(`leaving ${url}`) },
      async (_g, keys) => {
        sent.push(keys);
        return new Map<string, PeerValue | CacheError>([
          ['a', value],
          ['b', new UnavailableError(`peer http://peer:1: ${LEAVING}: ask the key's next owner`)],
        ]);
      },
    );
    const answer = await (peer.getMany as NonNullable<PeerClient['getMany']>)('g', ['a', 'b']);
    heard.push('caller');
    assert.deepEqual(sent, [['a', 'b']], 'one request for both keys');
    assert.equal(answer.get('a'), value);
    assert.equal(peer.leaving, true);
    assert.deepEqual(heard, ['leaving http://peer:1', 'caller']);
  });

  test('without getMany in the wrapped client, each key is a get of its own, each counted', async () => {
    const { inner, peer } = setup({ failureThreshold: 2 });
    inner.probe = 'refuse';
    // The inner client has no getMany, nor has the wrapper: one get per key, each through
    // the health check, each with its own deadline.
    assert.equal(peer.getMany, undefined);
    const many = outcome(getKeys(peer, 'g', ['a', 'b']));
    await settle();
    assert.equal(inner.calls.length, 2);
    for (const c of inner.calls) c.reject(refused());
    await settle();
    assert.equal(many.settled, true);
    const answer = many.value as Map<string, unknown>;
    assert.ok(isCacheError(answer.get('a'), 'UNAVAILABLE'));
    assert.equal(peer.healthy, false, 'two failed gets in a row cross the threshold of 2');
  });
});

/** recordingObserver records what a HealthCheckedPeer tells its observer, its clock a counter. */
function recordingObserver() {
  const heard: string[] = [];
  let now = 0;
  const observer: PeerCallObserver = {
    start: () => ++now,
    answered: (op, group, started) => heard.push(`${op} ${group} #${started} answered`),
    failed: (op, group, started, err) =>
      heard.push(`${op} ${group} #${started} ${isCacheError(err) ? err.code : String(err)}`),
    close: () => heard.push('closed'),
  };
  return { heard, observer };
}

describe('the observer of a HealthCheckedPeer', () => {
  for (const enabled of [true, false]) {
    test(`hears each call when the wrapped client settles it (health ${enabled ? 'on' : 'off'})`, async () => {
      const { heard, observer } = recordingObserver();
      const { inner, peer } = setup({ enabled, observer });
      const got = outcome(peer.get('g', 'a'));
      const missing = outcome(peer.get('h', 'b'));
      assert.deepEqual(heard, [], 'nothing before the wrapped client settles');
      inner.calls[1]?.reject(new NotFoundError('no b'));
      inner.calls[0]?.resolve(value);
      await settle();
      assert.equal(got.value, value);
      assert.ok(isCacheError(missing.err, 'NOT_FOUND'));
      await peer.set('g', 'c', new Uint8Array(1), 0);
      await peer.remove('g', 'd');
      await peer.removeMany('g', ['e', 'f']);
      // Not observed, answered or not (this fake peer has no clear call).
      await assert.rejects(peer.clear('g', 7), NotFoundError);
      assert.deepEqual(heard, [
        'get h #2 NOT_FOUND',
        'get g #1 answered',
        'set g #3 answered',
        // A batch of removes is one call, as the wrapped client (without removeMany) sends
        // it one remove per key.
        'remove g #4 answered',
        'remove g #5 answered',
      ]);
      await peer.close();
      assert.deepEqual(heard.slice(-1), ['closed']);
    });
  }

  test('a batch get is one call; a call refused at once for an unhealthy peer is not observed', async () => {
    const { heard, observer } = recordingObserver();
    const { inner, peer } = setup({ observer, failureThreshold: 1 }, async () => new Map());
    await (peer.getMany as NonNullable<PeerClient['getMany']>)('g', ['a', 'b']);
    assert.deepEqual(heard, ['get g #1 answered']);
    inner.probe = 'hang';
    const failed = outcome(peer.get('g', 'c'));
    inner.calls[0]?.reject(refused());
    await settle();
    assert.ok(isCacheError(failed.err, 'UNAVAILABLE'));
    assert.equal(peer.healthy, false);
    await assert.rejects(peer.get('g', 'd'), UnavailableError);
    assert.deepEqual(heard, ['get g #1 answered', 'get g #2 UNAVAILABLE']);
    await peer.close();
  });
});
