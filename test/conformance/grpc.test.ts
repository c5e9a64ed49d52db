// grpc.test.ts: the transport conformance suite run against the gRPC transport, on its Exchange
// stream and with unary calls only, with garbage only a hand-made client sends: undecodable
// messages, unknown methods, non-gRPC bytes.

import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect } from 'node:net';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { runTransportConformance } from './transport-suite.js';

runTransportConformance('grpc', (limits) => grpcTransport(limits), {
  sendMalformed,
});

// The unary methods stay for other clients: the same suite with a client that makes unary calls only.
runTransportConformance('grpc unary', (limits) => grpcTransport({ ...limits, stream: false }), {
  largeValues: false,
});

/** sendMalformed sends what no client of ours sends, to every method and to the stream. */
async function sendMalformed(baseUrl: string): Promise<void> {
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
    assert.equal(await rawStream(raw, garbage), status.INVALID_ARGUMENT);
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
}

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

/** rawStream sends `bytes` as a message of the Exchange stream and resolves with the stream's status. */
function rawStream(client: Client, bytes: Buffer): Promise<status> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(
      '/groupcachepb.GroupCache/Exchange',
      (b: Buffer) => b,
      (b: Buffer) => b,
      new Metadata(),
      { deadline: Date.now() + 5_000 },
    );
    call.on('error', () => {});
    call.on('data', () => {});
    call.on('status', (s) => resolve(s.code));
    call.write(bytes);
  });
}
