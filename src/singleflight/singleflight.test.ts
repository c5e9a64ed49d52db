// singleflight.test.ts: loads of one key run once, callers leave on their own,
// and no flight, timer or listener outlives its use.
import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, mock, test } from 'node:test';
import { ManualClock } from '../../test/support/manual-clock.js';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  isCacheError,
} from '../errors.js';
import { type FlightContext, SingleFlight } from './singleflight.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A loader that records its calls and settles when the test says so. */
function loader<T>() {
  const calls: { signal: AbortSignal; result: Deferred<T> }[] = [];
  const fn = ({ signal }: FlightContext): Promise<T> => {
    const result = deferred<T>();
    calls.push({ signal, result });
    return result.promise;
  };
  return { fn, calls };
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(p: Promise<T>): { settled: boolean } {
  const state = { settled: false };
  p.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/**
 * keepAlive holds the event loop open while a test awaits promises that no
 * timer or socket of its own keeps pending (e.g. abandoned flights).
 */
async function keepAlive<T>(body: () => Promise<T>): Promise<T> {
  const handle = setInterval(() => {}, 1_000);
  try {
    return await body();
  } finally {
    clearInterval(handle);
  }
}

/** Lets pending promise callbacks and immediates run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SingleFlight', () => {
  test('concurrent calls of one key run fn once and share the value', async () => {
    const sf = new SingleFlight<string>();
    const { fn, calls } = loader<string>();
    const all = [sf.do('k', fn), sf.do('k', fn), sf.do('k', fn)];
    assert.equal(calls.length, 1);
    assert.equal(sf.has('k'), true);
    assert.equal(sf.size, 1);
    calls[0]!.result.resolve('v');
    assert.deepEqual(await Promise.all(all), ['v', 'v', 'v']);
  });

  test('concurrent calls share the same error, unwrapped', async () => {
    const sf = new SingleFlight<string>();
    const { fn, calls } = loader<string>();
    const all = [sf.do('k', fn), sf.do('k', fn)];
    const boom = new Error('boom');
    calls[0]!.result.reject(boom);
    for (const p of all) await assert.rejects(p, (err) => err === boom);
    assert.equal(calls.length, 1);
  });

  test('different keys run independently', async () => {
    const sf = new SingleFlight<string>();
    const { fn, calls } = loader<string>();
    const a = sf.do('a', fn);
    const b = sf.do('b', fn);
    assert.equal(calls.length, 2);
    assert.equal(sf.size, 2);
    calls[1]!.result.resolve('B');
    assert.equal(await b, 'B');
    assert.equal(sf.has('a'), true);
    assert.equal(sf.has('b'), false);
    calls[0]!.result.resolve('A');
    assert.equal(await a, 'A');
    assert.equal(sf.size, 0);
  });

  test('the key is freed when the flight settles: nothing is cached', async () => {
    const sf = new SingleFlight<number>();
    let n = 0;
    assert.equal(await sf.do('k', async () => ++n), 1);
    assert.equal(sf.has('k'), false);
    assert.equal(await sf.do('k', async () => ++n), 2);
    await assert.rejects(
      sf.do('k', async () => {
        throw new Error('fail');
      }),
      /fail/,
    );
    assert.equal(sf.size, 0);
    assert.equal(await sf.do('k', () => ++n), 3);
  });

  test('fn that throws synchronously rejects the caller and frees the key', async () => {
    const sf = new SingleFlight<string>();
    const boom = new Error('sync boom');
    const p = sf.do('k', () => {
      throw boom;
    });
    assert.ok(p instanceof Promise, 'do returns a promise, it does not throw');
    await assert.rejects(p, (err) => err === boom);
    assert.equal(sf.has('k'), false);
  });

  describe('per-caller abort', () => {
    test('an aborted caller leaves at once; the others get the result', async () => {
      const sf = new SingleFlight<string>();
      const { fn, calls } = loader<string>();
      const ac = new AbortController();
      const leaving = sf.do('k', fn, { signal: ac.signal });
      const staying = sf.do('k', fn);
      const stayingState = track(staying);
      ac.abort();
      await assert.rejects(leaving, CancelledError);
      await turn();
      assert.equal(stayingState.settled, false);
      assert.equal(sf.has('k'), true);
      assert.equal(calls[0]!.signal.aborted, false);
      calls[0]!.result.resolve('v');
      assert.equal(await staying, 'v');
      assert.equal(calls.length, 1);
    });

    test('a TimeoutError reason becomes DeadlineExceededError; a CacheError reason is kept', async () => {
      const sf = new SingleFlight<string>();
      const { fn, calls } = loader<string>();
      const staying = sf.do('k', fn);
      const timingOut = new AbortController();
      const timedOut = sf.do('k', fn, { signal: timingOut.signal });
      // The reason AbortSignal.timeout() gives.
      timingOut.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      await assert.rejects(timedOut, DeadlineExceededError);
      const ac = new AbortController();
      const leaving = sf.do('k', fn, { signal: ac.signal });
      const reason = new CancelledError('shutting down');
      ac.abort(reason);
      await assert.rejects(leaving, (err) => err === reason);
      calls[0]!.result.resolve('v');
      assert.equal(await staying, 'v');
    });

    test('a signal aborted on entry neither starts nor joins a flight', async () => {
      const sf = new SingleFlight<string>();
      const { fn, calls } = loader<string>();
      const aborted = AbortSignal.abort();
      await assert.rejects(sf.do('k', fn, { signal: aborted }), CancelledError);
      assert.equal(calls.length, 0);
      assert.equal(sf.has('k'), false);

      const running = sf.do('k', fn);
      await assert.rejects(sf.do('k', fn, { signal: aborted }), CancelledError);
      assert.equal(getEventListeners(aborted, 'abort').length, 0);
      // Had it joined and left, the flight would have lost a waiter, not ended.
      assert.equal(calls[0]!.signal.aborted, false);
      calls[0]!.result.resolve('v');
      assert.equal(await running, 'v');
    });
  });

  describe('when every caller has left', () => {
    test('the flight aborts and the key is free for a fresh flight at once', async () => {
      const sf = new SingleFlight<string>();
      const { fn, calls } = loader<string>();
      const ac1 = new AbortController();
      const ac2 = new AbortController();
      const p1 = sf.do('k', fn, { signal: ac1.signal });
      const p2 = sf.do('k', fn, { signal: ac2.signal });
      const flightSignal = calls[0]!.signal;
      ac1.abort();
      assert.equal(flightSignal.aborted, false);
      ac2.abort();
      assert.equal(flightSignal.aborted, true);
      assert.ok(isCacheError(flightSignal.reason, 'CANCELLED'), 'the reason is a CancelledError');
      assert.equal(sf.has('k'), false);
      await assert.rejects(p1, CancelledError);
      await assert.rejects(p2, CancelledError);

      const fresh = sf.do('k', fn);
      assert.equal(calls.length, 2);
      // The abandoned fn's late result is ignored and does not end the new flight.
      calls[0]!.result.resolve('stale');
      await turn();
      assert.equal(sf.has('k'), true);
      calls[1]!.result.resolve('fresh');
      assert.equal(await fresh, 'fresh');
      assert.equal(sf.size, 0);
    });

    test("the abandoned fn's rejection is never an unhandled rejection", async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const sf = new SingleFlight<string>();
        const { fn, calls } = loader<string>();
        const ac = new AbortController();
        const p = sf.do('k', fn, { signal: ac.signal });
        ac.abort();
        await assert.rejects(p, CancelledError);
        calls[0]!.result.reject(new Error('late failure'));
        await turn();
        await turn();
        assert.deepEqual(unhandled, []);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });

  describe('timeout', () => {
    test('a flight that does not settle in time rejects every waiter and frees the key', async () => {
      const clock = new ManualClock();
      const sf = new SingleFlight<string>({ timeoutMs: 5, clock });
      const { fn, calls } = loader<string>();
      const all = [sf.do('user:7', fn), sf.do('user:7', fn)];
      const state = track(all[0]!);
      const errors: unknown[] = [];
      const rejected = all.map((p) =>
        assert.rejects(p, (err) => {
          errors.push(err);
          return err instanceof DeadlineExceededError;
        }),
      );
      await clock.advance(4);
      assert.equal(state.settled, false, 'not due before its timeout');
      await clock.advance(1);
      await Promise.all(rejected);
      assert.equal(errors[0], errors[1]);
      const message = (errors[0] as Error).message;
      assert.match(message, /user:7/);
      assert.match(message, /\b5 ms\b/);
      assert.equal(calls[0]!.signal.aborted, true);
      assert.equal(calls[0]!.signal.reason, errors[0]);
      assert.equal(sf.has('user:7'), false);
      // The stuck loader does not hold the key: a new flight starts.
      const next = sf.do('user:7', fn);
      assert.equal(calls.length, 2);
      calls[1]!.result.resolve('v');
      assert.equal(await next, 'v');
    });

    test('a flight whose fn never reads its signal still reports the abort, and a late read sees it', async () => {
      const clock = new ManualClock();
      const sf = new SingleFlight<string>({ timeoutMs: 5, clock });
      let seen: FlightContext | undefined;
      const never = new Promise<string>(() => {});
      const p = sf.do('k', (flight) => {
        seen = flight;
        return never;
      });
      assert.equal(seen?.aborted, false);
      const rejected = assert.rejects(p, DeadlineExceededError);
      await clock.advance(5);
      await rejected;
      assert.equal(seen?.aborted, true);
      const signal = seen!.signal;
      assert.equal(signal.aborted, true);
      assert.ok(signal.reason instanceof DeadlineExceededError);
    });

    test('the first caller sets the timeout of its flight', async () => {
      const clock = new ManualClock();
      const sf = new SingleFlight<string>({ clock });
      const { fn, calls } = loader<string>();
      const first = sf.do('a', fn, { timeoutMs: 5 });
      const joiner = sf.do('a', fn, { timeoutMs: 0 });
      const rejected = [
        assert.rejects(first, DeadlineExceededError),
        assert.rejects(joiner, DeadlineExceededError),
      ];
      await clock.advance(5);
      await Promise.all(rejected);
      assert.equal(calls.length, 1);

      const withDefault = new SingleFlight<string>({ timeoutMs: 5, clock });
      const noTimeout = withDefault.do('b', fn, { timeoutMs: 0 });
      const state = track(noTimeout);
      assert.equal(clock.pending, 0, 'no timer for a flight without a timeout');
      await clock.advance(60_000);
      assert.equal(state.settled, false);
      calls[1]!.result.resolve('late but fine');
      assert.equal(await noTimeout, 'late but fine');
    });

    test('one timer for the flights of the default timeout; it holds the process only while one is pending', async () => {
      const setSpy = mock.method(globalThis, 'setTimeout');
      try {
        const sf = new SingleFlight<string>({ timeoutMs: 60_000 });
        const { fn, calls } = loader<string>();
        const pending = ['a', 'b', 'c'].map((k) => sf.do(k, fn));
        assert.equal(setSpy.mock.callCount(), 1, 'three flights, one timer');
        const timer = setSpy.mock.calls[0]!.result as NodeJS.Timeout;
        assert.equal(timer.hasRef(), true, 'a pending flight is owed an answer before exit');
        calls[0]!.result.resolve('a');
        calls[1]!.result.resolve('b');
        await Promise.all(pending.slice(0, 2));
        assert.equal(timer.hasRef(), true, 'c is still pending');
        calls[2]!.result.resolve('c');
        assert.equal(await pending[2], 'c');
        assert.equal(timer.hasRef(), false, 'no flight pending: the process may exit');
        const again = sf.do('d', fn);
        assert.equal(setSpy.mock.callCount(), 1, 'the timer is reused');
        assert.equal(timer.hasRef(), true);
        calls[3]!.result.resolve('d');
        assert.equal(await again, 'd');
      } finally {
        setSpy.mock.restore();
      }
    });

    test('flights time out in the order they started, each after its own timeout', async () => {
      const clock = new ManualClock();
      const sf = new SingleFlight<string>({ timeoutMs: 40, clock });
      const { fn, calls } = loader<string>();
      const first = sf.do('a', fn);
      const firstState = track(first);
      const firstRejected = assert.rejects(first, DeadlineExceededError);
      await clock.advance(20);
      const second = sf.do('b', fn);
      const secondState = track(second);
      const secondRejected = assert.rejects(second, DeadlineExceededError);
      const third = sf.do('c', fn);
      calls[2]!.result.resolve('c in time');
      assert.equal(await third, 'c in time');
      await clock.advance(19);
      assert.equal(firstState.settled, false, 'a is due at 40 ms');
      await clock.advance(1);
      await firstRejected;
      assert.equal(sf.has('b'), true, 'b started later and is not yet due');
      await clock.advance(19);
      assert.equal(secondState.settled, false, 'b is due at 60 ms');
      await clock.advance(1);
      await secondRejected;
      assert.equal(sf.size, 0);
    });
  });

  describe('no leaks', () => {
    test('a waiter that settles removes its abort listener', async () => {
      const sf = new SingleFlight<number>();
      const shared = new AbortController().signal;
      setMaxListeners(100, shared); // one listener per pending call is expected here
      const { fn, calls } = loader<number>();
      const pending = Array.from({ length: 50 }, (_, i) =>
        sf.do(`k${i % 5}`, fn, { signal: shared }),
      );
      assert.equal(getEventListeners(shared, 'abort').length, 50);
      for (const [i, c] of calls.entries()) {
        if (i % 2 === 0) c.result.resolve(i);
        else c.result.reject(new Error(`e${i}`));
      }
      await Promise.allSettled(pending);
      assert.equal(getEventListeners(shared, 'abort').length, 0);
      assert.equal(sf.size, 0);
    });

    test('many aborted waiters leave nothing behind', async () => {
      const sf = new SingleFlight<string>();
      const { fn, calls } = loader<string>();
      const staying = sf.do('k', fn);
      const controllers = Array.from({ length: 200 }, () => new AbortController());
      const leaving = controllers.map((ac) => sf.do('k', fn, { signal: ac.signal }));
      for (const ac of controllers) ac.abort();
      const results = await Promise.allSettled(leaving);
      assert.ok(
        results.every((r) => r.status === 'rejected' && r.reason instanceof CancelledError),
        'every aborted caller got a CancelledError',
      );
      for (const ac of controllers) assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
      assert.equal(calls.length, 1);
      assert.equal(getEventListeners(calls[0]!.signal, 'abort').length, 0);
      calls[0]!.result.resolve('v');
      assert.equal(await staying, 'v');
      assert.equal(sf.size, 0);
    });
  });

  describe('supersede', () => {
    test('a superseded flight answers its own callers; new callers start a fresh flight', async () => {
      const sf = new SingleFlight<string>();
      const contexts: FlightContext[] = [];
      const results: Deferred<string>[] = [];
      const fn = (ctx: FlightContext): Promise<string> => {
        contexts.push(ctx);
        const d = deferred<string>();
        results.push(d);
        return d.promise;
      };
      const before = sf.do('k', fn);
      const joined = sf.do('k', fn, { signal: new AbortController().signal });
      assert.equal(sf.supersede('k'), true);
      assert.equal(contexts[0]!.superseded, true);
      assert.equal(sf.has('k'), false);
      const after = sf.do('k', fn);
      assert.equal(contexts.length, 2, 'a caller after the supersede starts its own flight');
      assert.equal(contexts[1]!.superseded, false);
      // The old flight settling must not free the key of the new one.
      results[0]!.resolve('old');
      assert.equal(await before, 'old');
      assert.equal(await joined, 'old');
      assert.equal(sf.has('k'), true);
      const joinsNew = sf.do('k', fn);
      assert.equal(contexts.length, 2);
      results[1]!.resolve('new');
      assert.equal(await after, 'new');
      assert.equal(await joinsNew, 'new');
      assert.equal(sf.size, 0);
    });

    test('supersede of a key with no flight is a no-op', () => {
      const sf = new SingleFlight<string>();
      assert.equal(sf.supersede('none'), false);
      assert.equal(sf.size, 0);
    });

    test('a superseded flight still times out, and its callers can still leave', async () => {
      await keepAlive(async () => {
        const clock = new ManualClock();
        const sf = new SingleFlight<string>({ timeoutMs: 5, clock });
        const { fn, calls } = loader<string>();
        const stuck = sf.do('k', fn);
        sf.supersede('k');
        assert.equal(sf.size, 1);
        const rejected = assert.rejects(stuck, DeadlineExceededError);
        await clock.advance(5);
        await rejected;
        assert.equal(calls[0]!.signal.aborted, true);
        assert.equal(sf.size, 0);

        const ac = new AbortController();
        const leaving = sf.do('j', fn, { signal: ac.signal });
        sf.supersede('j');
        ac.abort();
        await assert.rejects(leaving, CancelledError);
        assert.equal(calls[1]!.signal.aborted, true, 'the last caller leaving abandons it');
        assert.equal(sf.size, 0);
      });
    });
  });

  describe('bad arguments', () => {
    test('the constructor throws InvalidArgumentError', () => {
      for (const timeoutMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '5']) {
        assert.throws(
          () => new SingleFlight({ timeoutMs: timeoutMs as number }),
          InvalidArgumentError,
          String(timeoutMs),
        );
      }
      assert.throws(() => new SingleFlight(null as unknown as undefined), InvalidArgumentError);
    });

    test('do rejects with InvalidArgumentError and starts nothing', async () => {
      const sf = new SingleFlight<string>();
      const fn = () => 'v';
      await assert.rejects(sf.do(1 as unknown as string, fn), InvalidArgumentError);
      await assert.rejects(sf.do('k', 'fn' as unknown as () => string), InvalidArgumentError);
      await assert.rejects(sf.do('k', fn, { timeoutMs: -1 }), InvalidArgumentError);
      await assert.rejects(
        sf.do('k', fn, { signal: {} as unknown as AbortSignal }),
        InvalidArgumentError,
      );
      assert.equal(sf.size, 0);
    });
  });
});
