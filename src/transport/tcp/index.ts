// index.ts: the tcp peer transport: pipelined binary frames over one connection per peer pair.

export { type TcpTransportOptions, tcpTransport } from './transport.js';
