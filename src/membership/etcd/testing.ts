// testing.ts: an in-memory etcd for unit tests of the session loop: keys with
// revisions, leases, watches with history and compaction, and clients that can
// be cut off one by one, so a test decides exactly when etcd "goes down".
import { CancelledError, NotFoundError, UnavailableError } from '../../errors.js';
import type {
  EtcdCallOptions,
  EtcdClient,
  EtcdEvent,
  EtcdKeyValue,
  EtcdRange,
  EtcdWatch,
  WatchHandlers,
} from './client.js';

interface Stored {
  value: Uint8Array;
  modRevision: number;
  lease: bigint;
}

interface Watcher {
  prefix: string;
  handlers: WatchHandlers;
  client: FakeEtcdClient;
}

const encoder = new TextEncoder();

/**
 * FakeEtcd is one in-memory etcd. Each change bumps the revision and is kept in
 * a history that watches replay from their start revision, unless `compact`
 * dropped it. Leases never run out by themselves: `expire(id)` ends one as
 * etcd's lessor would (deleting its keys). `calls` records every client call.
 */
export class FakeEtcd {
  revision = 1;
  compactedTo = 0;
  clusterId = '1';
  readonly kv = new Map<string, Stored>();
  readonly leases = new Map<bigint, number>();
  readonly calls: string[] = [];
  readonly #history: Array<{ revision: number; event: EtcdEvent }> = [];
  readonly #watchers = new Set<Watcher>();
  #nextLease = 0x1000n;

  /** client returns a new client of this etcd, reachable until `down` is set. */
  client(): FakeEtcdClient {
    return new FakeEtcdClient(this);
  }

  /** put writes `key` (a string value is UTF-8 encoded) as another client would. */
  put(key: string, value: Uint8Array | string = '', lease = 0n): number {
    if (lease !== 0n && !this.leases.has(lease)) {
      throw new NotFoundError('etcdserver: requested lease not found');
    }
    const bytes = typeof value === 'string' ? encoder.encode(value) : value;
    const revision = ++this.revision;
    this.kv.set(key, { value: bytes, modRevision: revision, lease });
    this.#emit({ type: 'put', key, value: bytes, modRevision: revision });
    return revision;
  }

  /** delete removes `key`, as another client would. */
  delete(key: string): void {
    if (!this.kv.has(key)) return;
    this.kv.delete(key);
    const revision = ++this.revision;
    this.#emit({ type: 'delete', key, value: new Uint8Array(0), modRevision: revision });
  }

  /** grant creates a lease. */
  grant(ttl: number): bigint {
    const id = this.#nextLease++;
    this.leases.set(id, ttl);
    return id;
  }

  /** expire ends lease `id` and deletes its keys (revoking does the same). */
  expire(id: bigint): void {
    if (!this.leases.delete(id)) return;
    for (const [key, stored] of [...this.kv]) if (stored.lease === id) this.delete(key);
  }

  /** compact drops the history up to `revision` (default: the current one). */
  compact(revision = this.revision): void {
    this.compactedTo = revision;
    while (this.#history.length > 0 && this.#history[0]!.revision <= revision)
      this.#history.shift();
  }

  /** watchers counts the running watches. */
  get watchers(): number {
    return this.#watchers.size;
  }

  /** watch is what a client's watch does here. */
  watch(client: FakeEtcdClient, prefix: string, start: number, handlers: WatchHandlers): EtcdWatch {
    const watcher: Watcher = { prefix, handlers, client };
    let closed = false;
    const close = () => {
      closed = true;
      this.#watchers.delete(watcher);
    };
    // Like the real thing, answers arrive later (after I/O), never during the call.
    setImmediate(() => {
      if (closed) return;
      if (client.down) return handlers.onError(new UnavailableError('etcd fake: unreachable'));
      handlers.onCreated(this.clusterId);
      if (start <= this.compactedTo) return handlers.onCompacted(this.compactedTo);
      const backlog = this.#history
        .filter((h) => h.revision >= start && h.event.key.startsWith(prefix))
        .map((h) => h.event);
      if (backlog.length > 0) handlers.onEvents(backlog);
      this.#watchers.add(watcher);
    });
    return { close };
  }

  /** cut ends the watches of `client` with an UnavailableError. */
  cut(client: FakeEtcdClient): void {
    for (const w of [...this.#watchers]) {
      if (w.client !== client) continue;
      this.#watchers.delete(w);
      w.handlers.onError(new UnavailableError('etcd fake: connection lost'));
    }
  }

  #emit(event: EtcdEvent): void {
    this.#history.push({ revision: event.modRevision, event });
    for (const w of this.#watchers) {
      if (!event.key.startsWith(w.prefix)) continue;
      setImmediate(() => {
        if (this.#watchers.has(w)) w.handlers.onEvents([event]);
      });
    }
  }
}

/** FakeEtcdClient is one node's view of a {@link FakeEtcd}; `down` makes every call fail. */
export class FakeEtcdClient implements EtcdClient {
  readonly endpoint = 'http://fake-etcd:2379';
  readonly #etcd: FakeEtcd;
  #down = false;
  closed = false;

  constructor(etcd: FakeEtcd) {
    this.#etcd = etcd;
  }

  /** down says whether this client is cut off from etcd. */
  get down(): boolean {
    return this.#down;
  }

  set down(value: boolean) {
    this.#down = value;
    if (value) this.#etcd.cut(this);
  }

  async #enter(name: string, options?: EtcdCallOptions): Promise<void> {
    this.#etcd.calls.push(name);
    await new Promise((resolve) => setImmediate(resolve));
    if (options?.signal?.aborted) throw new CancelledError('etcd call cancelled');
    if (this.closed) throw new UnavailableError('etcd client is closed');
    if (this.#down) throw new UnavailableError('etcd fake: unreachable');
  }

  async range(prefix: string, options?: EtcdCallOptions): Promise<EtcdRange> {
    await this.#enter('range', options);
    const kvs: EtcdKeyValue[] = [];
    for (const [key, s] of this.#etcd.kv) {
      if (key.startsWith(prefix)) {
        kvs.push({ key, value: s.value, modRevision: s.modRevision, lease: s.lease });
      }
    }
    kvs.sort((a, b) => (a.key < b.key ? -1 : 1));
    return { kvs, revision: this.#etcd.revision, clusterId: this.#etcd.clusterId };
  }

  async put(
    key: string,
    value: Uint8Array,
    lease: bigint,
    options?: EtcdCallOptions,
  ): Promise<number> {
    await this.#enter('put', options);
    return this.#etcd.put(key, value, lease);
  }

  async grant(ttlSeconds: number, options?: EtcdCallOptions) {
    await this.#enter('grant', options);
    return { id: this.#etcd.grant(ttlSeconds), ttl: ttlSeconds };
  }

  async keepAlive(id: bigint, options?: EtcdCallOptions): Promise<number> {
    await this.#enter('keepAlive', options);
    return this.#etcd.leases.get(id) ?? 0;
  }

  async revoke(id: bigint, options?: EtcdCallOptions): Promise<void> {
    await this.#enter('revoke', options);
    if (!this.#etcd.leases.has(id))
      throw new NotFoundError('etcdserver: requested lease not found');
    this.#etcd.expire(id);
  }

  watch(prefix: string, startRevision: number, handlers: WatchHandlers): EtcdWatch {
    this.#etcd.calls.push('watch');
    return this.#etcd.watch(this, prefix, startRevision, handlers);
  }

  close(): void {
    this.closed = true;
    this.#etcd.cut(this);
  }
}
