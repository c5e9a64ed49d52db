// breaks.test.ts: how a gRPC client reads a peer's failures that are no key's answer: an
// Exchange stream ended or broken by its server, and a unary GetMany whose serving failed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Server, status as Status, type StatusObject } from '@grpc/grpc-js';
import { noopLogger } from '../../core/logger.js';
import type { PeerValue } from '../../core/peers.js';
import { isCacheError } from '../../errors.js';
import { FakeGroup, fakeLookup, utf8 } from '../http/testing.js';
import { groupCacheMethods } from './service.js';
import { exchangeHandler, listen, type ServedExchange } from './testing.js';
import { type GrpcTransportOptions, grpcTransport } from './transport.js';

/** Each test's transports and servers, closed after it. */
const opened: { close(): Promise<void> }[] = [];
after(() => Promise.all(opened.map((o) => o.close())));

/**
 * exchangeOnly serves `group` on a grpc-js server of the Exchange method alone, the real
 * handler's, after `wrap` has seen each call: a test breaks the stream from there.
 */
async function exchangeOnly(
  group: FakeGroup,
  wrap: (call: ServedExchange) => void,
): Promise<number> {
  const handler = exchangeHandler(group);
  const server = new Server();
  server.addService(
    { exchange: groupCacheMethods.exchange },
    {
      exchange: (call: ServedExchange) => {
        handler(call);
        wrap(call);
      },
    },
  );
  opened.push({ close: async () => void server.forceShutdown() });
  return listen(server);
}

function clientOf(port: number, options: GrpcTransportOptions = {}) {
  const transport = grpcTransport(options);
  opened.push(transport);
  const client = transport.client(`http://127.0.0.1:${port}`);
  return Object.assign(client, { getMany: client.getMany! });
}

/** heldGroup is a group whose loads never end: requests stay in flight until the stream breaks. */
function heldGroup(): FakeGroup {
  const group = new FakeGroup('g');
  group.load = () => new Promise<PeerValue>(() => {});
  return group;
}

describe('a gRPC Exchange stream its server ends', { timeout: 30_000 }, () => {
  // Statuses that are no refusal of the stream (a secret, a message size): the stream's end,
  // whatever code it carries, is no key's answer, so even NOT_FOUND must not read as one.
  for (const code of [Status.INTERNAL, Status.NOT_FOUND, Status.UNKNOWN, Status.OK]) {
    it(`with ${Status[code]} fails the requests on it UNAVAILABLE, get and getMany alike`, async () => {
      const group = heldGroup();
      // Once both requests reached the group, the first stream ends under them.
      let broken = false;
      const port = await exchangeOnly(group, (call) => {
        const end = () => {
          if (broken || group.seen.length < 3) return;
          broken = true;
          group.load = undefined;
          if (code === Status.OK) call.end();
          else
            call.emit('error', {
              code,
              details: 'the stream broke',
            } satisfies Partial<StatusObject>);
        };
        call.on('data', () => setImmediate(end));
      });
      const client = clientOf(port);
      const got = client.get('g', 'a').catch((e: unknown) => e);
      const many = client.getMany('g', ['b', 'c']).catch((e: unknown) => e);
      const [one, batch] = await Promise.all([got, many]);
      for (const err of [one, batch]) {
        assert.ok(isCacheError(err, 'UNAVAILABLE'), `${err}`);
        assert.notEqual(err.remote, true, 'not the peer’s answer about the key');
      }
      // The next request opens another stream and is answered.
      group.store.set('d', { value: utf8('D'), expireAt: 0, minuteQps: 0 });
      assert.deepEqual((await client.get('g', 'd')).value, utf8('D'));
    });
  }
});

describe('a unary GetMany whose serving fails', { timeout: 30_000 }, () => {
  it('is answered with its error, not left to its deadline', async () => {
    // A served group of the seam's own (not peercache's Group) that resolves with no bytes:
    // checking the value's size throws, which rejects the batch's serving as a whole.
    const group = new FakeGroup('g');
    group.load = async () => ({ expireAt: 0, minuteQps: 0 }) as unknown as PeerValue;
    const transport = grpcTransport();
    opened.push(transport);
    const server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    opened.push({ close: () => server.close(0) });
    // Unary calls only, and a deadline far longer than an answer takes: unanswered, the call
    // would end DEADLINE_EXCEEDED.
    const client = clientOf(server.address.port, { stream: false, requestTimeoutMs: 5_000 });
    await assert.rejects(client.getMany('g', ['a', 'b']), { code: 'INTERNAL' });
    // The server serves on.
    group.load = undefined;
    group.store.set('a', { value: utf8('A'), expireAt: 0, minuteQps: 0 });
    const again = await client.getMany('g', ['a']);
    assert.deepEqual((again.get('a') as PeerValue).value, utf8('A'));
  });
});
