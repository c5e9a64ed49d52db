// exchange-queue.test.ts: what a client's Exchange stream holds before it writes: a request
// tells the peer the time its caller has left when it is written, not when it was sent (one
// that waited for room goes with less), and the bytes that wait to be written are bounded
// (a peer that does not read). The stream's call is a stand-in that records what is written.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Metadata, status } from '@grpc/grpc-js';
import { ManualClock, settle } from '../../../test/support/manual-clock.js';
import { DeadlineExceededError, UnavailableError } from '../../errors.js';
import {
  GetRequestSchema,
  SetRequestSchema,
  StreamRequestSchema,
  type StreamRequests,
  StreamResponseSchema,
  StreamResponsesSchema,
} from '../../proto/gen/groupcache_pb.js';
import type { Clock } from '../../util/clock.js';
import { type ExchangeCall, NoExchangeError, PeerStream } from './exchange-client.js';

/** A call that keeps the batches written to it and answers when the test says. */
class RecordingCall extends EventEmitter {
  readonly written: StreamRequests[] = [];
  /** False: every write answers that the stream's buffer is full, as for a peer that does not read. */
  accepting = true;
  write(batch: StreamRequests): boolean {
    this.written.push(batch);
    return this.accepting;
  }
  end(): void {}
  cancel(): void {}
  answer(id: number): void {
    const value = create(StreamResponseSchema, {
      id,
      result: { case: 'value', value: { value: new Uint8Array([1]) } },
    });
    this.emit('data', create(StreamResponsesSchema, { responses: [value] }));
  }
}

/** recorded is a PeerStream on a manual clock whose call records what is written. */
function recorded<C extends Clock = ManualClock>(
  maxStreamRequests: number,
  maxQueuedBytes = 16 << 20,
  clock: C = new ManualClock(1_000_000) as unknown as C,
) {
  const call = new RecordingCall();
  const stream = new PeerStream({
    url: 'http://peer',
    open: () => call as unknown as ExchangeCall,
    details: () => '',
    maxStreamRequests,
    maxQueuedRequests: 8,
    maxQueuedBytes,
    idleMs: 60_000,
    clock,
  });
  return { clock, call, stream };
}

function get(key: string) {
  return create(StreamRequestSchema, {
    op: { case: 'get', value: create(GetRequestSchema, { group: 'g', key }) },
  });
}

test('a request that waited for room is written with the time its caller has left then', async () => {
  const { clock, call, stream } = recorded(1);
  const deadline = clock.now() + 5_000;
  const first = stream.send(get('a'), 1, deadline, undefined);
  const second = stream.send(get('b'), 1, deadline, undefined);
  await settle();
  assert.equal(call.written.length, 1, 'the second waits: one request in flight at most');
  const [a] = call.written[0]!.requests;
  assert.equal(a!.timeoutMs, 5_000);

  await clock.advance(3_000);
  call.answer(a!.id);
  await first;
  await settle();
  assert.equal(call.written.length, 2);
  const [b] = call.written[1]!.requests;
  assert.equal(b!.op.case === 'get' && b!.op.value.key, 'b');
  assert.equal(b!.timeoutMs, 2_000, 'written 3 s after it was sent: 2 s left');
  call.answer(b!.id);
  await second;
  stream.close();
});

test('a request without a deadline carries no timeout', async () => {
  const { call, stream } = recorded(4);
  const got = stream.send(get('a'), 1, Number.POSITIVE_INFINITY, undefined);
  await settle();
  const [a] = call.written[0]!.requests;
  assert.equal(a!.timeoutMs, 0);
  call.answer(a!.id);
  await got;
  stream.close();
});

function set(key: string, bytes: number) {
  return create(StreamRequestSchema, {
    op: {
      case: 'set',
      value: create(SetRequestSchema, { group: 'g', key, value: new Uint8Array(bytes) }),
    },
  });
}

test('the bytes waiting to be written are bounded: past them a request fails UNAVAILABLE at once', async () => {
  const { call, stream } = recorded(64, 1 << 20);
  call.accepting = false;
  const deadline = Number.POSITIVE_INFINITY;
  // The first write finds the stream full; what follows is held unwritten.
  const sent = [stream.send(set('s0', 256 << 10), 1, deadline, undefined)];
  await settle();
  assert.equal(call.written.length, 1);
  for (let i = 1; i <= 3; i++)
    sent.push(stream.send(set(`s${i}`, 256 << 10), 1, deadline, undefined));
  assert.equal(stream.stats().unwritten, 3, 'held while the stream does not drain');
  await assert.rejects(
    stream.send(set('over', 256 << 10), 1, deadline, undefined),
    (err: unknown) => err instanceof UnavailableError && /bytes of requests wait/.test(err.message),
  );
  // 3 × 256 KiB wait: a fourth would pass 1 MiB, a small request still fits beside them.
  const small = stream.send(get('k'), 1, deadline, undefined);
  assert.equal(stream.stats().unwritten, 4);

  // The peer reads again: the held requests are written, and the bound lets new ones in.
  call.accepting = true;
  call.emit('drain');
  assert.equal(stream.stats().unwritten, 0);
  const again = stream.send(set('after', 256 << 10), 1, deadline, undefined);
  await settle();
  const ids = call.written.flatMap((b) => b.requests.map((r) => r.id));
  assert.equal(ids.length, 6, 'every request let in was written, the refused one never');
  for (const id of ids) call.answer(id);
  await Promise.all([...sent, small, again]);
  stream.close();
});

test('one request larger than the bound is let in when none waits', async () => {
  const { call, stream } = recorded(64, 1 << 20);
  const big = stream.send(set('big', 2 << 20), 1, Number.POSITIVE_INFINITY, undefined);
  await settle();
  const [r] = call.written[0]!.requests;
  call.answer(r!.id);
  await big;
  stream.close();
});

/** A manual clock whose timers say whether they are ref'd, as Node's do: what keeps a process open. */
class RefClock extends ManualClock {
  readonly refed = new Set<object>();
  override setTimeout(fn: () => void, ms: number): unknown {
    const holder: { timer?: object } = {};
    const timer = super.setTimeout(() => {
      this.refed.delete(holder.timer as object);
      fn();
    }, ms) as object & { ref?: () => void; unref?: () => void };
    holder.timer = timer;
    timer.ref = () => this.refed.add(timer);
    timer.unref = () => this.refed.delete(timer);
    return timer;
  }
  override clearTimeout(handle: unknown): void {
    this.refed.delete(handle as object);
    super.clearTimeout(handle);
  }
}

test('a peer without the stream leaves no timer holding the process once its requests failed', async () => {
  const { clock, call, stream } = recorded(1, 1 << 20, new RefClock(1_000_000));
  const deadline = clock.now() + 5_000;
  const sent = stream.send(get('a'), 1, deadline, undefined);
  const waiting = stream.send(get('b'), 1, deadline, undefined);
  await settle();
  assert.ok(clock.refed.size > 0, 'a request in flight is owed its timeout');
  call.emit('status', {
    code: status.UNIMPLEMENTED,
    details: 'no Exchange',
    metadata: new Metadata(),
  });
  await assert.rejects(sent, NoExchangeError);
  await assert.rejects(waiting, NoExchangeError);
  assert.equal(clock.refed.size, 0, 'no timer holds the process open');
  stream.close();
});

test('a request whose deadline passed while it waited to be written is given up unsent, even when the timer is late', async () => {
  // A clock whose reading can jump ahead of its timers, as a busy process's timers run late.
  const base = new ManualClock(1_000_000);
  let late = 0;
  const clock = {
    now: () => base.now() + late,
    setTimeout: (fn: () => void, ms: number) => base.setTimeout(fn, ms),
    clearTimeout: (handle: unknown) => base.clearTimeout(handle),
  };
  const { call, stream } = recorded(8, 1 << 20, clock);
  call.accepting = false;
  const first = stream.send(get('a'), 1, Number.POSITIVE_INFINITY, undefined);
  await settle();
  const held = stream.send(get('b'), 1, clock.now() + 1_000, undefined);
  assert.equal(stream.stats().unwritten, 1);
  late = 2_000;
  call.accepting = true;
  call.emit('drain');
  await assert.rejects(held, DeadlineExceededError);
  assert.equal(call.written.length, 1, 'only the first request was written');
  call.answer(call.written[0]!.requests[0]!.id);
  await first;
  stream.close();
});
