// supervisor.test.ts: WorkerSupervisor with fake workers and a fake clock: restarts with
// backoff, a worker that fails at start, and the orderly stop.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../test/support/manual-clock.js';
import { noopLogger } from '../core/logger.js';
import { RestartBackoff } from './restart-backoff.js';
import { WorkerSupervisor } from './supervisor.js';

function fixture(count = 2) {
  const clock = new ManualClock(1_000_000);
  const forks: number[] = [];
  const signals: string[] = [];
  const events: string[] = [];
  let pid = 100;
  const supervisor = new WorkerSupervisor({
    count,
    clock,
    logger: noopLogger,
    backoff: { minMs: 100, maxMs: 800, stableMs: 10_000 },
    fork: (index) => {
      forks.push(index);
      const mine = pid++;
      return { pid: mine, kill: (s) => signals.push(`${index}:${mine}:${s}`) };
    },
    onAllReady: () => events.push('all ready'),
    onFailed: (reason) => events.push(`failed: ${reason}`),
  });
  return { clock, forks, signals, events, supervisor };
}

describe('RestartBackoff', () => {
  test('doubles while a worker dies young, up to the cap, and starts over after a long life', () => {
    const b = new RestartBackoff({ minMs: 100, maxMs: 800, stableMs: 10_000 });
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      b.started(now);
      now += 50;
      waits.push(b.died(now));
    }
    assert.deepEqual(waits, [100, 200, 400, 800, 800, 800]);
    b.started(now);
    assert.equal(b.died(now + 10_000), 100);
  });
});

describe('WorkerSupervisor', () => {
  test('is ready once every worker is; a worker that dies is started again after the backoff', async () => {
    const { clock, forks, events, supervisor } = fixture();
    supervisor.start();
    assert.deepEqual(forks, [0, 1]);
    supervisor.ready(0);
    assert.deepEqual(events, []);
    supervisor.ready(1);
    assert.deepEqual(events, ['all ready']);
    const before = supervisor.pids();
    supervisor.exited(1, null, 'SIGKILL');
    assert.deepEqual(supervisor.pids(), [before[0], undefined]);
    await clock.advance(99);
    assert.deepEqual(forks, [0, 1], 'not before the backoff');
    await clock.advance(1);
    assert.deepEqual(forks, [0, 1, 1]);
    // Dying young again doubles the wait.
    supervisor.exited(1, 1, null);
    await clock.advance(199);
    assert.deepEqual(forks, [0, 1, 1]);
    await clock.advance(1);
    assert.deepEqual(forks, [0, 1, 1, 1]);
    supervisor.ready(1);
    assert.deepEqual(events, ['all ready'], 'all ready is told once');
  });

  test('a worker that ends before all were ready fails the start: nothing is restarted', async () => {
    const { clock, forks, events, supervisor } = fixture();
    supervisor.start();
    supervisor.ready(0);
    supervisor.exited(1, 1, null);
    assert.deepEqual(events, ['failed: worker 1 ended before it was ready (code 1, signal null)']);
    await clock.advance(60_000);
    assert.deepEqual(forks, [0, 1]);
  });

  test('stop passes SIGTERM to each worker, drops pending restarts, and ends when all have', async () => {
    const { clock, forks, signals, supervisor } = fixture(3);
    supervisor.start();
    for (const i of [0, 1, 2]) supervisor.ready(i);
    supervisor.exited(2, null, 'SIGKILL');
    let code: number | undefined;
    void supervisor.stop().then((c) => {
      code = c;
    });
    assert.deepEqual(signals, ['0:100:SIGTERM', '1:101:SIGTERM']);
    await clock.advance(60_000);
    assert.deepEqual(forks, [0, 1, 2], 'the pending restart was dropped');
    supervisor.exited(0, 0, null);
    await clock.advance(0);
    assert.equal(code, undefined, 'worker 1 still runs');
    supervisor.exited(1, null, 'SIGTERM');
    await clock.advance(0);
    assert.equal(code, 0);
  });

  test('stop ends with 1 when a worker failed to shut down cleanly', async () => {
    const { clock, supervisor } = fixture(1);
    supervisor.start();
    supervisor.ready(0);
    let code: number | undefined;
    void supervisor.stop().then((c) => {
      code = c;
    });
    supervisor.exited(0, 1, null);
    await clock.advance(0);
    assert.equal(code, 1);
  });
});
