// default.ts: createNode's default peer transport, HTTP with default options, imported
// when a node first needs it (a peer request, a server), so that a local cache never loads it.
import type { NodeStats, NodeStatsRequest } from '../core/node-stats.js';
import {
  type CallOptions,
  clearAt,
  type GroupLookup,
  type PeerClient,
  type PeerValue,
  removeKeys,
} from '../core/peers.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import type { PeerServer, PeerTransport, ServeOptions } from './transport.js';

/**
 * defaultTransport is the transport of a node given none: golang/groupcache's
 * HTTP protocol, as `httpTransport()` with no options builds it, imported on
 * first use.
 */
export function defaultTransport(): PeerTransport {
  return new LazyTransport('http', async () => {
    const { httpTransport } = await import('./http/transport.js');
    return httpTransport();
  });
}

/**
 * LazyTransport is a {@link PeerTransport} that builds the real one with
 * `load` on first use: a client's first request or `serve`. Until then it
 * holds nothing; `close` before any use has nothing to close. A failure of
 * `load` is reported then: `serve` rejects with it, and so do requests.
 */
export class LazyTransport implements PeerTransport {
  readonly name: string;
  readonly #load: () => Promise<PeerTransport>;
  #real: PeerTransport | undefined;
  #loading: Promise<PeerTransport> | undefined;
  /** One client per peer URL until it is closed, as the real transport keeps them. */
  readonly #clients = new Map<string, LazyClient>();

  /** `name` is the real transport's name, known before it is loaded. */
  constructor(name: string, load: () => Promise<PeerTransport>) {
    this.name = name;
    this.#load = load;
  }

  /** real returns the real transport, loading it on the first call. */
  real(): PeerTransport | Promise<PeerTransport> {
    if (this.#real !== undefined) return this.#real;
    this.#loading ??= this.#load().then((real) => {
      this.#real = real;
      return real;
    });
    return this.#loading;
  }

  client(url: string): PeerClient & { close(): void } {
    let client = this.#clients.get(url);
    if (client === undefined) {
      client = new LazyClient(this, url, () => {
        if (this.#clients.get(url) === client) this.#clients.delete(url);
      });
      this.#clients.set(url, client);
    }
    return client;
  }

  async serve(groups: GroupLookup, options: ServeOptions): Promise<PeerServer> {
    return (await this.real()).serve(groups, options);
  }

  async close(): Promise<void> {
    // A load under way may still build the transport: close what it builds. One
    // that failed (a bad option) built nothing to close.
    const real =
      this.#real ??
      (await this.#loading?.then(
        (t) => t,
        () => undefined,
      ));
    await real?.close();
  }
}

/**
 * LazyClient is the client of one peer on a {@link LazyTransport}: its first
 * request builds the transport and takes the real client of `url`; later ones
 * go straight to it.
 */
class LazyClient implements PeerClient {
  readonly url: string;
  readonly #transport: LazyTransport;
  readonly #forget: () => void;
  #real: PeerClient | undefined;
  #closed = false;

  constructor(transport: LazyTransport, url: string, forget: () => void) {
    this.#transport = transport;
    this.url = url;
    this.#forget = forget;
  }

  /** #client returns the real client, or a promise of it on the first request. */
  #client(): PeerClient | Promise<PeerClient> {
    if (this.#real !== undefined) return this.#real;
    if (this.#closed) return Promise.reject(closedError(this.url));
    return Promise.resolve(this.#transport.real()).then((t) => {
      // Closed while the transport loaded: no client is made, so none is left open.
      if (this.#closed) throw closedError(this.url);
      this.#real ??= t.client(this.url);
      return this.#real;
    });
  }

  get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    const c = this.#client();
    return c instanceof Promise
      ? c.then((r) => r.get(group, key, options))
      : c.get(group, key, options);
  }

  set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void> {
    const c = this.#client();
    return c instanceof Promise
      ? c.then((r) => r.set(group, key, value, expireAt, options))
      : c.set(group, key, value, expireAt, options);
  }

  remove(group: string, key: string, options?: CallOptions): Promise<void> {
    const c = this.#client();
    return c instanceof Promise
      ? c.then((r) => r.remove(group, key, options))
      : c.remove(group, key, options);
  }

  removeMany(group: string, keys: readonly string[], options?: CallOptions): Promise<void> {
    const c = this.#client();
    return c instanceof Promise
      ? c.then((r) => removeKeys(r, group, keys, options))
      : removeKeys(c, group, keys, options);
  }

  clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    const c = this.#client();
    return c instanceof Promise
      ? c.then((r) => clearAt(r, group, generation, options))
      : clearAt(c, group, generation, options);
  }

  async nodeStats(request: NodeStatsRequest, options?: CallOptions): Promise<NodeStats> {
    const c = await this.#client();
    if (c.nodeStats === undefined) {
      throw new NotFoundError("the transport's client has no stats call");
    }
    return c.nodeStats(request, options);
  }

  close(): void {
    if (!this.#closed) this.#forget();
    this.#closed = true;
    this.#real?.close?.();
  }
}

function closedError(url: string): UnavailableError {
  return new UnavailableError(`peer ${url}: the client is closed`);
}
