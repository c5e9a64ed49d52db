// tcp.test.ts: the transport conformance suite run against the tcp transport, with frames no
// client of ours sends (bad lengths, unknown types, requests before the HELLO), and over mutual TLS.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after } from 'node:test';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import { makeTestCerts } from '../support/certs.js';
import { runTransportConformance } from './transport-suite.js';

runTransportConformance('tcp', (limits) => tcpTransport(limits), {
  async sendMalformed(baseUrl) {
    const { hostname, port } = new URL(baseUrl);
    const hello = Buffer.from([0, 0, 0, 9, 0x01, 0, 0, 0, 0, 1, 0, 0, 0]);
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0, 0, 0, 1, 0x02]),
      Buffer.concat([hello, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x02])]),
      Buffer.concat([hello, Buffer.from([0, 0, 0, 6, 0x77, 0, 0, 0, 1, 0])]),
      Buffer.concat([hello, Buffer.from([0, 0, 0, 13, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 9, 0, 9])]),
    ];
    for (const bytes of garbage) {
      // The server closes each of these connections on its own.
      const closed = await new Promise<boolean>((resolve) => {
        const socket = connect(Number(port), hostname, () => socket.write(bytes));
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, 2_000);
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
        socket.resume();
      });
      assert.ok(closed, `the server closed the connection after ${bytes.toString('hex')}`);
    }
  },
});

const certs = makeTestCerts();
after(() => certs.cleanup());
const tls = { cert: certs.node.cert, key: certs.node.key, ca: certs.ca, clientAuth: true };

// Again over mutual TLS with a peer secret: the servers speak TLS only, and the suite's
// `http://` peer URLs are dialled as `https://`, so every call that succeeds went over TLS.
runTransportConformance(
  'tcp over mutual TLS, with a peer secret,',
  (limits) => {
    const transport = tcpTransport({ ...limits, tls, peerSecret: 'conformance-secret' });
    return {
      name: transport.name,
      client: (url) => transport.client(url.replace(/^http:/, 'https:')),
      serve: (groups, options) => transport.serve(groups, options),
      close: () => transport.close(),
    };
  },
  { largeValues: false },
);
