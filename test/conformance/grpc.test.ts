// grpc.test.ts: the transport conformance suite run against the gRPC transport, with
// garbage only a hand-made client sends: undecodable messages, unknown methods, non-gRPC bytes.

import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect } from 'node:net';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { runTransportConformance } from './transport-suite.js';

runTransportConformance('grpc', (limits) => grpcTransport(limits), {
  async sendMalformed(baseUrl) {
    const { host } = new URL(baseUrl);
    // Bytes that are no protobuf message, to every method, and an unknown method.
    const raw = new Client(host, credentials.createInsecure());
    try {
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
      const codes = await Promise.all(
        [
          '/groupcachepb.GroupCache/Get',
          '/groupcachepb.GroupCache/Set',
          '/groupcachepb.GroupCache/Remove',
          '/grpc.health.v1.Health/Check',
          '/groupcachepb.GroupCache/Nope',
        ].map((path) => rawCall(raw, path, garbage)),
      );
      assert.deepEqual(codes, [
        status.INVALID_ARGUMENT,
        status.INVALID_ARGUMENT,
        status.INVALID_ARGUMENT,
        status.INVALID_ARGUMENT,
        status.UNIMPLEMENTED,
      ]);
    } finally {
      raw.close();
    }
    // HTTP/2 that is not gRPC, and a connection that is not HTTP/2 at all.
    await new Promise<void>((resolve) => {
      const session = connectHttp2(`http://${host}`);
      session.on('error', () => resolve());
      const req = session.request({ ':method': 'GET', ':path': '/' });
      req.on('error', () => {});
      req.on('close', () => {
        session.close();
        resolve();
      });
      req.resume();
      req.end('hello');
    });
    await new Promise<void>((resolve) => {
      const [hostname, port] = [new URL(baseUrl).hostname, Number(new URL(baseUrl).port)];
      const socket = connect(port, hostname, () => socket.end('GET / HTTP/1.1\r\n\r\n'));
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.resume();
    });
  },
});

/** rawCall sends `bytes` as the request message of `path` and resolves with the status code. */
function rawCall(client: Client, path: string, bytes: Buffer): Promise<status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      { deadline: Date.now() + 5_000 },
      (err: ServiceError | null) => resolve(err ? err.code : status.OK),
    );
  });
}
