// tcp.ts: the `peercache/tcp` entry: peercache's own pipelined binary peer transport.

export type { TcpClientStats, TcpPeerClient } from './transport/tcp/client.js';
export type { TcpPeerServer, TcpServerStats } from './transport/tcp/server.js';
export {
  type TcpTransport,
  type TcpTransportOptions,
  tcpTransport,
} from './transport/tcp/transport.js';
