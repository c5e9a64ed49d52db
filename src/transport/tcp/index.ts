// index.ts: the tcp peer transport: pipelined binary frames over one connection per peer pair.

export type { TcpClientStats, TcpPeerClient } from './client.js';
export type { TcpPeerServer, TcpServerStats } from './server.js';
export { type TcpTransport, type TcpTransportOptions, tcpTransport } from './transport.js';
