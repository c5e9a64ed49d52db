// stats-call.test.ts: the tcp stats call's timeouts over real sockets, driven by a manual clock:
// a peer that accepts the connection and reads the STATS frame but never answers it.

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ManualClock, settle } from '../../../test/support/manual-clock.js';
import { within } from '../../../test/support/process.js';
import { DeadlineExceededError } from '../../errors.js';
import { FrameReader, FrameType, HEADER_BYTES } from './frame.js';
import { tcpTransport } from './transport.js';

const MiB = 1024 * 1024;

/**
 * silentPeer accepts connections and reads their frames, answering none: `frames` lists
 * what it read (type, and the version of a HELLO); `read(type)` resolves once a frame of
 * that type has arrived.
 */
async function silentPeer() {
  const sockets = new Set<Socket>();
  const frames: { type: number; version?: number }[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader(MiB, (buf, start) => {
      const type = buf[start] as number;
      frames.push(
        type === FrameType.Hello
          ? { type, version: buf[start + HEADER_BYTES] as number }
          : { type },
      );
      for (const w of waiters) w();
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    frames,
    read: (type: number) =>
      within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (frames.some((f) => f.type === type)) resolve();
          };
          waiters.push(check);
          check();
        }),
        10_000,
        `frame ${type} read`,
      ),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** tracked follows `p`'s outcome without waiting for it. */
function tracked<T>(p: Promise<T>) {
  const state: { settled: boolean; error?: unknown } = { settled: false };
  p.then(
    () => {
      state.settled = true;
    },
    (err: unknown) => {
      state.settled = true;
      state.error = err;
    },
  );
  return state;
}

describe('tcp stats call', () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  /**
   * unanswered starts a stats call (with `deadlineMs` from now, if given) to a silent peer
   * through a transport whose request timeout is a minute on a clock that stands still,
   * and returns once the peer has read its STATS frame: only advancing the clock can end it.
   */
  async function unanswered(deadlineMs?: number) {
    const peer = await silentPeer();
    cleanup.push(() => peer.close());
    const clock = new ManualClock();
    const t = tcpTransport({ clock, requestTimeoutMs: 60_000, connectTimeoutMs: 120_000 });
    cleanup.push(() => t.close());
    const client = t.client(`http://127.0.0.1:${peer.port}`);
    assert.ok(client.nodeStats);
    const call = client.nodeStats(
      { group: 'g' },
      deadlineMs === undefined ? undefined : { deadline: clock.now() + deadlineMs },
    );
    const outcome = tracked(call);
    await peer.read(FrameType.Stats);
    /** failsAfter advances the clock to a millisecond short of `ms`, then to it. */
    const failsAfter = async (ms: number) => {
      await clock.advance(ms - 1);
      await settle();
      assert.equal(outcome.settled, false, 'still waiting a millisecond before its timeout');
      await clock.advance(1);
      await within(assert.rejects(call, DeadlineExceededError), 10_000, 'the call fails');
      return outcome.error as Error;
    };
    return { peer, failsAfter };
  }

  it('a peer that never answers fails it DEADLINE_EXCEEDED once the clock passes the request timeout', async () => {
    const { peer, failsAfter } = await unanswered();
    // Its own connection: a HELLO of version 1, whose acceptance is never answered, then STATS.
    assert.deepEqual(peer.frames, [
      { type: FrameType.Hello, version: 1 },
      { type: FrameType.Stats },
    ]);
    const err = await failsAfter(60_000);
    assert.match(err.message, /Stats: no answer in time/);
  });

  it("the caller's deadline, when earlier, is the one the clock runs out", async () => {
    const { failsAfter } = await unanswered(30_000);
    await failsAfter(30_000);
  });
});
