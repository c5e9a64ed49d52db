// exchange-retry.test.ts: a gRPC client that met a peer without the Exchange stream tries it
// again: after a backoff on the transport's clock, doubling while the peer still has none, and
// at once when its connection is made again; meanwhile every request is answered by unary calls.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { type handleUnaryCall, Server } from '@grpc/grpc-js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import type { PeerValue } from '../../core/peers.js';
import { isCacheError } from '../../errors.js';
import {
  type GetRequest,
  type GetResponse,
  GetResponseSchema,
} from '../../proto/gen/groupcache_pb.js';
import { FakeGroup, utf8 } from '../http/testing.js';
import type { GrpcPeerClient } from './client.js';
import { groupCacheMethods, type Received } from './service.js';
import { exchangeHandler, listen, type ServedExchange } from './testing.js';
import { grpcTransport } from './transport.js';

const decode = (v: PeerValue) => new TextDecoder().decode(v.value);

/** Each test's transports and servers, closed after it. */
const opened: { close(): Promise<void> }[] = [];
after(() => Promise.all(opened.map((o) => o.close())));

/**
 * PeerServer is a grpc-js server of GroupCache/Get alone, as an older peer or another
 * implementation is, to which `upgrade` adds the real Exchange method while it runs.
 * `unary` and `streams` count what it was asked on each.
 */
class PeerServer {
  readonly server = new Server();
  unary = 0;
  streams = 0;
  readonly #group = new FakeGroup('g');

  constructor() {
    this.#group.load = async (key) => ({ value: utf8(`stream ${key}`), expireAt: 0, minuteQps: 0 });
    const get: handleUnaryCall<Received<GetRequest>, GetResponse> = (call, done) => {
      this.unary++;
      const { key } = call.request as GetRequest;
      done(null, create(GetResponseSchema, { value: utf8(`unary ${key}`) }));
    };
    this.server.addService({ get: groupCacheMethods.get }, { get });
  }

  /** listen binds `port` (0 for a free one) and tells the one bound. */
  listen(port = 0): Promise<number> {
    opened.push({ close: async () => void this.server.forceShutdown() });
    return listen(this.server, port);
  }

  /** upgrade serves Exchange from now on, with the real handler. */
  upgrade(): void {
    const handler = exchangeHandler(this.#group);
    this.server.addService(
      { exchange: groupCacheMethods.exchange },
      {
        exchange: (call: ServedExchange) => {
          this.streams++;
          handler(call);
        },
      },
    );
  }
}

function clientOf(port: number, clock: ManualClock) {
  const transport = grpcTransport({ clock });
  opened.push(transport);
  const client = transport.client(`http://127.0.0.1:${port}`);
  const inner = client.inner as GrpcPeerClient;
  return Object.assign(client, { streaming: () => inner.streaming });
}

describe('a gRPC client whose peer had no Exchange stream', { timeout: 30_000 }, () => {
  it('tries the stream again after its backoff, and keeps it once the peer has it', async () => {
    const peer = new PeerServer();
    const port = await peer.listen();
    const clock = new ManualClock();
    const client = clientOf(port, clock);
    assert.equal(decode(await client.get('g', 'a')), 'unary a');
    assert.equal(client.streaming(), false);
    // The peer is upgraded; until the backoff ends, requests are still unary calls.
    peer.upgrade();
    await clock.advance(29_000);
    assert.equal(client.streaming(), false);
    assert.equal(decode(await client.get('g', 'b')), 'unary b');
    assert.deepEqual([peer.unary, peer.streams], [2, 0]);
    await clock.advance(1_000);
    assert.equal(client.streaming(), true);
    assert.equal(decode(await client.get('g', 'c')), 'stream c');
    assert.deepEqual([peer.unary, peer.streams], [2, 1], 'the server saw a stream');
    // Once it answered, the stream stays (an idle one closed is opened again): no backoff runs.
    await clock.advance(3_600_000);
    assert.equal(client.streaming(), true);
    const many = await client.getMany!('g', ['d', 'e']);
    assert.deepEqual(
      [...many.values()].map((v) => decode(v as PeerValue)),
      ['stream d', 'stream e'],
    );
    assert.equal(peer.unary, 2);
  });

  it('waits twice as long after each refusal, and no request fails for a try', async () => {
    const peer = new PeerServer();
    const port = await peer.listen();
    const clock = new ManualClock();
    const client = clientOf(port, clock);
    // Several at once: those on the stream when it was refused count as one refusal.
    const first = await Promise.all(['a', 'b', 'c'].map((k) => client.get('g', k)));
    assert.deepEqual(first.map(decode), ['unary a', 'unary b', 'unary c']);
    for (const wait of [30_000, 60_000, 120_000]) {
      await clock.advance(wait - 1);
      assert.equal(client.streaming(), false, `still unary before ${wait} ms`);
      await clock.advance(1);
      assert.equal(client.streaming(), true, `the stream is tried after ${wait} ms`);
      // The try is refused again: each request of it is answered by a unary call.
      const tried = await Promise.all(['x', 'y'].map((k) => client.get('g', k)));
      assert.deepEqual(tried.map(decode), ['unary x', 'unary y']);
      assert.equal(client.streaming(), false);
    }
    assert.equal(peer.streams, 0);
  });

  it('tries the stream at once when the connection to its address is made again', async () => {
    const old = new PeerServer();
    const port = await old.listen();
    const clock = new ManualClock();
    const client = clientOf(port, clock);
    assert.equal(decode(await client.get('g', 'a')), 'unary a');
    // A rolling restart: the old process goes, a new one with the stream takes the address.
    old.server.forceShutdown();
    const upgraded = new PeerServer();
    upgraded.upgrade();
    await upgraded.listen(port);
    // A request may still meet the old connection's end (UNAVAILABLE, as any call then); the
    // one that makes the connection again goes unary, and the next uses the stream.
    let made = false;
    for (let i = 0; i < 100 && !made; i++) {
      made = await client.get('g', 'b').then(
        (v) => decode(v) === 'unary b',
        (err: unknown) => {
          if (!isCacheError(err, 'UNAVAILABLE')) throw err;
          return false;
        },
      );
    }
    assert.ok(made, 'the new process answered');
    assert.equal(client.streaming(), true, 'tried without waiting for the backoff');
    assert.equal(decode(await client.get('g', 'c')), 'stream c');
    assert.equal(upgraded.streams, 1);
  });
});
