// exchange-backpressure.test.ts: an Exchange stream whose peer stops reading: the client holds
// what grpc-js will not take, bounded with the rest, fails the excess at once with a typed error,
// and sends it all once the peer reads again; a server stops reading a client that reads no answers.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Server } from '@grpc/grpc-js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { isCacheError } from '../../errors.js';
import {
  GetRequestSchema,
  StreamRequestSchema,
  StreamRequestsSchema,
  type StreamResponses,
} from '../../proto/gen/groupcache_pb.js';
import { until } from '../../util/limits-testing.js';
import { FakeGroup } from '../http/testing.js';
import type { GrpcPeerClient } from './client.js';
import { groupCacheMethods } from './service.js';
import { exchangeHandler, listen, rawExchange, type ServedExchange } from './testing.js';
import { grpcTransport } from './transport.js';

const opened: { close(): Promise<void> }[] = [];
after(() => Promise.all(opened.map((o) => o.close())));

/** peer serves `group` with the real Exchange handler, its calls kept for the test to pause. */
async function peer(group: FakeGroup): Promise<{ port: number; calls: ServedExchange[] }> {
  const handler = exchangeHandler(group);
  const calls: ServedExchange[] = [];
  const server = new Server();
  server.addService(
    { exchange: groupCacheMethods.exchange },
    {
      exchange: (call: ServedExchange) => {
        handler(call);
        calls.push(call);
      },
    },
  );
  opened.push({ close: async () => void server.forceShutdown() });
  return { port: await listen(server), calls };
}

describe('an Exchange stream whose peer stops reading', { timeout: 60_000 }, () => {
  it('holds what grpc-js will not take, within its bounds, and sends it once the peer reads', async () => {
    const group = new FakeGroup('g');
    const { port, calls } = await peer(group);
    // A clock that stands still: no request's deadline passes while the test looks.
    const transport = grpcTransport({
      clock: new ManualClock(),
      maxStreamRequests: 64,
      maxQueuedRequests: 8,
    });
    opened.push(transport);
    const client = transport.client(`http://127.0.0.1:${port}`);
    const inner = client.inner as GrpcPeerClient;
    // The stream is open and answered; then its server stops reading it.
    await assert.rejects(client.get('g', 'first'), { code: 'NOT_FOUND' });
    assert.equal(calls.length, 1);
    calls[0]!.pause();
    // Each Set a message of its own, larger than the peer's HTTP/2 window.
    const value = new Uint8Array(256 * 1024).fill(7);
    // The last one on the stream, still unwritten when the stream blocks, is given up.
    const leaving = new AbortController();
    const sets = Array.from({ length: 100 }, (_, i) =>
      client.set('g', `k${i}`, value, 0, i === 63 ? { signal: leaving.signal } : {}).then(
        () => 'ok',
        (err: unknown) => err,
      ),
    );
    await until(() => inner.streamStats()?.blocked === true);
    const stats = inner.streamStats()!;
    assert.equal(stats.inFlight, 64, 'at most maxStreamRequests on the stream');
    assert.equal(stats.waiting, 8, 'at most maxQueuedRequests waiting');
    assert.ok(stats.unwritten > 0, 'requests grpc-js would not take wait in the client');
    assert.deepEqual(group.seen, ['first'], 'the peer read nothing more');
    // Given up before it left: taken back, its place to one that waited.
    leaving.abort();
    assert.equal(inner.streamStats()!.waiting, 7);
    // The peer reads again: everything held goes out and is answered, on the same stream.
    calls[0]!.resume();
    const outcomes = await Promise.all(sets);
    // Past both bounds, the rest failed at once, typed.
    assert.ok(isCacheError(outcomes[63], 'CANCELLED'));
    const refused = outcomes.filter((o, i) => o !== 'ok' && i !== 63);
    assert.equal(refused.length, 28);
    for (const err of refused) {
      assert.ok(isCacheError(err, 'UNAVAILABLE'), `${err}`);
      assert.match((err as Error).message, /wait for the stream already/);
    }
    assert.equal(group.store.size, 71);
    assert.equal(group.store.has('k63'), false, 'the request given up was never sent');
    assert.equal(calls.length, 1);
    const after = inner.streamStats()!;
    assert.deepEqual([after.inFlight, after.unwritten, after.blocked], [0, 0, false]);
  });

  it('a server stops reading requests while its answers wait, and serves on once read', async () => {
    const group = new FakeGroup('g');
    const big = new Uint8Array(512 * 1024).fill(1);
    group.load = async () => ({ value: big, expireAt: 0, minuteQps: 0 });
    const { port, calls } = await peer(group);
    const { call, close } = rawExchange(port);
    opened.push({ close });
    let answered = 0;
    call.on('data', (batch: StreamResponses) => {
      answered += batch.responses.length;
    });
    // A client that takes no answers: its side of the stream fills, then the server's.
    call.pause();
    const get = (id: number) =>
      create(StreamRequestsSchema, {
        requests: [
          create(StreamRequestSchema, {
            id,
            op: { case: 'get', value: create(GetRequestSchema, { group: 'g', key: `k${id}` }) },
          }),
        ],
      });
    // One request at a time, each once the last was read, until the server stops reading.
    let sent = 0;
    await until(() => calls.length === 1);
    const server = calls[0]!;
    while (!server.isPaused() && sent < 1_000) {
      sent++;
      call.write(get(sent));
      await until(() => group.seen.length === sent || server.isPaused());
    }
    assert.ok(server.isPaused(), `the server still reads after ${sent} answers unread`);
    assert.ok(sent < 1_000);
    // The client reads again: every request read is answered and the server reads on.
    call.resume();
    await until(() => answered === sent);
    await until(() => !server.isPaused());
    call.write(get(sent + 1));
    await until(() => answered === sent + 1);
    call.end();
  });
});
