// testing.ts: test helpers for the HTTP transport: a fake GroupLookup and servers on port 0.

import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallOptions, GroupLookup, PeerServedGroup, PeerValue } from '../../core/peers.js';
import { NotFoundError } from '../../errors.js';

/**
 * FakeGroup is an in-memory PeerServedGroup that records what it was asked.
 * `getForPeer` answers from `store` (NotFound when absent) unless `load` is set.
 */
export class FakeGroup implements PeerServedGroup {
  readonly name: string;
  readonly store = new Map<string, PeerValue>();
  /** Keys seen by getForPeer, setFromPeer and removeFromPeer, in order. */
  readonly seen: string[] = [];
  /** Signals handed to getForPeer, in order. */
  readonly signals: (AbortSignal | undefined)[] = [];
  /** Deadlines handed to setFromPeer and removeFromPeer, in order. */
  readonly writeDeadlines: (number | undefined)[] = [];
  /** load, when set, answers getForPeer instead of `store`. */
  load: ((key: string, signal: AbortSignal | undefined) => Promise<PeerValue>) | undefined;

  constructor(name: string) {
    this.name = name;
  }

  async getForPeer(key: string, options?: CallOptions): Promise<PeerValue> {
    this.seen.push(key);
    this.signals.push(options?.signal);
    if (this.load) return this.load(key, options?.signal);
    const found = this.store.get(key);
    if (!found) throw new NotFoundError(`no value for ${key}`);
    return found;
  }

  setFromPeer(key: string, value: Uint8Array, expireAt: number, options?: CallOptions): void {
    this.seen.push(key);
    this.writeDeadlines.push(options?.deadline);
    this.store.set(key, { value: value.slice(), expireAt, minuteQps: 0 });
  }

  removeFromPeer(key: string, options?: CallOptions): void {
    this.seen.push(key);
    this.writeDeadlines.push(options?.deadline);
    this.store.delete(key);
  }
}

/** fakeLookup resolves the given groups by name. */
export function fakeLookup(...groups: PeerServedGroup[]): GroupLookup {
  const byName = new Map(groups.map((g) => [g.name, g]));
  return { getGroup: (name) => byName.get(name) };
}

/** TestServer is a node:http server listening on 127.0.0.1 at a free port. */
export interface TestServer {
  readonly server: Server;
  /** The base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** close drops every connection and stops listening. */
  close(): Promise<void>;
}

/** startServer starts `listener` on 127.0.0.1, port 0. */
export async function startServer(listener: RequestListener): Promise<TestServer> {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      if (server.listening) {
        server.close();
        await once(server, 'close');
      }
    },
  };
}

/** utf8 encodes a string. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Deferred is a promise with its resolve function exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

/** deferred makes a {@link Deferred} (Node 20 lacks `Promise.withResolvers`). */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
