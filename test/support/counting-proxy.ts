// counting-proxy.ts: a TCP proxy on every loopback address (0.0.0.0) that forwards to one peer
// server and counts the connections made to it, per address dialled, so that tests can give a
// node a fresh peer address (127.0.x.y) for each membership change and see what stays open.

import { connect, createServer, type Server, type Socket } from 'node:net';

/** CountingProxy forwards connections to a target and counts them. */
export interface CountingProxy {
  /** port is where it listens, on every address. */
  readonly port: number;
  /** open is how many client connections are open through it now. */
  readonly open: number;
  /** accepted counts every connection accepted so far, refused ones included. */
  readonly accepted: number;
  /** acceptedOn counts the connections accepted on one local address, e.g. `127.0.3.7`. */
  acceptedOn(address: string): number;
  /** openOn counts the connections open on one local address. */
  openOn(address: string): number;
  /**
   * refuse makes the proxy play a dead peer: open connections are dropped and
   * every new one is closed as soon as it is accepted (and still counted).
   */
  refuse(): void;
  /** close stops the proxy and drops every connection. */
  close(): Promise<void>;
}

/** startCountingProxy listens on 0.0.0.0 (a free port) and forwards to `targetPort` on 127.0.0.1. */
export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const clients = new Set<Socket>();
  const accepted = new Map<string, number>();
  let acceptedTotal = 0;
  let refusing = false;
  const server: Server = createServer((client) => {
    const local = client.localAddress ?? '?';
    accepted.set(local, (accepted.get(local) ?? 0) + 1);
    acceptedTotal++;
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
    client.setNoDelay(true);
    clients.add(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      clients.delete(client);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  let closed: Promise<void> | undefined;
  const countOpen = (at: string) =>
    [...clients].filter((c) => c.localAddress === at && !c.destroyed).length;
  return {
    port,
    get open() {
      return clients.size;
    },
    get accepted() {
      return acceptedTotal;
    },
    acceptedOn: (at) => accepted.get(at) ?? 0,
    openOn: countOpen,
    refuse() {
      refusing = true;
      for (const c of clients) c.destroy();
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        refusing = true;
        for (const c of clients) c.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
