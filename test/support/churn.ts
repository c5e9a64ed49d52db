// churn.ts: helpers for tests of peers that come and go: one real peer server behind a
// counting proxy on 0.0.0.0, reached at a fresh loopback address per change, and counts of
// what a node keeps open (sockets, metric series).

import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { noopLogger } from '../../src/core/logger.js';
import { GroupRegistry } from '../../src/core/registry.js';
import type { CacheNode } from '../../src/node/node.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { type CountingProxy, startCountingProxy } from './counting-proxy.js';

/** canCountSockets says whether this system lists a process's sockets in /proc/self/fd. */
export const canCountSockets = existsSync('/proc/self/fd');

/** openSockets counts this process's file descriptors that are sockets. */
export function openSockets(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // Closed between the listing and the look.
    }
  }
  return n;
}

/** addressOf(i) is a loopback address of its own, 127.0.1.1 onwards (every one reaches 0.0.0.0). */
export const addressOf = (i: number) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

/** peerSeries lists the distinct `peer` labels in the node's metrics. */
export async function peerSeries(node: CacheNode): Promise<Set<string>> {
  const text = await node.metrics.registry.metrics();
  return new Set([...text.matchAll(/peer="([^"]*)"/g)].map((m) => m[1] as string));
}

/** Gate holds the peer's loads of `slow*` keys until opened. */
export class Gate {
  waiting = 0;
  #open: () => void = () => {};
  #opened = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  async pass(): Promise<void> {
    this.waiting++;
    await this.#opened;
  }
  open(): void {
    this.#open();
  }
}

/** Peer is one real peer server of the transport under test, behind a counting proxy. */
export interface Peer {
  server: PeerServer;
  proxy: CountingProxy;
  gate: Gate;
  url(address: string): string;
  close(): Promise<void>;
}

/**
 * startPeer serves a group `g` (loads `peer:KEY`; keys starting with `slow` wait for the
 * gate) with `transport` on 127.0.0.1, behind a counting proxy on 0.0.0.0.
 */
export async function startPeer(transport: PeerTransport): Promise<Peer> {
  const groups = new GroupRegistry();
  const gate = new Gate();
  groups.newGroup('g', {
    cacheBytes: 0,
    load: async (key: string) => {
      if (key.startsWith('slow')) await gate.pass();
      return `peer:${key}`;
    },
  });
  const shutdown = new AbortController();
  const server = await transport.serve(groups, {
    host: '127.0.0.1',
    port: 0,
    signal: shutdown.signal,
    logger: noopLogger,
  });
  const proxy = await startCountingProxy(server.address.port);
  return {
    server,
    proxy,
    gate,
    url: (address) => `http://${address}:${proxy.port}`,
    async close() {
      gate.open();
      await proxy.close();
      await server.close(100);
      await transport.close();
    },
  };
}
