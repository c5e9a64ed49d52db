// clients.ts: one client per peer URL, made on first use and closed with its transport.

/** ClientCache hands out one client per peer URL and closes them all at once. */
export interface ClientCache<C> {
  /** get returns the client of `url`, making it on first use (closed at once after closeAll). */
  get(url: string): C;
  /** closeAll closes every client; later ones are made closed. Idempotent. */
  closeAll(): void;
}

/** clientCache builds a {@link ClientCache} around `make`. */
export function clientCache<C extends { close(): void }>(make: (url: string) => C): ClientCache<C> {
  const clients = new Map<string, C>();
  let closed = false;
  return {
    get(url) {
      let client = clients.get(url);
      if (client === undefined) {
        client = make(url);
        if (closed) client.close();
        clients.set(url, client);
      }
      return client;
    },
    closeAll() {
      closed = true;
      for (const client of clients.values()) client.close();
    },
  };
}
