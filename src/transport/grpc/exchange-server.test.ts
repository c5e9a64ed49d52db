// exchange-server.test.ts: the Exchange stream's server on a fake call and a ManualClock: a
// write is applied as it is read, and the time it carries counts from then.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { noopLogger } from '../../core/logger.js';
import {
  RemoveRequestSchema,
  SetRequestSchema,
  StreamRequestSchema,
  type StreamRequests,
  StreamRequestsSchema,
  type StreamResponse,
  type StreamResponses,
} from '../../proto/gen/groupcache_pb.js';
import { FakeGroup, fakeLookup, utf8 } from '../http/testing.js';
import { ExchangeServer } from './exchange-server.js';
import type { Received } from './service.js';

/** FakeCall is the server's side of one Exchange call: requests go in by `emit('data')`. */
class FakeCall extends EventEmitter {
  readonly answers: StreamResponse[] = [];
  pause(): void {}
  resume(): void {}
  write(batch: StreamResponses): boolean {
    this.answers.push(...batch.responses);
    return true;
  }
  end(): void {}
}

it('a Set or Remove on the stream is applied as it is read, its deadline counted from then', async () => {
  const clock = new ManualClock(1_000_000);
  const group = new FakeGroup('g');
  const server = new ExchangeServer({
    groups: fakeLookup(group),
    ceiling: { maxKeyBytes: 256, maxValueBytes: 1024 },
    signal: new AbortController().signal,
    logger: noopLogger,
    maxStreamRequests: 16,
    idleTimeoutMs: 60_000,
    clock,
  });
  const call = new FakeCall();
  server.handler(call as unknown as ServerDuplexStream<Received<StreamRequests>, StreamResponses>);
  // Time passes on the stream before the batch is read; what each write carries counts from the read.
  clock.advance(30_000);
  const readAt = clock.now();
  call.emit(
    'data',
    create(StreamRequestsSchema, {
      requests: [
        create(StreamRequestSchema, {
          id: 1,
          op: {
            case: 'set',
            value: create(SetRequestSchema, { group: 'g', key: 'k', value: utf8('v') }),
          },
          timeoutMs: 1,
        }),
        create(StreamRequestSchema, {
          id: 2,
          op: {
            case: 'set',
            value: create(SetRequestSchema, { group: 'g', key: 'j', value: utf8('w') }),
          },
        }),
        create(StreamRequestSchema, {
          id: 3,
          op: { case: 'remove', value: create(RemoveRequestSchema, { group: 'g', key: 'j' }) },
          timeoutMs: 7,
        }),
      ],
    }),
  );
  assert.deepEqual(group.seen, ['k', 'j', 'j'], 'each write reached the group as it was read');
  assert.deepEqual(group.writeDeadlines, [readAt + 1, undefined, readAt + 7]);
  assert.deepEqual([...group.store.keys()], ['k']);
  await turn();
  assert.deepEqual(
    call.answers.map((a) => [a.id, a.result.case]),
    [
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ],
    'each answered done',
  );
  server.drain();
});
