// conformance-tls.test.ts: the transport conformance suite again, for HTTP and gRPC with mutual
// TLS and a peer secret on: every peer call goes over https:// and carries the secret.

import { after } from 'node:test';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { httpTransport } from '../../src/transport/http/index.js';
import type { PeerTransport } from '../../src/transport/transport.js';
import { HTTP_WITHOUT_GET_MANY, runTransportConformance } from '../conformance/transport-suite.js';
import { makeTestCerts } from '../support/certs.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

const tls = { cert: certs.node.cert, key: certs.node.key, ca: certs.ca, clientAuth: true };
const peerSecret = 'conformance-secret';

/**
 * overHttps hands out clients for `https://` URLs where the suite names peers
 * `http://host:port`: the servers speak TLS only, so a call that reached one
 * went over TLS.
 */
function overHttps(transport: PeerTransport): PeerTransport {
  return {
    name: transport.name,
    client: (url) => transport.client(url.replace(/^http:/, 'https:')),
    serve: (groups, options) => transport.serve(groups, options),
    close: () => transport.close(),
  };
}

// The large-value cluster test runs once per transport, in test/conformance/.
runTransportConformance(
  'http over mutual TLS, with a peer secret,',
  (limits) => overHttps(httpTransport({ ...limits, tls, peerSecret })),
  { largeValues: false, withoutGetMany: HTTP_WITHOUT_GET_MANY },
);

runTransportConformance(
  'grpc over mutual TLS, with a peer secret,',
  (limits) => overHttps(grpcTransport({ ...limits, tls, peerSecret })),
  { largeValues: false },
);
