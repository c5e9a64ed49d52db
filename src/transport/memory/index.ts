// index.ts: the memory peer transport: nodes in one process joined by a shared in-process network.

export type { MemoryPeerClient } from './client.js';
export { MemoryNetwork } from './network.js';
export type { MemoryPeerServer } from './server.js';
export {
  type MemoryTransport,
  type MemoryTransportOptions,
  memoryTransport,
} from './transport.js';
