// client.ts: the few etcd v3 calls the membership needs (range, put, lease grant,
// keepalive and revoke, watch), as a small interface and its gRPC implementation
// over @grpc/grpc-js with code generated from the trimmed proto in ./proto.
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  type CacheError,
  CancelledError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  isCacheError,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
} from '../../errors.js';
import { Auth, KV, Lease, Watch } from './gen/etcdserverpb/rpc_pb.js';
import { Event_EventType } from './gen/mvccpb/kv_pb.js';
import { prefixRangeEnd, utf8 } from './keys.js';
import type { EtcdEndpoint, EtcdTlsOptions } from './options.js';

/** EtcdKeyValue is one key read from etcd. */
export interface EtcdKeyValue {
  key: string;
  value: Uint8Array;
  /** modRevision is the revision of the key's last change. */
  modRevision: number;
  /** lease is the ID of the lease the key is attached to (0n: none). */
  lease: bigint;
}

/** EtcdEvent is one change a watch reports. A DELETE carries the key but no value. */
export interface EtcdEvent {
  type: 'put' | 'delete';
  key: string;
  value: Uint8Array;
  modRevision: number;
}

/** EtcdRange is the answer to a prefix read: the keys and the store's revision then. */
export interface EtcdRange {
  kvs: EtcdKeyValue[];
  /** revision is the store revision the read saw; watch from revision + 1 to miss nothing. */
  revision: number;
  /** clusterId identifies the etcd cluster (it changes if etcd is rebuilt from scratch). */
  clusterId: string;
}

/** WatchHandlers receive what a watch reports; after `onCompacted` or `onError` it is over. */
export interface WatchHandlers {
  /** onCreated: etcd accepted the watch. */
  onCreated(clusterId: string): void;
  /** onEvents: changes, in revision order. */
  onEvents(events: EtcdEvent[]): void;
  /** onCompacted: the start revision is gone; read the whole prefix again. */
  onCompacted(compactRevision: number): void;
  /** onError: the watch broke (connection lost, cancelled by etcd). */
  onError(err: CacheError): void;
}

/** EtcdWatch is a running watch. */
export interface EtcdWatch {
  /** close stops the watch; no handler runs after it. */
  close(): void;
}

/** EtcdCallOptions bound one call. */
export interface EtcdCallOptions {
  /** signal cancels the call (CancelledError). */
  signal?: AbortSignal | undefined;
  /** timeoutMs overrides the client's request timeout. */
  timeoutMs?: number | undefined;
}

/**
 * EtcdClient is the seam between the membership's session loop and etcd: the
 * real one speaks gRPC; unit tests use an in-memory fake. Every failure is a
 * CacheError: UnavailableError or DeadlineExceededError when etcd cannot be
 * reached, NotFoundError for a lease etcd does not know.
 */
export interface EtcdClient {
  /** endpoint is the URL calls currently go to. */
  readonly endpoint: string;
  /** range reads every key that starts with `prefix`. */
  range(prefix: string, options?: EtcdCallOptions): Promise<EtcdRange>;
  /** put writes `key` attached to `lease`; it resolves with the new revision. */
  put(key: string, value: Uint8Array, lease: bigint, options?: EtcdCallOptions): Promise<number>;
  /** grant creates a lease; etcd may raise the TTL to its minimum. */
  grant(ttlSeconds: number, options?: EtcdCallOptions): Promise<{ id: bigint; ttl: number }>;
  /** keepAlive renews lease `id` and resolves with its TTL; <= 0 means the lease is gone. */
  keepAlive(id: bigint, options?: EtcdCallOptions): Promise<number>;
  /** revoke ends lease `id` at once, deleting its keys. */
  revoke(id: bigint, options?: EtcdCallOptions): Promise<void>;
  /** watch reports changes under `prefix` from `startRevision` on (inclusive). */
  watch(prefix: string, startRevision: number, handlers: WatchHandlers): EtcdWatch;
  /** close closes the connections; calls in flight fail. */
  close(): void;
}

/** isConnectionError tells whether `err` means etcd could not be reached in time. */
export function isConnectionError(err: unknown): boolean {
  return isCacheError(err) && (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED');
}

/** GrpcEtcdClientOptions configure {@link grpcEtcdClient}. */
export interface GrpcEtcdClientOptions {
  endpoints: readonly EtcdEndpoint[];
  auth?: { username: string; password: string } | undefined;
  tls?: EtcdTlsOptions | undefined;
  /** requestTimeoutMs is each call's deadline. */
  requestTimeoutMs: number;
  /** Bounds of grpc's own reconnect backoff, so a returning etcd is noticed quickly. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** Rpc is one gRPC method: its path and (de)serialisers from the generated schemas. */
interface Rpc<I extends DescMessage, O extends DescMessage> {
  path: string;
  input: I;
  serialize(value: MessageShape<I>): Buffer;
  deserialize(bytes: Buffer): MessageShape<O>;
}

function rpc<I extends DescMessage, O extends DescMessage>(method: {
  name: string;
  parent: DescService;
  input: I;
  output: O;
}): Rpc<I, O> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    input: method.input,
    serialize: (value) => Buffer.from(toBinary(method.input, value)),
    deserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

const RPC = {
  range: rpc(KV.method.range),
  put: rpc(KV.method.put),
  grant: rpc(Lease.method.leaseGrant),
  revoke: rpc(Lease.method.leaseRevoke),
  keepAlive: rpc(Lease.method.leaseKeepAlive),
  watch: rpc(Watch.method.watch),
  authenticate: rpc(Auth.method.authenticate),
};

const decoder = new TextDecoder();

/**
 * toEtcdError maps a gRPC failure to the CacheError family, naming the endpoint
 * and keeping etcd's own text (e.g. `etcdserver: requested lease not found`).
 */
export function toEtcdError(err: unknown, endpoint: string): CacheError {
  if (isCacheError(err)) return err;
  const e = err as Partial<grpc.ServiceError>;
  const detail = (e.details || e.message || String(err)).replace(/\.?\s*Resolution note:\s*$/, '');
  const text = `etcd ${endpoint}: ${detail}`;
  const options = { cause: err };
  // etcd answers a wrong password, and a call without a token once auth is on,
  // with INVALID_ARGUMENT: both are authentication failures.
  if (/authentication failed|user name is empty/.test(detail)) {
    return new UnauthenticatedError(text, options);
  }
  switch (e.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.ABORTED:
      return new UnavailableError(text, options);
    case grpc.status.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(text, options);
    case grpc.status.NOT_FOUND:
      return new NotFoundError(text, options);
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED:
      return new UnauthenticatedError(text, options);
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
      return new InvalidArgumentError(text, options);
    default:
      return new InternalError(text, options);
  }
}

/** Conn is one endpoint's channel and, with authentication, its token. */
interface Conn {
  endpoint: EtcdEndpoint;
  client: grpc.Client;
  token: Promise<string> | undefined;
}

/**
 * GrpcEtcdClient talks to etcd's v3 gRPC API. It keeps one channel per endpoint
 * (created on first use) and sends calls to the current one; a call that finds
 * it unreachable moves the turn to the next, so the caller's retry tries another
 * endpoint. With a username it authenticates per endpoint (etcd's simple tokens
 * are local to a member) and again when etcd says the token is no longer valid.
 */
class GrpcEtcdClient implements EtcdClient {
  readonly #options: GrpcEtcdClientOptions;
  readonly #conns: (Conn | undefined)[];
  #current = 0;
  #closed = false;

  constructor(options: GrpcEtcdClientOptions) {
    this.#options = options;
    this.#conns = options.endpoints.map(() => undefined);
  }

  get endpoint(): string {
    return this.#options.endpoints[this.#current]!.url;
  }

  #conn(): Conn {
    if (this.#closed) throw new UnavailableError('etcd client is closed');
    const i = this.#current;
    let conn = this.#conns[i];
    if (conn === undefined) {
      const endpoint = this.#options.endpoints[i]!;
      const tls = this.#options.tls;
      const credentials = endpoint.secure
        ? grpc.credentials.createSsl(pem(tls?.ca), pem(tls?.key), pem(tls?.cert))
        : grpc.credentials.createInsecure();
      const client = new grpc.Client(endpoint.target, credentials, {
        'grpc.initial_reconnect_backoff_ms': this.#options.reconnectMinMs,
        'grpc.max_reconnect_backoff_ms': this.#options.reconnectMaxMs,
        // HTTP/2 pings find a dead connection (a host gone, not just a process)
        // while the watch is idle. etcd refuses pings more often than every 5 s.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      });
      conn = { endpoint, client, token: undefined };
      this.#conns[i] = conn;
    }
    return conn;
  }

  /** #failed moves the turn to the next endpoint when `err` says this one is unreachable. */
  #failed(conn: Conn, err: CacheError): void {
    if (!isConnectionError(err)) return;
    const i = this.#conns.indexOf(conn);
    if (i === this.#current) this.#current = (i + 1) % this.#conns.length;
  }

  #deadline(options: EtcdCallOptions | undefined): Date {
    return new Date(Date.now() + (options?.timeoutMs ?? this.#options.requestTimeoutMs));
  }

  async #metadata(conn: Conn, options: EtcdCallOptions | undefined): Promise<grpc.Metadata> {
    const metadata = new grpc.Metadata();
    const auth = this.#options.auth;
    if (auth === undefined) return metadata;
    conn.token ??= this.#unary(
      conn,
      RPC.authenticate,
      { name: auth.username, password: auth.password },
      new grpc.Metadata(),
      options,
    ).then(
      (res) => res.token,
      (err: unknown) => {
        // Credentials given before etcd's auth is enabled: call without a token
        // (as etcd's own client does); once auth is on, etcd refuses the call as
        // unauthenticated and the next one authenticates.
        if (/authentication is not enabled/.test(toEtcdError(err, '').message)) return '';
        throw err;
      },
    );
    let token: string;
    try {
      token = await conn.token;
    } catch (err) {
      conn.token = undefined;
      throw err;
    }
    if (token !== '') metadata.set('token', token);
    return metadata;
  }

  #unary<I extends DescMessage, O extends DescMessage>(
    conn: Conn,
    method: Rpc<I, O>,
    request: MessageInitShape<I>,
    metadata: grpc.Metadata,
    options: EtcdCallOptions | undefined,
  ): Promise<MessageShape<O>> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new CancelledError('etcd call cancelled'));
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = conn.client.makeUnaryRequest(
        method.path,
        method.serialize,
        method.deserialize,
        create(method.input, request),
        metadata,
        { deadline: this.#deadline(options) },
        (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err || res === undefined) {
            reject(
              signal?.aborted
                ? new CancelledError('etcd call cancelled')
                : toEtcdError(err ?? new Error('empty answer'), conn.endpoint.url),
            );
          } else {
            resolve(res);
          }
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * #call runs `fn` on the current endpoint with its metadata; an expired token is
   * dropped and the call tried once more, an unreachable endpoint passes the turn.
   */
  async #call<T>(
    options: EtcdCallOptions | undefined,
    fn: (conn: Conn, metadata: grpc.Metadata) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const conn = this.#conn();
      try {
        return await fn(conn, await this.#metadata(conn, options));
      } catch (err) {
        const e = toEtcdError(err, conn.endpoint.url);
        this.#failed(conn, e);
        const staleToken =
          e.code === 'UNAUTHENTICATED' && this.#options.auth !== undefined && attempt === 0;
        if (!staleToken) throw e;
        conn.token = undefined;
      }
    }
  }

  range(prefix: string, options?: EtcdCallOptions): Promise<EtcdRange> {
    const key = utf8(prefix);
    return this.#call(options, async (conn, metadata) => {
      const res = await this.#unary(
        conn,
        RPC.range,
        { key, rangeEnd: prefixRangeEnd(key) },
        metadata,
        options,
      );
      return {
        kvs: res.kvs.map((kv) => ({
          key: decoder.decode(kv.key),
          value: kv.value,
          modRevision: Number(kv.modRevision),
          lease: kv.lease,
        })),
        revision: Number(res.header?.revision ?? 0n),
        clusterId: String(res.header?.clusterId ?? 0n),
      };
    });
  }

  put(key: string, value: Uint8Array, lease: bigint, options?: EtcdCallOptions): Promise<number> {
    return this.#call(options, async (conn, metadata) => {
      const res = await this.#unary(
        conn,
        RPC.put,
        { key: utf8(key), value, lease },
        metadata,
        options,
      );
      return Number(res.header?.revision ?? 0n);
    });
  }

  grant(ttlSeconds: number, options?: EtcdCallOptions): Promise<{ id: bigint; ttl: number }> {
    return this.#call(options, async (conn, metadata) => {
      const res = await this.#unary(
        conn,
        RPC.grant,
        { TTL: BigInt(ttlSeconds) },
        metadata,
        options,
      );
      if (res.error !== '') throw new InternalError(`etcd ${conn.endpoint.url}: ${res.error}`);
      return { id: res.ID, ttl: Number(res.TTL) };
    });
  }

  revoke(id: bigint, options?: EtcdCallOptions): Promise<void> {
    return this.#call(options, async (conn, metadata) => {
      await this.#unary(conn, RPC.revoke, { ID: id }, metadata, options);
    });
  }

  keepAlive(id: bigint, options?: EtcdCallOptions): Promise<number> {
    // One short stream per keepalive: send the ID, read the answer, half-close.
    // etcd answers a lease it does not know with TTL 0 rather than an error.
    return this.#call(
      options,
      (conn, metadata) =>
        new Promise<number>((resolve, reject) => {
          const signal = options?.signal;
          if (signal?.aborted) return reject(new CancelledError('etcd call cancelled'));
          let settled = false;
          const call = conn.client.makeBidiStreamRequest(
            RPC.keepAlive.path,
            RPC.keepAlive.serialize,
            RPC.keepAlive.deserialize,
            metadata,
            { deadline: this.#deadline(options) },
          );
          const finish = (err: CacheError | undefined, ttl = 0) => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener('abort', onAbort);
            if (err) reject(err);
            else resolve(ttl);
          };
          const onAbort = () => {
            finish(new CancelledError('etcd call cancelled'));
            call.cancel();
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          call.on('data', (res: MessageShape<(typeof Lease.method.leaseKeepAlive)['output']>) =>
            finish(undefined, Number(res.TTL)),
          );
          call.on('error', (err) => finish(toEtcdError(err, conn.endpoint.url)));
          call.on('end', () =>
            finish(new UnavailableError(`etcd ${conn.endpoint.url}: keepalive stream closed`)),
          );
          call.write(create(RPC.keepAlive.input, { ID: id }));
          call.end();
        }),
    );
  }

  watch(prefix: string, startRevision: number, handlers: WatchHandlers): EtcdWatch {
    let call: { cancel(): void } | undefined;
    let over = false;
    const end = (report: () => void) => {
      if (over) return;
      over = true;
      call?.cancel();
      report();
    };
    const key = utf8(prefix);
    let conn: Conn;
    try {
      conn = this.#conn();
    } catch (err) {
      const e = toEtcdError(err, this.endpoint);
      queueMicrotask(() => end(() => handlers.onError(e)));
      return { close: () => end(() => {}) };
    }
    const fail = (err: unknown) => {
      const e = toEtcdError(err, conn.endpoint.url);
      this.#failed(conn, e);
      if (e.code === 'UNAUTHENTICATED') conn.token = undefined;
      end(() => handlers.onError(e));
    };
    this.#metadata(conn, undefined).then((metadata) => {
      if (over) return;
      const stream = conn.client.makeBidiStreamRequest(
        RPC.watch.path,
        RPC.watch.serialize,
        RPC.watch.deserialize,
        metadata,
      );
      call = stream;
      stream.on('data', (res: MessageShape<(typeof Watch.method.watch)['output']>) => {
        if (over) return;
        if (res.compactRevision > 0n) {
          const revision = Number(res.compactRevision);
          return end(() => handlers.onCompacted(revision));
        }
        if (res.canceled) {
          const why = res.cancelReason || 'watch cancelled by etcd';
          return end(() =>
            handlers.onError(new UnavailableError(`etcd ${conn.endpoint.url}: ${why}`)),
          );
        }
        if (res.created) handlers.onCreated(String(res.header?.clusterId ?? 0n));
        if (res.events.length > 0) {
          handlers.onEvents(
            res.events.map((ev) => ({
              type: ev.type === Event_EventType.DELETE ? 'delete' : 'put',
              key: decoder.decode(ev.kv?.key ?? new Uint8Array(0)),
              value: ev.kv?.value ?? new Uint8Array(0),
              modRevision: Number(ev.kv?.modRevision ?? 0n),
            })),
          );
        }
      });
      stream.on('error', (err) => fail(err));
      stream.on('end', () => fail(new UnavailableError(`etcd ${conn.endpoint.url}: watch closed`)));
      stream.write(
        create(RPC.watch.input, {
          requestUnion: {
            case: 'createRequest',
            value: { key, rangeEnd: prefixRangeEnd(key), startRevision: BigInt(startRevision) },
          },
        }),
      );
    }, fail);
    return { close: () => end(() => {}) };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of this.#conns) conn?.client.close();
  }
}

function pem(value: string | Buffer | undefined): Buffer | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

/** grpcEtcdClient builds the gRPC {@link EtcdClient}. Channels open on first use. */
export function grpcEtcdClient(options: GrpcEtcdClientOptions): EtcdClient {
  return new GrpcEtcdClient(options);
}
