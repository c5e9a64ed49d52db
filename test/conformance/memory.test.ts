// memory.test.ts: the transport conformance suite run against the memory transport: servers on
// an in-process network, reached by the same URLs, with no socket.

import { MemoryNetwork } from '../../src/transport/memory/index.js';
import { memoryTransport } from '../../src/transport/memory/transport.js';
import { runTransportConformance } from './transport-suite.js';

// One network for the whole suite: every transport it opens reaches the same servers.
const network = new MemoryNetwork();

runTransportConformance('memory', (limits) => memoryTransport(network, limits), {
  // Port 1 is never handed out for `port: 0`, and nothing here listens on it.
  unreachableUrl: async () => 'http://127.0.0.1:1',
});
