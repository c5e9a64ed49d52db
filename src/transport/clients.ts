// clients.ts: one client per peer URL, made on first use, released one by one when its
// peer leaves, and all closed with their transport.
import type { NodeStatsRequest } from '../core/node-stats.js';
import {
  type CallOptions,
  clearAt,
  getKeys,
  type PeerClient,
  type PeerValue,
  removeKeys,
} from '../core/peers.js';

/** ClosableClient is a transport's own client: a PeerClient whose close may take a while. */
export interface ClosableClient extends PeerClient {
  close(): void | Promise<void>;
}

/**
 * ClientCache hands out one client per peer URL. What it hands out is a handle
 * on the transport's client whose `close()` releases it: the client is closed
 * and forgotten, so the next `get` of that URL makes a fresh one.
 */
export interface ClientCache<C extends ClosableClient = ClosableClient> {
  /**
   * get returns the client of `url`, making it on first use (closed at once
   * after closeAll). Everyone asking for one URL shares one client, so its
   * `close()` is for whoever owns the URL's membership: the node's ring.
   */
  get(url: string): PeerClient & { close(): void };
  /**
   * release closes the client of `url` and forgets it; a later `get` makes a
   * fresh one. It resolves once the client has closed. A URL with no client is
   * a no-op.
   */
  release(url: string): Promise<void>;
  /** peek returns the transport's own client of `url`, if one is open, for its stats. */
  peek(url: string): C | undefined;
  /** closeAll closes every client; later ones are made closed. Idempotent. */
  closeAll(): Promise<void>;
}

/** Entry is one URL's client and the handle given out for it. */
interface Entry<C extends ClosableClient> {
  readonly client: C;
  readonly handle: PeerClient & { close(): void };
}

/** clientCache builds a {@link ClientCache} around `make`. */
export function clientCache<C extends ClosableClient>(make: (url: string) => C): ClientCache<C> {
  const entries = new Map<string, Entry<C>>();
  let closed = false;

  const closeQuietly = (client: ClosableClient): Promise<void> => {
    try {
      return Promise.resolve(client.close()).catch(() => {});
    } catch {
      return Promise.resolve();
    }
  };
  const release = (url: string, entry: Entry<C> | undefined): Promise<void> => {
    if (entry === undefined) return Promise.resolve();
    // A handle released late must not take a fresh client of the same URL with it.
    if (entries.get(url) === entry) entries.delete(url);
    return closeQuietly(entry.client);
  };

  return {
    get(url) {
      let entry = entries.get(url);
      if (entry === undefined) {
        const client = make(url);
        const made: Entry<C> = {
          client,
          handle: {
            url: client.url,
            get: (group: string, key: string, options?: CallOptions): Promise<PeerValue> =>
              client.get(group, key, options),
            // Only where the transport's client has one: a wrapper can then tell a batch
            // that is one request from one get per key (each its own request, health-checked).
            ...(client.getMany === undefined
              ? {}
              : {
                  getMany: (group: string, keys: readonly string[], options?: CallOptions) =>
                    getKeys(client, group, keys, options),
                }),
            set: (group, key, value, expireAt, options) =>
              client.set(group, key, value, expireAt, options),
            remove: (group, key, options) => client.remove(group, key, options),
            removeMany: (group, keys, options) => removeKeys(client, group, keys, options),
            inner: client,
            ...(client.nodeStats === undefined
              ? {}
              : {
                  nodeStats: (request: NodeStatsRequest, options?: CallOptions) =>
                    (client.nodeStats as NonNullable<PeerClient['nodeStats']>).call(
                      client,
                      request,
                      options,
                    ),
                }),
            ...(client.clear === undefined
              ? {}
              : {
                  clear: (group: string, generation: number, options?: CallOptions) =>
                    clearAt(client, group, generation, options),
                }),
            close: () => {
              void release(url, made);
            },
          },
        };
        entry = made;
        if (closed) void closeQuietly(client);
        entries.set(url, entry);
      }
      return entry.handle;
    },
    release(url) {
      return release(url, entries.get(url));
    },
    peek(url) {
      return entries.get(url)?.client;
    },
    async closeAll() {
      closed = true;
      await Promise.all([...entries.values()].map((e) => closeQuietly(e.client)));
    },
  };
}
