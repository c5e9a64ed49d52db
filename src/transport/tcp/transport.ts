// transport.ts: the tcp peer transport as a PeerTransport: one multiplexed connection per peer
// pair with a compact binary framing, for clusters whose nodes are all peercache.
import { type Logger, noopLogger } from '../../core/logger.js';
import type { GroupLookup, PeerClient } from '../../core/peers.js';
import { InvalidArgumentError } from '../../errors.js';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_WIRE_MAX_VALUE_BYTES } from '../../limits.js';
import type { RingKind } from '../../ring/owner-ring.js';
import { checkSecret } from '../../security/secret.js';
import { resolveTls, type TlsOptions } from '../../security/tls.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { defaultMaxConnections } from '../../util/fd-limit.js';
import { clientCache } from '../clients.js';
import type { ClientOptions, PeerServer, PeerTransport, ServeOptions } from '../transport.js';
import { type TcpClientConfig, type TcpClientStats, TcpPeerClient } from './client.js';
import { MAX_SECRET_BYTES } from './frame.js';
import { serveTcp } from './server.js';

const MiB = 1024 * 1024;

/** TcpTransportOptions configure {@link tcpTransport}. */
export interface TcpTransportOptions {
  /**
   * maxValueBytes is the ceiling of a value sent or accepted, both ways; it
   * bounds every frame, so a peer declaring a larger one is disconnected before
   * any of it is buffered. Each request is held to its group's `maxValueBytes`
   * within it. At most 2^31. Defaults to 256 MiB.
   */
  maxValueBytes?: number;
  /**
   * maxKeyBytes is the ceiling of a key, in UTF-8 bytes (at most 65 535); each
   * request is held to its group's `maxKeyBytes` within it. Defaults to 4096.
   */
  maxKeyBytes?: number;
  /**
   * requestTimeoutMs bounds each call in addition to the caller's deadline; the
   * earlier of the two travels to the peer as the time left, and passing it
   * fails the call with DeadlineExceededError. `Infinity` disables it.
   * Defaults to 10 000.
   */
  requestTimeoutMs?: number;
  /**
   * maxInFlight is how many GETs one connection may have in flight at the
   * server; more are answered UNAVAILABLE. Defaults to 4096.
   */
  maxInFlight?: number;
  /**
   * minBackoffMs and maxBackoffMs bound the wait before redialling a peer that
   * refused a connection (calls meanwhile fail UNAVAILABLE at once); the wait
   * doubles from the first to the second. Defaults to 100 and 2 000.
   */
  minBackoffMs?: number;
  /** See {@link TcpTransportOptions.minBackoffMs}. Defaults to 2 000. */
  maxBackoffMs?: number;
  /**
   * connectTimeoutMs: a dial the peer has not accepted (the TCP connection, not
   * yet TLS) within this time is dropped, its calls fail UNAVAILABLE, and the
   * next call dials afresh with no backoff. The kernel's first SYN retry comes
   * after 1 s and each later one twice as late, so without it a dial begun while
   * a peer was cut off would reach it only seconds after the link came back.
   * Defaults to 1 000.
   */
  connectTimeoutMs?: number;
  /**
   * quietTimeoutMs: a connection that has had requests in flight and read
   * nothing for this long is sent a PING; if nothing is read within the request
   * timeout, at most 1 s, it is reset, its requests fail UNAVAILABLE and the next
   * call dials afresh. A peer slow to load answers the PING at once and keeps
   * the connection; a connection that lived through a partition, whose kernel
   * would resend what it holds only at its next doubled retransmission timer,
   * is replaced about 2 s after it went quiet. `Infinity` leaves it to the
   * requests' timeouts. Defaults to 1 000.
   */
  quietTimeoutMs?: number;
  /**
   * tls: with `tls.cert` and `tls.key` the server speaks TLS only (and with
   * `tls.clientAuth` requires client certificates from `tls.ca`); `https://`
   * peers are dialled with TLS, checked against `tls.ca` (Node's public roots
   * without it) and the URL's host. Default: none (plain text).
   */
  tls?: TlsOptions | undefined;
  /**
   * peerSecret is sent in each connection's HELLO and required of every
   * connection served (compared in constant time); a connection without it is
   * answered UNAUTHENTICATED and closed. Visible ASCII, no spaces. Default: none.
   */
  peerSecret?: string | undefined;
  /**
   * maxConnections is how many connections the server keeps open at once; more
   * are closed as they arrive (logged once per 10 s with a count). Defaults to
   * half the process's open-file limit, at least 16 and at most 4096, so that a
   * flood on the peer port leaves descriptors for the API server.
   */
  maxConnections?: number;
  /**
   * handshakeTimeoutMs: a connection must finish its TLS handshake (with TLS)
   * and then have its HELLO accepted, each within this time, or it is closed.
   * Defaults to 10 000.
   */
  handshakeTimeoutMs?: number;
  /**
   * readTimeoutMs: once the first byte of a frame has arrived, the whole frame
   * must arrive within this time, or the connection is closed (slow senders
   * and half-sent values cannot hold the server's memory). Defaults to 30 000.
   */
  readTimeoutMs?: number;
  /**
   * idleTimeoutMs: the server closes a connection that has had no request in
   * flight and no frame begun for this long (the client dials again when it
   * next needs to). The client closes its own idle connections a little
   * earlier (5 s earlier, but not before half of it), so that with equal
   * settings on every node no request crosses the server's close. Defaults to
   * 300 000 (5 min).
   */
  idleTimeoutMs?: number;
  /**
   * maxInflightBytes caps the bytes of large request frames (over 64 KiB) being
   * received at once, server-wide. A frame that does not fit waits, its
   * connection not read, until earlier ones are done (first come, first
   * served); a frame larger than the cap is read alone. Defaults to 128 MiB.
   */
  maxInflightBytes?: number;
  /**
   * maxQueuedRequests is how many requests to one peer may wait to be written
   * (its connection still opening, or its socket not draining); past it, calls
   * fail at once with UnavailableError. Defaults to 4096.
   */
  maxQueuedRequests?: number;
  /**
   * maxQueuedBytes is how many bytes of requests to one peer may wait to be
   * written; past it, calls fail at once with UnavailableError. A request is
   * always let in when none is waiting, so any legal value can be sent.
   * Defaults to 16 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * clock reads the time and runs every timeout of the client and the server
   * (requests, stats calls, dials, probes, handshake, read, idle); give it the node's.
   * Default {@link systemClock}.
   */
  clock?: Clock | undefined;
  /**
   * logger hears of the connections the client drops: for a malformed answer,
   * or reset after making no progress. Default: none.
   */
  logger?: Logger;
}

/** positiveInt returns `value`, or throws InvalidArgumentError naming `name` unless it is a positive integer. */
function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer: ${value}`);
  }
  return value;
}

/** positiveMs returns `value`, or throws InvalidArgumentError naming `name` unless it is a positive number of ms. */
function positiveMs(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`${name} must be a positive, finite number of ms: ${value}`);
  }
  return value;
}

/**
 * tcpTransport builds the tcp peer transport (name `tcp`), peercache-to-peercache
 * only (Go groupcache does not speak it). Peers keep naming each other by
 * `http(s)://host:port` base URLs (ring identities); the client dials that host
 * and port, with TLS for `https://`. One connection per peer, requests
 * multiplexed on it by id; the wire format is docs/wire-format.md. Every node
 * of a cluster must use it. Throws InvalidArgumentError on a bad option.
 */
/** TcpTransport is the tcp {@link PeerTransport}, with its clients' stats. */
export interface TcpTransport extends PeerTransport {
  /** clientStats returns the stats of the client of `url`, or undefined when it has none open. */
  clientStats(url: string): TcpClientStats | undefined;
}

export function tcpTransport(options: TcpTransportOptions = {}): TcpTransport {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_WIRE_MAX_VALUE_BYTES;
  // The frame length is a u32: the value and its headers must fit.
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 0 || maxValueBytes > 2 ** 31) {
    throw new InvalidArgumentError(
      `maxValueBytes must be an integer from 0 to 2^31: ${maxValueBytes}`,
    );
  }
  const maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  if (!Number.isSafeInteger(maxKeyBytes) || maxKeyBytes < 1 || maxKeyBytes > 0xffff) {
    throw new InvalidArgumentError(
      `maxKeyBytes must be an integer from 1 to 65535: ${maxKeyBytes}`,
    );
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  if (!(requestTimeoutMs > 0)) {
    throw new InvalidArgumentError(`requestTimeoutMs must be positive: ${requestTimeoutMs}`);
  }
  const maxInFlight = options.maxInFlight ?? 4096;
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
    throw new InvalidArgumentError(`maxInFlight must be a positive integer: ${maxInFlight}`);
  }
  const minBackoffMs = options.minBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 2_000;
  if (!(minBackoffMs >= 0) || !(maxBackoffMs >= minBackoffMs)) {
    throw new InvalidArgumentError('backoff must satisfy 0 <= minBackoffMs <= maxBackoffMs');
  }
  const maxConnections = positiveInt(
    'maxConnections',
    options.maxConnections ?? defaultMaxConnections(0.5, 4096),
  );
  const handshakeTimeoutMs = positiveMs('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 10_000);
  const readTimeoutMs = positiveMs('readTimeoutMs', options.readTimeoutMs ?? 30_000);
  const idleTimeoutMs = positiveMs('idleTimeoutMs', options.idleTimeoutMs ?? 300_000);
  const connectTimeoutMs = positiveMs('connectTimeoutMs', options.connectTimeoutMs ?? 1_000);
  const quietTimeoutMs = options.quietTimeoutMs ?? 1_000;
  if (!(quietTimeoutMs > 0)) {
    throw new InvalidArgumentError(
      `quietTimeoutMs must be a positive number of ms: ${quietTimeoutMs}`,
    );
  }
  const maxInflightBytes = positiveInt('maxInflightBytes', options.maxInflightBytes ?? 128 * MiB);
  const maxQueuedRequests = positiveInt('maxQueuedRequests', options.maxQueuedRequests ?? 4096);
  const maxQueuedBytes = positiveInt('maxQueuedBytes', options.maxQueuedBytes ?? 16 * MiB);
  const tls = resolveTls(options.tls);
  const clock = options.clock ?? systemClock;
  const secret = checkSecret('peerSecret', options.peerSecret);
  if (secret !== undefined && secret.length > MAX_SECRET_BYTES) {
    throw new InvalidArgumentError(`peerSecret must be at most ${MAX_SECRET_BYTES} characters`);
  }
  const config: TcpClientConfig = {
    maxKeyBytes,
    maxValueBytes,
    requestTimeoutMs,
    minBackoffMs,
    maxBackoffMs,
    tls,
    peerSecret: secret,
    logger: options.logger ?? noopLogger,
    maxQueuedRequests,
    maxQueuedBytes,
    idleTimeoutMs,
    connectTimeoutMs,
    quietTimeoutMs,
    clock,
  };
  // The ring of the node this transport serves, from its first call that names one.
  let ring: RingKind | undefined;
  const learnRing = (kind: RingKind | undefined): void => {
    if (kind === undefined) return;
    if (ring !== undefined && ring !== kind) {
      throw new InvalidArgumentError(
        `this tcp transport serves a node with the ${ring} ring, not ${kind}: give each node a transport of its own`,
      );
    }
    ring = kind;
  };
  const clients = clientCache((url) => new TcpPeerClient(url, { ...config, ring }));
  return {
    name: 'tcp',
    client: (url: string, options?: ClientOptions): PeerClient => {
      learnRing(options?.ring);
      return clients.get(url);
    },
    clientStats: (url: string) => clients.peek(url)?.stats(),
    serve(groups: GroupLookup, serve: ServeOptions): Promise<PeerServer> {
      learnRing(serve.ring);
      return serveTcp(groups, {
        ring: serve.ring,
        host: serve.host,
        port: serve.port,
        signal: serve.signal,
        logger: serve.logger,
        maxKeyBytes,
        maxValueBytes,
        maxInFlight,
        tls,
        peerSecret: secret,
        maxConnections,
        maxInflightBytes,
        handshakeTimeoutMs,
        readTimeoutMs,
        idleTimeoutMs,
        clock,
      });
    },
    close: () => clients.closeAll(),
  };
}
