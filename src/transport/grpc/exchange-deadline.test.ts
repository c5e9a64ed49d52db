// exchange-deadline.test.ts: a request on the Exchange stream tells the peer the time its
// caller has left when it is written, not when it was sent: one that waited for room on
// the stream goes with less. The stream's call is a stand-in that records what is written.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ManualClock, settle } from '../../../test/support/manual-clock.js';
import {
  GetRequestSchema,
  StreamRequestSchema,
  type StreamRequests,
  StreamResponseSchema,
  StreamResponsesSchema,
} from '../../proto/gen/groupcache_pb.js';
import { type ExchangeCall, PeerStream } from './exchange-client.js';

/** A call that keeps the batches written to it and answers when the test says. */
class RecordingCall extends EventEmitter {
  readonly written: StreamRequests[] = [];
  write(batch: StreamRequests): boolean {
    this.written.push(batch);
    return true;
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
function recorded(maxStreamRequests: number) {
  const clock = new ManualClock(1_000_000);
  const call = new RecordingCall();
  const stream = new PeerStream({
    url: 'http://peer',
    open: () => call as unknown as ExchangeCall,
    details: () => '',
    maxStreamRequests,
    maxQueuedRequests: 8,
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
