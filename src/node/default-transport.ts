// default-transport.ts: createNode's default peer transport, HTTP, imported when a node
// first needs it (a peer, a server, a handler), so that a local cache never loads it.
import {
  type CallOptions,
  type GroupLookup,
  type PeerClient,
  type PeerValue,
  removeKeys,
} from '../core/peers.js';
import { UnavailableError } from '../errors.js';
import type { HttpPeerHandler } from '../transport/http/server.js';
import type {
  HttpPeerServer,
  HttpPeerTransport,
  HttpPeerTransportOptions,
} from '../transport/http/transport.js';
import type { ServeOptions } from '../transport/transport.js';

/**
 * LazyHttpTransport is an {@link HttpPeerTransport} that imports and builds the
 * real one (`httpTransport(options)`) on first use: a client's first request,
 * `serve`, or a handler's first request. Until then it holds nothing; `close`
 * before any use has nothing to close. A bad option is reported when the real
 * transport is built: `serve` rejects with the TypeError, and so do requests.
 */
export class LazyHttpTransport implements HttpPeerTransport {
  readonly name = 'http';
  readonly #options: HttpPeerTransportOptions;
  #real: HttpPeerTransport | undefined;
  #loading: Promise<HttpPeerTransport> | undefined;
  /** One client per peer URL until it is closed, as the real transport keeps them. */
  readonly #clients = new Map<string, LazyClient>();

  constructor(options: HttpPeerTransportOptions) {
    this.#options = options;
  }

  /** real returns the real transport, importing and building it on the first call. */
  real(): HttpPeerTransport | Promise<HttpPeerTransport> {
    if (this.#real !== undefined) return this.#real;
    this.#loading ??= import('../transport/http/transport.js').then(({ httpTransport }) => {
      this.#real = httpTransport(this.#options);
      return this.#real;
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

  async serve(groups: GroupLookup, options: ServeOptions): Promise<HttpPeerServer> {
    return (await this.real()).serve(groups, options);
  }

  handler(
    groups: GroupLookup,
    options?: Parameters<HttpPeerTransport['handler']>[1],
  ): HttpPeerHandler {
    let handler: HttpPeerHandler | undefined;
    return (req, res, next) => {
      if (handler !== undefined) {
        handler(req, res, next);
        return;
      }
      Promise.resolve(this.real()).then(
        (real) => {
          handler ??= real.handler(groups, options);
          handler(req, res, next);
        },
        (err: unknown) => {
          if (next !== undefined) next(err);
          else if (!res.headersSent) {
            res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
            res.end('internal error\n');
          }
        },
      );
    };
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
 * LazyClient is the client of one peer on a {@link LazyHttpTransport}: its first
 * request builds the transport and takes the real client of `url`; later ones
 * go straight to it.
 */
class LazyClient implements PeerClient {
  readonly url: string;
  readonly #transport: LazyHttpTransport;
  readonly #forget: () => void;
  #real: PeerClient | undefined;
  #closed = false;

  constructor(transport: LazyHttpTransport, url: string, forget: () => void) {
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

  close(): void {
    if (!this.#closed) this.#forget();
    this.#closed = true;
    this.#real?.close?.();
  }
}

function closedError(url: string): UnavailableError {
  return new UnavailableError(`peer ${url}: the client is closed`);
}
