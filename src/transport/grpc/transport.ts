// transport.ts: the gRPC peer transport as a PeerTransport: grpc-js channels and a grpc-js server.
import { type ChannelOptions, credentials } from '@grpc/grpc-js';
import type { GroupLookup, PeerClient } from '../../core/peers.js';
import { InvalidArgumentError } from '../../errors.js';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_WIRE_MAX_VALUE_BYTES } from '../../limits.js';
import { bearer, checkSecret } from '../../security/secret.js';
import { resolveTls, type TlsOptions } from '../../security/tls.js';
import { type Clock, systemClock } from '../../util/clock.js';
import {
  PEER_CONNECTION_SHARE,
  resolveServerLimits,
  type ServerLimitOptions,
} from '../../util/server-limits.js';
import { clientCache } from '../clients.js';
import type { PeerTransport, ServeOptions } from '../transport.js';
import { clientChannelOptions, type GrpcClientConfig, GrpcPeerClient } from './client.js';
import { type GrpcPeerServer, serveGrpc } from './server.js';

const defaultRequestTimeoutMs = 10_000;

/**
 * GrpcTransportOptions configure {@link grpcTransport}. The server also takes
 * the {@link ServerLimitOptions}: `maxConnections` (default half the
 * open-file limit, at most 4,096), `handshakeTimeoutMs` (TLS, default 10,000),
 * `idleTimeoutMs` (a connection with no call open, default 300,000),
 * `readTimeoutMs` (a call's message, once asked for, default 30,000) and
 * `maxInflightBytes` (default 256 MiB, or twice the largest Set message).
 */
export interface GrpcTransportOptions extends ServerLimitOptions {
  /**
   * maxConcurrentStreams is how many calls one connection may have open at
   * once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a client queues the rest.
   * Default 1,024.
   */
  maxConcurrentStreams?: number | undefined;
  /** connectionLogIntervalMs is the shortest time between two log lines about refused connections. Default 10,000. */
  connectionLogIntervalMs?: number | undefined;
  /**
   * maxValueBytes is the ceiling of a value a peer may send or be sent; it sets
   * grpc-js's message size limits (with room for the rest of the message) on
   * both clients and server. Each call is held to its group's `maxValueBytes`
   * within it. Larger values fail with TooLargeError (RESOURCE_EXHAUSTED on
   * the wire). Defaults to 256 MiB.
   */
  maxValueBytes?: number;
  /**
   * maxKeyBytes is the ceiling of a key the server accepts, in UTF-8 bytes;
   * each call is held to its group's `maxKeyBytes` within it. Defaults to 4096.
   */
  maxKeyBytes?: number;
  /**
   * requestTimeoutMs bounds each call in addition to the caller's deadline and
   * signal: the earlier of the two is the call's gRPC deadline, which the peer
   * receives and stops waiting at. Passing it fails the call with
   * DeadlineExceededError. `Infinity` disables it. Defaults to 10 000.
   */
  requestTimeoutMs?: number;
  /**
   * channelOptions are grpc-js channel options laid over the transport's own
   * (message size limits from `maxValueBytes`, a local subchannel pool, a
   * reconnect backoff of 250 ms to 5 s), e.g. keepalive settings. Defaults to none.
   */
  channelOptions?: ChannelOptions;
  /**
   * tls configures both sides. Server: with `tls.cert` and `tls.key` it serves
   * TLS only; with `tls.clientAuth` it also requires a client certificate that
   * chains to `tls.ca`. Client: `https://` peers are dialled with TLS, their
   * certificate checked against `tls.ca` (Node's public roots without it) and
   * the URL's host; `tls.cert`/`tls.key` are presented when a server asks for
   * a client certificate. `http://` peers are dialled in the clear. A peer
   * whose certificate is refused, or that refuses ours, fails the call with
   * UnavailableError. Default: none (plain text; `https://` peers checked
   * against the public roots).
   */
  tls?: TlsOptions | undefined;
  /**
   * peerSecret is sent with every call as `authorization: Bearer <secret>`
   * metadata, and required on every GroupCache call served (compared in
   * constant time): a call without it, or with another, is answered
   * UNAUTHENTICATED before any group is looked at. The health service stays
   * open. Visible ASCII, no spaces. Default: none.
   */
  peerSecret?: string | undefined;
  /**
   * stream sends every request to a peer on one long-lived Exchange stream
   * (`GroupCache/Exchange`: many requests by id, batched, answered as they
   * come), which grpc-js serves at many times the rate of unary calls. A peer
   * that answers it UNIMPLEMENTED (an older peercache, another gRPC server) is
   * sent unary calls, and tried on the stream again after 30 s (doubling up to
   * 10 minutes while it still has none) or as soon as its connection is made
   * again. `false`: unary calls only. Default true.
   */
  stream?: boolean | undefined;
  /**
   * maxStreamRequests is the most requests in flight on one Exchange stream:
   * a client sends no more (the rest wait, see `maxQueuedRequests`), a server
   * answers more UNAVAILABLE and stops reading the stream until one ends.
   * Default 1,024.
   */
  maxStreamRequests?: number | undefined;
  /**
   * maxQueuedRequests is the most requests waiting for room on one peer's
   * stream; past it a call fails UNAVAILABLE at once. Default 10,000.
   */
  maxQueuedRequests?: number | undefined;
  /**
   * maxQueuedBytes is the most bytes of requests to one peer that wait to be written
   * (waiting for room on its stream, or held while the stream does not drain: a peer that
   * does not read); past it a call fails UNAVAILABLE at once. A request is always let in
   * when none waits, so any legal value can be sent. Default 16 MiB, as tcp's.
   */
  maxQueuedBytes?: number | undefined;
  /**
   * clock reads the time and runs the Exchange streams' timeouts on both sides
   * (requests, idle streams) and the client's backoff before trying the stream
   * of a peer that had none again; give it the node's. Unary calls' deadlines
   * are grpc-js's, on the system clock. Default {@link systemClock}.
   */
  clock?: Clock | undefined;
}

/** GrpcTransport is the gRPC transport; its server tells its stats (see {@link GrpcPeerServer}). */
export interface GrpcTransport extends PeerTransport {
  serve(groups: GroupLookup, options: ServeOptions): Promise<GrpcPeerServer>;
}

/**
 * grpcTransport builds the gRPC peer transport (name `grpc`): peers still name
 * each other by `http(s)://host:port` base URLs (their ring identities), and the
 * client dials that host and port, with TLS for `https://`. One channel per peer,
 * cached; `close()` closes them. The server serves `groupcachepb.GroupCache`
 * and `grpc.health.v1.Health/Check`. Every node of a cluster must use it.
 * Throws InvalidArgumentError on a bad option.
 */
export function grpcTransport(options: GrpcTransportOptions = {}): GrpcTransport {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_WIRE_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 0) {
    throw new InvalidArgumentError(
      `maxValueBytes must be a non-negative integer: ${maxValueBytes}`,
    );
  }
  const maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  if (!Number.isSafeInteger(maxKeyBytes) || maxKeyBytes < 1) {
    throw new InvalidArgumentError(`maxKeyBytes must be a positive integer: ${maxKeyBytes}`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
  if (!(requestTimeoutMs > 0)) {
    throw new InvalidArgumentError(`requestTimeoutMs must be positive: ${requestTimeoutMs}`);
  }
  // Peers keep one long-lived channel each: an idle one is closed after 5 minutes, not
  // 30 s, so a quiet pair of peers does not pay a reconnection every half minute.
  const limits = resolveServerLimits(
    { ...options, idleTimeoutMs: options.idleTimeoutMs ?? 300_000 },
    {
      connectionShare: PEER_CONNECTION_SHARE,
      connectionCap: 4096,
      // A Set reserves the largest message before grpc-js reads it: room for two at once.
      maxInflightBytes: Math.max(256 * 1024 * 1024, 2 * (maxValueBytes + maxKeyBytes + 64 * 1024)),
    },
  );
  const maxConcurrentStreams = options.maxConcurrentStreams ?? 1024;
  if (!Number.isSafeInteger(maxConcurrentStreams) || maxConcurrentStreams < 1) {
    throw new InvalidArgumentError(
      `maxConcurrentStreams must be a positive integer: ${maxConcurrentStreams}`,
    );
  }
  const maxStreamRequests = positiveInteger('maxStreamRequests', options.maxStreamRequests, 1024);
  const maxQueuedRequests = positiveInteger('maxQueuedRequests', options.maxQueuedRequests, 10_000);
  const maxQueuedBytes = positiveInteger(
    'maxQueuedBytes',
    options.maxQueuedBytes,
    16 * 1024 * 1024,
  );
  const tls = resolveTls(options.tls);
  const secret = checkSecret('peerSecret', options.peerSecret);
  const config: GrpcClientConfig = {
    insecure: credentials.createInsecure(),
    secure: credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null),
    authorization: secret === undefined ? undefined : bearer(secret),
    channelOptions: { ...clientChannelOptions(maxValueBytes), ...options.channelOptions },
    requestTimeoutMs,
    maxValueBytes,
    stream: options.stream ?? true,
    maxStreamRequests,
    maxQueuedRequests,
    maxQueuedBytes,
    // Before the server's idle timeout (the same option on every node), so that it is this
    // side that ends an idle stream: the server ending it could cross a request just sent.
    streamIdleMs: Math.max(limits.idleTimeoutMs - 5_000, limits.idleTimeoutMs / 2),
    clock: options.clock ?? systemClock,
  };
  const clients = clientCache((url) => new GrpcPeerClient(url, config));

  return {
    name: 'grpc',
    client: (url: string): PeerClient => clients.get(url),
    serve(groups: GroupLookup, serve: ServeOptions): Promise<GrpcPeerServer> {
      return serveGrpc(groups, {
        host: serve.host,
        port: serve.port,
        signal: serve.signal,
        logger: serve.logger,
        maxKeyBytes,
        maxValueBytes,
        tls,
        peerSecret: secret,
        limits,
        maxConcurrentStreams,
        connectionLogIntervalMs: options.connectionLogIntervalMs,
        maxStreamRequests,
        clock: config.clock,
      });
    },
    close: () => clients.closeAll(),
  };
}

/** positiveInteger is option `name`'s value, `fallback` when absent; throws InvalidArgumentError when not a positive integer. */
function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer: ${n}`);
  }
  return n;
}
