// exchange.test.ts: the Exchange stream between a real gRPC client and server on loopback: many
// requests on one stream, its caps on both sides, a stream that breaks, a peer without it (unary
// from then on), bad requests answered by id, per-request cancel and trace context, GetMany.
import assert from 'node:assert/strict';
import { createServer as createHttp2Server, type ServerHttp2Stream } from 'node:http2';
import { after, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { type handleUnaryCall, Server } from '@grpc/grpc-js';
import { noopLogger } from '../../core/logger.js';
import type { CallOptions, PeerValue } from '../../core/peers.js';
import { isCacheError, NotFoundError } from '../../errors.js';
import {
  type GetRequest,
  GetRequestSchema,
  type GetResponse,
  GetResponseSchema,
  StreamRequestSchema,
  StreamRequestsSchema,
  type StreamResponse,
  type StreamResponses,
} from '../../proto/gen/groupcache_pb.js';
import { until } from '../../util/limits-testing.js';
import { deferred, FakeGroup, fakeLookup, utf8 } from '../http/testing.js';
import type { GrpcPeerClient } from './client.js';
import type { GrpcPeerServer } from './server.js';
import { groupCacheMethods, type Received } from './service.js';
import { listen, rawExchange } from './testing.js';
import { type GrpcTransportOptions, grpcTransport } from './transport.js';

const decode = (v: PeerValue) => new TextDecoder().decode(v.value);

/** Each test's transports and servers, closed after it. */
const opened: { close(): Promise<void> }[] = [];
after(() => Promise.all(opened.map((o) => o.close())));

/** serve starts a server of `group` with its own transport; `port` 0 for a free one. */
async function serve(
  group: FakeGroup,
  options: GrpcTransportOptions = {},
  port = 0,
): Promise<GrpcPeerServer> {
  const transport = grpcTransport(options);
  opened.push(transport);
  const server = await transport.serve(fakeLookup(group), {
    host: '127.0.0.1',
    port,
    signal: new AbortController().signal,
    logger: noopLogger,
  });
  opened.push({ close: () => server.close(0) });
  return server;
}

/** clientOf is a client of a fresh transport for the server at `port`, with getMany. */
function clientOf(port: number, options: GrpcTransportOptions = {}) {
  const transport = grpcTransport(options);
  opened.push(transport);
  const client = transport.client(`http://127.0.0.1:${port}`);
  const inner = client.inner as GrpcPeerClient;
  return Object.assign(client, {
    getMany: client.getMany!,
    /** streaming tells whether the client still sends its requests on the stream. */
    streaming: () => inner.streaming,
  });
}

/** heldGroup is a group whose loads wait for `gate`, counting how many are open at once. */
function heldGroup() {
  const group = new FakeGroup('g');
  const gate = deferred();
  const counts = { open: 0, most: 0 };
  group.load = async (key, signal) => {
    counts.open++;
    counts.most = Math.max(counts.most, counts.open);
    try {
      await new Promise<void>((resolve, reject) => {
        gate.promise.then(() => resolve());
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    } finally {
      counts.open--;
    }
    return { value: utf8(`value of ${key}`), expireAt: 0, minuteQps: 0 };
  };
  return { group, gate, counts };
}

/**
 * GenerationGroup is a FakeGroup that keeps a generation as a real group does: a request
 * with a higher one moves it up first, and a value found carries the generation it was
 * found under (a stored value's own, else the group's). `sent` lists what requests carried.
 */
class GenerationGroup extends FakeGroup {
  generation = 0;
  readonly sent: (number | undefined)[] = [];

  #catchUp(options: CallOptions | undefined): void {
    const g = options?.generation;
    this.sent.push(g);
    if (g !== undefined && g > this.generation) this.generation = g;
  }

  override async getForPeer(key: string, options?: CallOptions): Promise<PeerValue> {
    this.#catchUp(options);
    const found = await super.getForPeer(key, options);
    const generation = found.generation ?? this.generation;
    return generation ? { ...found, generation } : found;
  }

  override setFromPeer(k: string, v: Uint8Array, at: number, options?: CallOptions): void {
    this.#catchUp(options);
    super.setFromPeer(k, v, at, options);
  }

  override removeFromPeer(key: string, options?: CallOptions): void {
    this.#catchUp(options);
    super.removeFromPeer(key, options);
  }
}

describe('gRPC Exchange stream', { timeout: 30_000 }, () => {
  it('carries gets, sets, removes and getMany, each answered by id', async () => {
    const group = new FakeGroup('g');
    group.store.set('a', { value: utf8('A'), expireAt: 0, minuteQps: 0 });
    const server = await serve(group);
    const client = clientOf(server.address.port);
    const [a, missing] = await Promise.allSettled([client.get('g', 'a'), client.get('g', 'nope')]);
    assert.equal(a.status === 'fulfilled' && decode(a.value), 'A');
    assert.ok(missing.status === 'rejected' && missing.reason instanceof NotFoundError);
    await client.set('g', 'b', utf8('B'), 0);
    // A key's error, the first key's included, is that key's alone.
    const many = await client.getMany('g', ['', 'a', 'b', 'nope']);
    assert.deepEqual(
      [...many].map(([k, v]) => [k, isCacheError(v) ? v.code : decode(v)]),
      [
        ['', 'INVALID_ARGUMENT'],
        ['a', 'A'],
        ['b', 'B'],
        ['nope', 'NOT_FOUND'],
      ],
    );
    // Past the servers' batch limit of keys: several requests, one answer in the order asked.
    const keys = Array.from({ length: 2_500 }, (_, i) => (i === 1_500 ? 'a' : `k${i}`));
    const all = await client.getMany('g', keys);
    assert.deepEqual([...all.keys()], keys);
    assert.equal(decode(all.get('a') as PeerValue), 'A');
    assert.equal((all.get('k2499') as { code?: string }).code, 'NOT_FOUND');
    const one = await client.getMany('g', ['nope']);
    assert.equal((one.get('nope') as { code?: string }).code, 'NOT_FOUND');
    await client.remove('g', 'b');
    await assert.rejects(client.get('g', 'b'), { code: 'NOT_FOUND' });
    // A group the server does not have fails the request whole, as a Get does.
    await assert.rejects(client.getMany('nope', ['a']), { code: 'UNAVAILABLE' });
    assert.equal(client.streaming(), true, 'every request went on the stream');
  });

  for (const stream of [true, false]) {
    it(`a group's generation goes both ways ${stream ? 'on the stream' : 'with unary calls'}, getMany's too`, async () => {
      const group = new GenerationGroup('g');
      group.store.set('a', { value: utf8('A'), expireAt: 0, minuteQps: 0 });
      // Found under an older generation than the group's: answered, marked as it was found.
      group.store.set('old', { value: utf8('O'), expireAt: 0, minuteQps: 0, generation: 5 });
      const server = await serve(group);
      const client = clientOf(server.address.port, { stream });
      // Never cleared: nothing is sent, nothing comes back.
      assert.equal((await client.get('g', 'a')).generation, undefined);
      assert.deepEqual(group.sent, [undefined]);
      // A request carries the asker's generation; the owner catches up and answers with it.
      const g = 1_700_000_000_000;
      assert.equal((await client.get('g', 'a', { generation: g })).generation, g);
      assert.equal(group.generation, g);
      // A write carries it too, and its answer brings the owner's back.
      const heard: number[] = [];
      const onGeneration = (n: number) => heard.push(n);
      await client.set('g', 'b', utf8('B'), 0, { generation: g + 1, onGeneration });
      await client.remove('g', 'b', { onGeneration });
      assert.deepEqual(heard, [g + 1, g + 1]);
      assert.deepEqual(group.sent.slice(2), [g + 1, undefined]);
      // GetMany: the request carries it to every key's get.
      const many = await client.getMany('g', ['a', 'old', 'nope'], { generation: g + 2 });
      assert.deepEqual(group.sent.slice(4), [g + 2, g + 2, g + 2]);
      const generations = [...many.values()].map((v) => (isCacheError(v) ? v.code : v.generation));
      // One for all its values, the oldest, on the stream as in a unary answer's metadata:
      // the asker keeps none that a clear made stale.
      assert.deepEqual(generations, [5, 5, 'NOT_FOUND']);
      assert.equal(client.streaming(), stream);
    });
  }

  it('unary GetMany answers each key for other clients', async () => {
    const group = new FakeGroup('g');
    group.store.set('a', { value: utf8('A'), expireAt: 0, minuteQps: 0 });
    const server = await serve(group);
    const client = clientOf(server.address.port, { stream: false });
    const many = await client.getMany('g', ['a', 'nope', 'k'.repeat(5000)]);
    assert.deepEqual(
      [...many.values()].map((v) => (isCacheError(v) ? v.code : decode(v))),
      ['A', 'NOT_FOUND', 'TOO_LARGE'],
    );
    await assert.rejects(client.getMany('nope', ['a']), { code: 'UNAVAILABLE' });
  });

  it('requests in flight on a broken stream fail UNAVAILABLE; the next request opens another', async () => {
    const { group, gate } = heldGroup();
    const first = await serve(group);
    const port = first.address.port;
    const client = clientOf(port);
    const held = client.get('g', 'held');
    await until(() => group.seen.includes('held'));
    await first.close(0);
    await assert.rejects(held, { code: 'UNAVAILABLE' });
    gate.resolve();
    // The same address served again: the client's next request opens a new stream there.
    await serve(group, {}, port);
    assert.equal(decode(await client.get('g', 'again')), 'value of again');
    assert.equal(client.streaming(), true);
  });

  it('a peer without the stream is sent unary calls from then on, those in flight included', async () => {
    const seen: string[] = [];
    const get: handleUnaryCall<Received<GetRequest>, GetResponse> = (call, done) => {
      const { key } = call.request as GetRequest;
      seen.push(key);
      done(null, create(GetResponseSchema, { value: utf8(`unary ${key}`) }));
    };
    // A server of Get only, as another gRPC implementation of the service might be.
    const server = new Server();
    server.addService({ get: groupCacheMethods.get }, { get });
    const port = await listen(server);
    opened.push({ close: async () => void server.forceShutdown() });
    const client = clientOf(port);
    const got = await Promise.all(['a', 'b', 'c'].map((k) => client.get('g', k)));
    assert.deepEqual(got.map(decode), ['unary a', 'unary b', 'unary c']);
    assert.equal(client.streaming(), false);
    // GetMany is unknown too: one Get per key.
    const many = await client.getMany('g', ['d', 'e']);
    assert.deepEqual(
      [...many.values()].map((v) => (isCacheError(v) ? v.code : decode(v))),
      ['unary d', 'unary e'],
    );
    assert.deepEqual(seen.sort(), ['a', 'b', 'c', 'd', 'e']);
  });

  it('a client has at most maxStreamRequests in flight; the rest wait, up to maxQueuedRequests', async () => {
    const { group, gate, counts } = heldGroup();
    const server = await serve(group);
    const client = clientOf(server.address.port, { maxStreamRequests: 2, maxQueuedRequests: 2 });
    const gets = ['a', 'b', 'c', 'd'].map((k) => client.get('g', k));
    await assert.rejects(client.get('g', 'e'), { code: 'UNAVAILABLE', message: /wait/ });
    await until(() => counts.open === 2);
    gate.resolve();
    assert.deepEqual((await Promise.all(gets)).map(decode), [
      'value of a',
      'value of b',
      'value of c',
      'value of d',
    ]);
    assert.equal(counts.most, 2, 'never more than two in flight');
  });

  it('a request that gives up while waiting for room leaves the queue to others', async () => {
    const { group, gate, counts } = heldGroup();
    const server = await serve(group);
    const client = clientOf(server.address.port, { maxStreamRequests: 1, maxQueuedRequests: 1 });
    const held = client.get('g', 'held');
    await until(() => counts.open === 1);
    await assert.rejects(client.get('g', 'late', { deadline: Date.now() + 30 }), {
      code: 'DEADLINE_EXCEEDED',
    });
    // Its place in the queue is free: one more may wait.
    const next = client.get('g', 'next');
    await assert.rejects(client.get('g', 'over'), { code: 'UNAVAILABLE', message: /wait/ });
    gate.resolve();
    assert.deepEqual((await Promise.all([held, next])).map(decode), [
      'value of held',
      'value of next',
    ]);
    assert.equal(group.seen.includes('late'), false, 'the request given up was never sent');
  });

  it('a server answers requests past its maxStreamRequests UNAVAILABLE and serves the rest', async () => {
    const { group, gate, counts } = heldGroup();
    const server = await serve(group, { maxStreamRequests: 2 });
    const client = clientOf(server.address.port);
    const gets = ['a', 'b', 'c'].map((k) => client.get('g', k));
    const refused = await Promise.race(
      gets.map((g) =>
        g.then(
          () => undefined,
          (err) => err,
        ),
      ),
    );
    assert.equal(refused?.code, 'UNAVAILABLE');
    assert.match(refused.message, /too many requests in flight/);
    assert.equal(counts.open, 2);
    gate.resolve();
    const settled = await Promise.allSettled(gets);
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 2);
    assert.equal(decode(await client.get('g', 'after')), 'value of after');
  });

  it('a request given up is cancelled at the owner; the others on the stream go on', async () => {
    const { group, gate } = heldGroup();
    const server = await serve(group);
    const client = clientOf(server.address.port);
    const controller = new AbortController();
    const leaving = client.get('g', 'leaving', { signal: controller.signal });
    const staying = client.get('g', 'staying');
    await until(() => group.seen.length === 2);
    controller.abort();
    await assert.rejects(leaving, { code: 'CANCELLED' });
    const signal = group.signals[group.seen.indexOf('leaving')];
    await until(() => signal?.aborted === true);
    assert.equal(group.signals[group.seen.indexOf('staying')]?.aborted, false);
    gate.resolve();
    assert.equal(decode(await staying), 'value of staying');
  });

  it('the time left and the trace context travel with each request', async () => {
    const group = new FakeGroup('g');
    const options: (CallOptions | undefined)[] = [];
    group.load = async (key) => ({ value: utf8(key), expireAt: 0, minuteQps: 0 });
    const recorded = new FakeGroup('g');
    recorded.getForPeer = (key, o) => {
      options.push(o);
      return group.getForPeer(key, o);
    };
    const server = await serve(recorded);
    const client = clientOf(server.address.port);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const deadline = Date.now() + 5_000;
    await Promise.all([
      client.get('g', 'traced', { traceparent, deadline }),
      client.get('g', 'plain'),
    ]);
    assert.equal(options[0]?.traceparent, traceparent);
    assert.ok(Math.abs((options[0]?.deadline ?? 0) - deadline) < 1_000, 'the deadline travelled');
    assert.equal(options[1]?.traceparent, undefined);
  });

  it('a peer that answers nothing costs each request its deadline and the stream a bounded backlog', async () => {
    // An HTTP/2 server that takes each stream and never reads nor answers it, as a hung peer.
    const server = createHttp2Server();
    const streams: ServerHttp2Stream[] = [];
    server.on('stream', (stream) => {
      streams.push(stream);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.pause();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    opened.push({
      close: () => {
        for (const s of streams) s.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
    const { port } = server.address() as { port: number };
    const client = clientOf(port, { maxStreamRequests: 4, requestTimeoutMs: 50 });
    const codes = new Set<string>();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 3; i++) {
          await client.get('g', `k${w}-${i}`).then(
            () => codes.add('OK'),
            (err: { code: string }) => codes.add(err.code),
          );
        }
      }),
    );
    assert.deepEqual([...codes], ['DEADLINE_EXCEEDED'], 'each request ended by its deadline');
    // Each request given up holds its place until the peer answers it; when all four are
    // held, the stream is dropped and the next request opens another.
    assert.ok(streams.length >= 2, `streams opened: ${streams.length}`);
  });

  it('a bad request is answered an error for its id, and the stream serves on', async () => {
    const group = new FakeGroup('g');
    group.store.set('k', { value: utf8('K'), expireAt: 0, minuteQps: 0 });
    const server = await serve(group, { maxKeyBytes: 16 });
    const { call, close } = rawExchange(server.address.port);
    opened.push({ close });
    const answers: StreamResponse[] = [];
    call.on('data', (batch: StreamResponses) => answers.push(...batch.responses));
    const get = (id: number, group: string, key: string, generation = 0n) =>
      create(StreamRequestSchema, {
        id,
        op: { case: 'get', value: create(GetRequestSchema, { group, key }) },
        generation,
      });
    call.write(
      create(StreamRequestsSchema, {
        requests: [
          create(StreamRequestSchema, { id: 1 }),
          get(2, 'g', ''),
          get(3, 'g', 'k'.repeat(17)),
          get(4, 'nope', 'k'),
          get(5, 'g', 'k'),
          // A generation past the safe whole numbers a group's can be.
          get(6, 'g', 'k', 2n ** 60n),
        ],
      }),
    );
    await until(() => answers.length === 6);
    const byId = new Map(answers.map((a) => [a.id, a.result]));
    const code = (id: number) => {
      const r = byId.get(id);
      return r?.case === 'error' ? r.value.code : undefined;
    };
    // INVALID_ARGUMENT ×2, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, INVALID_ARGUMENT
    assert.deepEqual([1, 2, 3, 4, 6].map(code), [3, 3, 8, 9, 3]);
    assert.deepEqual(group.seen, ['k'], 'only the good request reached the group');
    const five = byId.get(5);
    assert.equal(five?.case === 'value' && new TextDecoder().decode(five.value.value), 'K');
    call.end();
  });
});
