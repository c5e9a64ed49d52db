// server.ts: the gRPC peer server: GroupCache Get/Set/Remove for local groups, Stats, and grpc.health.v1.
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  type handleUnaryCall,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import { answerPeer } from '../../core/group.js';
import type { Logger } from '../../core/logger.js';
import { encodeNodeStats } from '../../core/node-stats.js';
import {
  type GroupLookup,
  type PeerServedGroup,
  type PeerValue,
  parseGeneration,
} from '../../core/peers.js';
import { CancelledError, DeadlineExceededError, isCacheError } from '../../errors.js';
import type { SizeLimits } from '../../limits.js';
import {
  type GetManyRequest,
  type GetManyResponse,
  GetManyResponseSchema,
  type GetRequest,
  type GetResponse,
  GetResponseSchema,
  type KeyResultSchema,
  type RemoveRequest,
  type RemoveResponse,
  RemoveResponseSchema,
  type SetRequest,
  type SetResponse,
  SetResponseSchema,
  type StatsRequest,
  type StatsResponse,
  StatsResponseSchema,
} from '../../proto/gen/groupcache_pb.js';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '../../proto/gen/grpc/health/v1/health_pb.js';
import { RefusalLog } from '../../security/refusals.js';
import { AUTHORIZATION, type SecretCheck, secretCheck } from '../../security/secret.js';
import type { ResolvedTls } from '../../security/tls.js';
import { ByteBudget } from '../../util/byte-budget.js';
import { type Clock, MAX_TIMER_MS, systemClock } from '../../util/clock.js';
import {
  guardConnections,
  logLimits,
  logServerErrors,
  type ServerLimits,
  type ServerStats,
  serverStats,
} from '../../util/server-limits.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import { lateWrite } from '../late-write.js';
import { checkBatch, oldestGeneration, serveGetMany } from '../serve-get-many.js';
import type { PeerServer } from '../transport.js';
import { ExchangeServer } from './exchange-server.js';
import { limitCalls } from './limits.js';
import {
  GROUP_CACHE_SERVICE,
  groupCacheMethods,
  healthMethods,
  MalformedMessage,
  type Received,
} from './service.js';
import { CLEAR_METADATA, GENERATION_METADATA } from './status.js';
import { checkKey, clean, findGroup, isRefusal, type Refusal, refusalOf } from './target.js';

// Room in a SetRequest for the field tags, the lengths, the expiry and a group name.
const setRequestOverhead = 64 * 1024;

/** GrpcServerConfig is what {@link serveGrpc} needs besides the groups. */
export interface GrpcServerConfig {
  host: string;
  port: number;
  /** Aborts every in-flight group call (the node gave up waiting at shutdown). */
  signal: AbortSignal;
  logger: Logger;
  /** Largest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value a Set may carry or a Get may answer. */
  maxValueBytes: number;
  /** With a certificate, serve TLS only (and with `clientAuth`, mutual TLS). Default: plain. */
  tls?: ResolvedTls | undefined;
  /** When set, every GroupCache call must carry it (`authorization: Bearer`). Default: none. */
  peerSecret?: string | undefined;
  /** The server's limits: connections, timeouts, message bytes in flight. */
  limits: ServerLimits;
  /** The most calls open at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** The shortest time between two log lines about refused connections. Default 10,000. */
  connectionLogIntervalMs?: number | undefined;
  /** The most requests one Exchange stream may have in flight. */
  maxStreamRequests: number;
  /** Reads the time and runs the Exchange streams' timeouts. Default {@link systemClock}. */
  clock?: Clock | undefined;
}

/**
 * GrpcPeerServer is the running gRPC peer server; `stats()` tells its
 * connections and message bytes in flight against its limits.
 */
export interface GrpcPeerServer extends PeerServer {
  stats(): ServerStats;
}

/**
 * serveGrpc answers `groupcachepb.GroupCache` (Get, Set, Remove) and
 * `grpc.health.v1.Health/Check` on `host:port` for the groups `groups`
 * resolves. Requests are served locally and never forwarded. Every failure is
 * answered with the status of the `grpcStatus` table; bad input never throws.
 *
 * The listening socket is peercache's own (a net or TLS server), each accepted
 * connection handed to grpc-js through its connection injector: grpc-js has no
 * connection limit of its own, and this way `maxConnections` refuses the excess
 * before any TLS or HTTP/2 work, and a TLS handshake is bounded by
 * `handshakeTimeoutMs`. grpc-js closes a connection with no call open for
 * `idleTimeoutMs` (`grpc.max_connection_idle_ms`), refuses a message over the
 * receive limit with RESOURCE_EXHAUSTED, and caps the calls per connection
 * (`grpc.max_concurrent_streams`); {@link limitCalls} checks the peer secret
 * before a message is read and keeps message bytes under `maxInflightBytes`.
 */
export async function serveGrpc(
  groups: GroupLookup,
  config: GrpcServerConfig,
): Promise<GrpcPeerServer> {
  const { limits } = config;
  const maxSetBytes = config.maxValueBytes + config.maxKeyBytes + setRequestOverhead;
  const inflight = new ByteBudget(limits.maxInflightBytes);
  const refusals = new RefusalLog(config.logger, 'peer');
  const server = new Server({
    // grpc-js refuses larger messages itself, with RESOURCE_EXHAUSTED.
    'grpc.max_receive_message_length': maxSetBytes,
    'grpc.max_send_message_length': config.maxValueBytes + setRequestOverhead,
    'grpc.max_concurrent_streams': config.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    interceptors: [
      limitCalls({
        authorized: config.peerSecret === undefined ? undefined : secretCheck(config.peerSecret),
        onRefused: (remote) => refusals.secret(remote),
        inflight,
        maxSetBytes,
        maxSmallBytes: 2 * config.maxKeyBytes + setRequestOverhead,
        readTimeoutMs: limits.readTimeoutMs,
      }),
    ],
  });
  const handlers = new Handlers(groups, config);
  const exchange = new ExchangeServer({
    groups,
    ceiling: config,
    signal: config.signal,
    logger: config.logger,
    maxStreamRequests: config.maxStreamRequests,
    idleTimeoutMs: limits.idleTimeoutMs,
    clock: config.clock ?? systemClock,
  });
  server.addService(groupCacheMethods, {
    get: handlers.get,
    set: handlers.set,
    remove: handlers.remove,
    stats: handlers.stats,
    getMany: handlers.getMany,
    exchange: exchange.handler,
  });
  server.addService(healthMethods, { check: handlers.check });

  // TLS is ours too (see above): grpc-js gets decrypted connections.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  for (const problem of config.tls?.warnings ?? []) {
    config.logger.warn({ code: problem.code }, `peer TLS: ${problem.message}`);
  }
  const listener = listeningServer(config.tls, limits, refusals, (socket) => {
    if (socket.destroyed) return;
    injector.injectConnection(socket);
  });
  listener.on('connection', track);
  const guard = guardConnections(
    listener,
    limits.maxConnections,
    config.logger,
    'peer',
    config.connectionLogIntervalMs,
  );
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(config.port, config.host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  logServerErrors(listener, config.logger, 'peer');
  logLimits(config.logger, 'peer', limits);
  const bound = listener.address() as { address: string; family: string; port: number };

  let closing: Promise<void> | undefined;
  return {
    address: { address: config.host, family: bound.family, port: bound.port },
    stats: () => serverStats(limits, guard, inflight),
    close(graceMs: number) {
      closing ??= new Promise<void>((resolve) => {
        listener.close();
        // Streams end once answered: an idle one would hold the shutdown for the whole grace.
        exchange.drain();
        // Past the grace period, open calls are dropped (their clients see UNAVAILABLE).
        const force = setTimeout(() => {
          server.forceShutdown();
          for (const socket of sockets) socket.destroy();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          // Connections grpc-js never took (a TLS handshake under way) close too.
          for (const socket of sockets) socket.destroy();
          resolve();
        });
      });
      return closing;
    },
  };
}

/**
 * listeningServer makes the socket server peers connect to: TLS when `tls`
 * has a certificate (HTTP/2 by ALPN; under `clientAuth`, requiring a client
 * certificate that chains to `tls.ca`; the handshake bounded by
 * `handshakeTimeoutMs`), else plain TCP. `serve` gets each connection ready
 * for HTTP/2. Failed handshakes and refused client certificates are logged
 * through `refusals`, with the reason.
 */
function listeningServer(
  tls: ResolvedTls | undefined,
  limits: ServerLimits,
  refusals: RefusalLog,
  serve: (socket: Socket) => void,
): NetServer {
  if (tls?.serving !== true || tls.cert === undefined || tls.key === undefined) {
    return createNetServer({ noDelay: true }, serve);
  }
  const server = createTlsServer(
    {
      cert: tls.cert,
      key: tls.key,
      ALPNProtocols: ['h2'],
      handshakeTimeout: limits.handshakeTimeoutMs,
      // A client certificate is checked below, where the reason of a refusal can be logged.
      ...(tls.clientAuth ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
    },
    (socket) => {
      if (tls.clientAuth && refusals.refuseUnauthorized(socket)) return;
      serve(socket);
    },
  );
  // A failed handshake is the client's problem; without a listener it would be thrown.
  server.on('tlsClientError', (err, socket) => {
    socket.destroy();
    refusals.handshake(err, socket);
  });
  return server;
}

type Call<T> = ServerUnaryCall<Received<T>, unknown>;

/** callGeneration is the group generation a call's metadata carries, when well formed. */
function callGeneration(call: Call<unknown>): number | undefined {
  const sent = call.metadata.get(GENERATION_METADATA);
  return sent.length === 0 ? undefined : parseGeneration(sent[0]);
}

/** sendGeneration puts the group's generation in the answer's metadata, once it is not 0. */
function sendGeneration(call: Call<unknown>, generation: number | undefined): void {
  if (!generation) return;
  const metadata = new Metadata();
  metadata.set(GENERATION_METADATA, String(generation));
  call.sendMetadata(metadata);
}
/** Answer is how a handler's helpers answer a call with a failure. */
type Answer = (error: Partial<StatusObject>) => void;

/** Handlers holds the rpc implementations of one server. */
class Handlers {
  readonly #groups: GroupLookup;
  readonly #config: GrpcServerConfig;
  readonly #authorized: SecretCheck | undefined;

  constructor(groups: GroupLookup, config: GrpcServerConfig) {
    this.#groups = groups;
    this.#config = config;
    this.#authorized = config.peerSecret === undefined ? undefined : secretCheck(config.peerSecret);
  }

  readonly get: handleUnaryCall<Received<GetRequest>, GetResponse> = (call, done) => {
    const target = this.#target(call, 'GetRequest', done);
    if (target === undefined) return;
    const { group, key } = target;
    const { signal, deadline, release } = callSignal(call, this.#config.signal);
    let loading: Promise<PeerValue>;
    try {
      const traceparent = call.metadata.get('traceparent')[0];
      loading = Promise.resolve(
        answerPeer(group, key, {
          signal,
          deadline,
          traceparent: typeof traceparent === 'string' ? traceparent : undefined,
          generation: callGeneration(call),
        }),
      );
    } catch (err) {
      loading = Promise.reject(err);
    }
    loading.then(
      (found) => {
        release();
        if (found.value.byteLength > this.#config.maxValueBytes) {
          done({
            code: Status.RESOURCE_EXHAUSTED,
            details: `value of ${found.value.byteLength} bytes is over the limit of ${this.#config.maxValueBytes}`,
          });
          return;
        }
        sendGeneration(call, found.generation);
        done(null, create(GetResponseSchema, getResponseInit(found)));
      },
      (err: unknown) => {
        release();
        this.#fail(call, 'Get', err, done);
      },
    );
  };

  readonly set: handleUnaryCall<Received<SetRequest>, SetResponse> = (call, done) => {
    const target = this.#target(call, 'SetRequest', done);
    if (target === undefined) return;
    const { request, limits } = target;
    if (request.value.byteLength > limits.maxValueBytes) {
      done({
        code: Status.RESOURCE_EXHAUSTED,
        details: `value is over the limit of ${limits.maxValueBytes} bytes`,
      });
      return;
    }
    // The deadline runs from when the call's headers came; the message may come later.
    const deadline = callDeadline(call);
    const late = lateWrite('set', deadline);
    if (late !== undefined) {
      this.#fail(call, 'Set', late, done);
      return;
    }
    try {
      // A plain view of the bytes (they arrive as a Buffer); the group copies what it keeps.
      const { buffer, byteOffset, byteLength } = request.value;
      const value = new Uint8Array(buffer, byteOffset, byteLength);
      target.group.setFromPeer(target.key, value, expireAtFromNanos(request.expire), {
        deadline,
        generation: callGeneration(call),
      });
    } catch (err) {
      this.#fail(call, 'Set', err, done);
      return;
    }
    sendGeneration(call, target.group.generation);
    done(null, create(SetResponseSchema));
  };

  /**
   * getMany answers each key as Get would, in the order asked: a value, or the
   * status its Get would have failed with. Values that would take the answer
   * past the message limit are answered RESOURCE_EXHAUSTED (ask for them alone).
   */
  readonly getMany: handleUnaryCall<Received<GetManyRequest>, GetManyResponse> = (call, done) => {
    const request = this.#request(call, 'GetManyRequest', done);
    if (request === undefined) return;
    const found = findGroup(this.#groups, this.#config, request.group);
    if (isRefusal(found)) {
      done(found);
      return;
    }
    const refused = checkBatch(request.keys);
    if (refused !== undefined) {
      done({ code: Status.RESOURCE_EXHAUSTED, details: clean(refused.message) });
      return;
    }
    const { signal, deadline, release } = callSignal(call, this.#config.signal);
    const traceparent = call.metadata.get('traceparent')[0];
    const options = {
      signal,
      deadline,
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      generation: callGeneration(call),
    };
    const { keys } = request;
    const bad = keys.map((key) => checkKey(key, found.limits.maxKeyBytes));
    const good = keys.filter((_, i) => bad[i] === undefined);
    const limits = { maxValueBytes: this.#config.maxValueBytes };
    serveGetMany(found.group, good, options, limits).then(
      (outcomes) => {
        release();
        if (call.cancelled) return;
        sendGeneration(call, oldestGeneration(outcomes.values()));
        let room = this.#config.maxValueBytes;
        const error = (refusal: Refusal): MessageInitShape<typeof KeyResultSchema> => ({
          result: { case: 'error', value: { code: refusal.code, message: refusal.details } },
        });
        const results = keys.map((key, i): MessageInitShape<typeof KeyResultSchema> => {
          const refusal = bad[i];
          if (refusal !== undefined) return error(refusal);
          const outcome = outcomes.get(key);
          if (outcome === undefined || isCacheError(outcome)) {
            return error(refusalOf(outcome, this.#config.logger, 'GetMany'));
          }
          const n = outcome.value.byteLength;
          if (n > room) {
            return error({
              code: Status.RESOURCE_EXHAUSTED,
              details: 'the answer would be over the message limit: ask for the key alone',
            });
          }
          room -= n;
          return { result: { case: 'value', value: getResponseInit(outcome) } };
        });
        done(null, create(GetManyResponseSchema, { results }));
      },
      (err: unknown) => {
        release();
        this.#fail(call, 'GetMany', err, done);
      },
    );
  };

  readonly remove: handleUnaryCall<Received<RemoveRequest>, RemoveResponse> = (call, done) => {
    if (call.metadata.get(CLEAR_METADATA).length > 0) {
      this.#clear(call, done);
      return;
    }
    const target = this.#target(call, 'RemoveRequest', done);
    if (target === undefined) return;
    const deadline = callDeadline(call);
    const late = lateWrite('remove', deadline);
    if (late !== undefined) {
      this.#fail(call, 'Remove', late, done);
      return;
    }
    try {
      target.group.removeFromPeer(target.key, { deadline, generation: callGeneration(call) });
    } catch (err) {
      this.#fail(call, 'Remove', err, done);
      return;
    }
    sendGeneration(call, target.group.generation);
    done(null, create(RemoveResponseSchema));
  };

  /**
   * clear answers a clear notice (a Remove with CLEAR_METADATA): a group this server
   * does not serve has nothing to clear and is answered OK; a malformed generation is
   * INVALID_ARGUMENT.
   */
  #clear(
    call: Call<RemoveRequest>,
    done: (err: Partial<StatusObject> | null, response?: RemoveResponse) => void,
  ): void {
    const request = this.#request(call, 'clear notice', done);
    if (request === undefined) return;
    const generation = parseGeneration(call.metadata.get(CLEAR_METADATA)[0]);
    if (generation === undefined) {
      done({
        code: Status.INVALID_ARGUMENT,
        details: `bad request: a clear notice needs a positive whole ${CLEAR_METADATA}`,
      });
      return;
    }
    try {
      this.#groups.getGroup(request.group)?.clearFromPeer?.(generation);
    } catch (err) {
      this.#fail(call, 'Clear', err, done);
      return;
    }
    done(null, create(RemoveResponseSchema));
  }

  /** stats answers the node's report as JSON; NOT_FOUND when the lookup has none. */
  readonly stats: handleUnaryCall<Received<StatsRequest>, StatsResponse> = (call, done) => {
    const request = this.#request(call, 'StatsRequest', done);
    if (request === undefined) return;
    const source = this.#groups;
    if (source.nodeStats === undefined) {
      done({ code: Status.NOT_FOUND, details: 'this server gives no stats' });
      return;
    }
    if (request.key !== undefined && Buffer.byteLength(request.key) > this.#config.maxKeyBytes) {
      done({
        code: Status.RESOURCE_EXHAUSTED,
        details: `key is over the limit of ${this.#config.maxKeyBytes} bytes`,
      });
      return;
    }
    try {
      const stats = source.nodeStats({ group: request.group, key: request.key });
      done(null, create(StatsResponseSchema, { json: encodeNodeStats(stats) }));
    } catch (err) {
      this.#fail(call, 'Stats', err, done);
    }
  };

  readonly check: handleUnaryCall<Received<HealthCheckRequest>, HealthCheckResponse> = (
    call,
    done,
  ) => {
    const request = call.request;
    if (!isMessage(request)) {
      done({ code: Status.INVALID_ARGUMENT, details: 'malformed HealthCheckRequest' });
      return;
    }
    if (request.service !== '' && request.service !== GROUP_CACHE_SERVICE) {
      done({ code: Status.NOT_FOUND, details: `unknown service: ${clean(request.service)}` });
      return;
    }
    // Answering at all means serving: a closing server takes no new calls (UNAVAILABLE).
    done(null, create(HealthCheckResponseSchema, { status: ServingStatus.SERVING }));
  };

  /**
   * request is the call's message once its peer secret is checked (UNAUTHENTICATED
   * when it is required and missing or wrong) and the message decoded (INVALID_ARGUMENT
   * when not); it answers the call itself and returns undefined otherwise.
   */
  #request<T>(call: Call<T>, what: string, done: Answer): T | undefined {
    // Authentication comes first: an unauthenticated call learns nothing (not even
    // whether its group exists) and changes nothing.
    if (this.#authorized !== undefined && !this.#authorized(call.metadata.get(AUTHORIZATION))) {
      done({
        code: Status.UNAUTHENTICATED,
        details: 'unauthenticated: missing or wrong peer secret',
      });
      return undefined;
    }
    const request = call.request;
    if (!isMessage(request)) {
      const cause = request.cause instanceof Error ? `: ${clean(request.cause.message)}` : '';
      done({ code: Status.INVALID_ARGUMENT, details: `malformed ${what}${cause}` });
      return undefined;
    }
    return request;
  }

  /**
   * target checks the call's peer secret (UNAUTHENTICATED when it is required
   * and missing or wrong), then its group and key as the HTTP server does (a
   * malformed message or an empty key is INVALID_ARGUMENT, a key over the limit
   * RESOURCE_EXHAUSTED, a group not served here FAILED_PRECONDITION) and
   * answers the call itself when they are unusable.
   */
  #target<T extends { group: string; key: string }>(
    call: Call<T>,
    what: string,
    done: Answer,
  ): { group: PeerServedGroup; key: string; request: T; limits: SizeLimits } | undefined {
    const request = this.#request(call, what, done);
    if (request === undefined) return undefined;
    const { key } = request;
    const bad = checkKey(key, this.#config.maxKeyBytes);
    if (bad !== undefined) {
      done(bad);
      return undefined;
    }
    const found = findGroup(this.#groups, this.#config, request.group);
    if (isRefusal(found)) {
      done(found);
      return undefined;
    }
    const { group, limits } = found;
    const refused = checkKey(key, limits.maxKeyBytes);
    if (refused !== undefined) {
      done(refused);
      return undefined;
    }
    return { group, key, request, limits };
  }

  /** fail answers with a group's error: its code's status and its message; logs server faults. */
  #fail(call: Call<unknown>, method: string, err: unknown, done: Answer): void {
    // A client that left is owed nothing, and its leaving is no fault of ours.
    if (call.cancelled) return;
    done(refusalOf(err, this.#config.logger, method));
  }
}

/** getResponseInit is the GetResponse of a value found: qps and expiry only when known. */
function getResponseInit(found: PeerValue): MessageInitShape<typeof GetResponseSchema> {
  const init: MessageInitShape<typeof GetResponseSchema> = { value: found.value };
  if (found.minuteQps > 0) init.minuteQps = found.minuteQps;
  const expire = nanosFromExpireAt(found.expireAt);
  if (expire !== 0n) init.expire = expire;
  return init;
}

function isMessage<T>(request: Received<T>): request is T {
  return !(request instanceof MalformedMessage);
}

/** callDeadline is the call's deadline in ms since the epoch, or undefined for none. */
function callDeadline(call: Call<unknown>): number | undefined {
  const raw = call.getDeadline();
  const at = raw instanceof Date ? raw.getTime() : raw;
  return Number.isFinite(at) ? at : undefined;
}

/**
 * callSignal builds the signal handed to the group for one call: it aborts when
 * the client cancels or goes away (CancelledError), when the call's deadline —
 * the client's `grpc-timeout` — passes (DeadlineExceededError), or when the
 * server-wide `outer` signal aborts (its reason). `release` detaches it once
 * the call is answered: grpc-js reports every finished call as cancelled.
 */
function callSignal(
  call: Call<unknown>,
  outer: AbortSignal,
): { signal: AbortSignal; deadline: number | undefined; release: () => void } {
  const controller = new AbortController();
  const onCancelled = () =>
    controller.abort(new CancelledError('peer request: the client cancelled or went away'));
  call.once('cancelled', onCancelled);
  const onOuterAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onOuterAbort();
  else outer.addEventListener('abort', onOuterAbort, { once: true });

  const deadline = callDeadline(call);
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    const left = Math.max(0, deadline - Date.now());
    if (left <= MAX_TIMER_MS) {
      timer = setTimeout(
        () =>
          controller.abort(
            new DeadlineExceededError(`peer request: deadline of ${left} ms passed`),
          ),
        left,
      );
    }
  }
  // A client that cancelled before the handler ran: 'cancelled' has already fired.
  if (call.cancelled) onCancelled();
  return {
    signal: controller.signal,
    deadline,
    release: () => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
      outer.removeEventListener('abort', onOuterAbort);
    },
  };
}
