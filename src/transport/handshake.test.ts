// handshake.test.ts: the TLS handshake timeout of the HTTP and gRPC peer servers: a client that
// connects and never finishes its handshake is cut, and TLS clients are still served.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTestCerts } from '../../test/support/certs.js';
import { rawConnect, recordingLogger } from '../util/limits-testing.js';
import { grpcTransport } from './grpc/transport.js';
import { FakeGroup, fakeLookup, utf8 } from './http/testing.js';
import { httpTransport } from './http/transport.js';
import type { PeerTransport } from './transport.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

const tls = { cert: certs.node.cert, key: certs.node.key, ca: certs.ca };

for (const [name, make] of [
  [
    'http',
    () =>
      httpTransport({ tls, handshakeTimeoutMs: 200, idleTimeoutMs: 60_000, readTimeoutMs: 60_000 }),
  ],
  [
    'grpc',
    () =>
      grpcTransport({ tls, handshakeTimeoutMs: 200, idleTimeoutMs: 60_000, readTimeoutMs: 60_000 }),
  ],
] as const) {
  describe(`the ${name} peer server over TLS`, () => {
    it('cuts a connection that never finishes its handshake, and serves TLS peers', {
      timeout: 20_000,
    }, async () => {
      const group = new FakeGroup('g');
      group.store.set('k', { value: utf8('v'), expireAt: 0, minuteQps: 0 });
      const transport: PeerTransport = make();
      const server = await transport.serve(fakeLookup(group), {
        host: '127.0.0.1',
        port: 0,
        signal: new AbortController().signal,
        logger: recordingLogger().logger,
      });
      try {
        const silent = await rawConnect(server.address.port);
        // Half a ClientHello: begun, never finished.
        silent.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
        await silent.closed;
        const got = await transport
          .client(`https://127.0.0.1:${server.address.port}`)
          .get('g', 'k');
        assert.equal(new TextDecoder().decode(got.value), 'v');
      } finally {
        await transport.close();
        await server.close(100);
      }
    });
  });
}
