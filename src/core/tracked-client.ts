// tracked-client.ts: TrackedClient, a peer client that counts its requests in flight, so the
// ring can close it once its peer has left and the last of those requests has ended.
import { type CallOptions, clearAt, type PeerClient, type PeerValue, removeKeys } from './peers.js';

/**
 * TrackedClient wraps the client the ring made for a peer. It counts the
 * requests in flight through it; once `retire()` has been called (the peer left
 * the ring) and none is left, it closes the client it wraps (if that has a
 * `close`) and calls `onClosed`. A request that was sent before the peer left
 * still completes; one sent later through a stale reference is counted the same
 * way and delays the close until it ends.
 */
export class TrackedClient implements PeerClient {
  /** url is the peer's base URL, as the wrapped client has it. */
  readonly url: string;
  readonly #inner: PeerClient;
  readonly #onClosed: (client: TrackedClient) => void;
  #inFlight = 0;
  #retired = false;
  #closed = false;
  // Made once and shared by every request, so tracking one allocates only the promise `then` makes.
  readonly #ended = <T>(value: T): T => {
    this.#end();
    return value;
  };
  readonly #failed = (err: unknown): never => {
    this.#end();
    throw err;
  };

  /**
   * getMany asks the peer for many keys, counted as one request. Only where the wrapped
   * client has one: a group then sends one `get` per key, as to a peer without batches.
   */
  readonly getMany: PeerClient['getMany'];

  /** The client is `inner`; `onClosed` hears when it has been closed, once. */
  constructor(inner: PeerClient, onClosed: (client: TrackedClient) => void) {
    this.url = inner.url;
    this.#inner = inner;
    this.#onClosed = onClosed;
    const getMany = inner.getMany;
    this.getMany =
      getMany === undefined
        ? undefined
        : (group, keys, options) => this.#track(getMany.call(inner, group, keys, options));
  }

  /** inner is the client this one counts the requests of. */
  get inner(): PeerClient {
    return this.#inner;
  }

  /** inFlight is how many requests through this client have not ended yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** closed says whether the wrapped client has been closed (it then never opens again). */
  get closed(): boolean {
    return this.#closed;
  }

  get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    this.#inFlight++;
    let request: Promise<PeerValue>;
    try {
      request = this.#inner.get(group, key, options);
    } catch (err) {
      this.#end();
      throw err;
    }
    return request.then(this.#ended, this.#failed);
  }

  /** #track counts `request` (made by the caller) in flight until it settles. */
  #track<T>(request: Promise<T>): Promise<T> {
    this.#inFlight++;
    return request.then(this.#ended, this.#failed);
  }

  set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void> {
    this.#inFlight++;
    let request: Promise<void>;
    try {
      request = this.#inner.set(group, key, value, expireAt, options);
    } catch (err) {
      this.#end();
      throw err;
    }
    return request.then(this.#ended, this.#failed);
  }

  remove(group: string, key: string, options?: CallOptions): Promise<void> {
    this.#inFlight++;
    let request: Promise<void>;
    try {
      request = this.#inner.remove(group, key, options);
    } catch (err) {
      this.#end();
      throw err;
    }
    return request.then(this.#ended, this.#failed);
  }

  /** removeMany drops many keys at the peer, counted as one request (see {@link removeKeys}). */
  removeMany(group: string, keys: readonly string[], options?: CallOptions): Promise<void> {
    this.#inFlight++;
    let request: Promise<void>;
    try {
      request = removeKeys(this.#inner, group, keys, options);
    } catch (err) {
      this.#end();
      throw err;
    }
    return request.then(this.#ended, this.#failed);
  }

  /** clear sends the peer a group's clear notice (see {@link PeerClient.clear}), counted as a request. */
  clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    this.#inFlight++;
    let request: Promise<void>;
    try {
      request = clearAt(this.#inner, group, generation, options);
    } catch (err) {
      this.#end();
      throw err;
    }
    return request.then(this.#ended, this.#failed);
  }

  /** retire marks the peer as gone: the client closes now if idle, else when its last request ends. */
  retire(): void {
    this.#retired = true;
    if (this.#inFlight === 0) this.#close();
  }

  /**
   * revive takes back a retirement before the close happened (the peer came
   * back while requests to it were still in flight) and says whether it could:
   * false once the client is closed, when the peer needs a fresh one.
   */
  revive(): boolean {
    if (this.#closed) return false;
    this.#retired = false;
    return true;
  }

  #end(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#retired) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#inner.close?.();
    } catch {
      // A client that fails to close is still done with: the answer of the request that
      // ended last (this may run inside its `then`) must not turn into that failure.
    }
    this.#onClosed(this);
  }
}
