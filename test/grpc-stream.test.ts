// grpc-stream.test.ts: a gRPC client's Exchange stream to a real `peercache node` process that
// is killed mid-request: the request in flight fails UNAVAILABLE, and once the node is back on
// its address the client's next request opens a new stream there.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { GrpcPeerClient } from '../src/transport/grpc/client.js';
import { grpcTransport } from '../src/transport/grpc/index.js';
import { startPeercacheNode } from './support/peercache.js';
import { freePort, ProcessRegistry, waitFor } from './support/process.js';
import { testValue } from './support/values.js';

describe('a gRPC Exchange stream to a node process that is killed', { timeout: 120_000 }, () => {
  const registry = new ProcessRegistry();
  const transport = grpcTransport();
  after(async () => {
    await transport.close();
    await registry.stopAll();
  });

  it('fails the request in flight UNAVAILABLE; the next request reaches the restarted node', async () => {
    const self = `http://127.0.0.1:${await freePort()}`;
    // Keys starting with `slow` load for a minute: one is surely in flight when the node dies.
    const env = { LOAD_DELAY_MS: '60000', LOAD_DELAY_PREFIX: 'slow' };
    const first = await startPeercacheNode({ self, transport: 'grpc', env, registry });
    const client = transport.client(self);
    const stream = client.inner as GrpcPeerClient;
    assert.deepEqual((await client.get('scores', 'before')).value, testValue('before'));
    const held = client.get('scores', 'slow-held');
    const settled = held.then(
      () => 'answered',
      (err: { code?: string }) => err.code,
    );
    await first.process.kill();
    assert.equal(await settled, 'UNAVAILABLE');

    await startPeercacheNode({ self, transport: 'grpc', registry });
    // grpc-js redials the address on its own backoff; until then a request fails UNAVAILABLE.
    const got = await waitFor(
      () =>
        client.get('scores', 'after').catch((err: { code?: string }) => {
          if (err.code !== 'UNAVAILABLE') throw err;
          return undefined;
        }),
      { timeoutMs: 30_000, message: 'a request to the restarted node' },
    );
    assert.deepEqual(got.value, testValue('after'));
    assert.equal(stream.streaming, true, 'still on the stream, not unary calls');
  });
});
