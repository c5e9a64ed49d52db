// server.ts: the tcp transport's server: reads pipelined GET/SET/REMOVE frames from each peer
// connection, answers them in any order, and closes a connection that breaks the framing, is
// too slow, idles, or does not fit the server's limits.
import { isUtf8 } from 'node:buffer';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { answerPeer } from '../../core/group.js';
import { peerLeaving } from '../../core/leave.js';
import type { Logger } from '../../core/logger.js';
import { encodeNodeStats } from '../../core/node-stats.js';
import {
  type CallOptions,
  type GroupLookup,
  type PeerServedGroup,
  type PeerValue,
  parseGeneration,
} from '../../core/peers.js';
import {
  CacheError,
  CancelledError,
  DeadlineExceededError,
  type ErrorCode,
  httpStatus,
  toCacheError,
  UnavailableError,
} from '../../errors.js';
import { MAX_BATCH_KEY_BYTES, MAX_BATCH_KEYS, servedLimits } from '../../limits.js';
import type { RingKind } from '../../ring/owner-ring.js';
import { RefusalLog } from '../../security/refusals.js';
import { secretCheck } from '../../security/secret.js';
import type { ResolvedTls } from '../../security/tls.js';
import { type BudgetWaiter, ByteBudget } from '../../util/byte-budget.js';
import { ChurnMap } from '../../util/churn-map.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { LazyAbort } from '../../util/lazy-abort.js';
import { LogThrottle } from '../../util/log-throttle.js';
import { ReadHolds } from '../../util/read-holds.js';
import { SweepTimer } from '../../util/sweep-timer.js';
import { oldestGeneration, serveGetMany } from '../serve-get-many.js';
import type { PeerServer } from '../transport.js';
import {
  BATCH_VERSION,
  encodeError,
  encodeGeneration,
  encodeGetManyAnswer,
  encodeGetOkHeader,
  encodeHelloOk,
  encodeOk,
  encodeOkBody,
  FrameReader,
  FrameType,
  GENERATION_BYTES,
  GET_OK_FIXED_BYTES,
  HEADER_BYTES,
  LENGTH_BYTES,
  MAX_HELLO_FRAME,
  MAX_SECRET_BYTES,
  MAX_STATS_REQUEST_BYTES,
  MAX_TRACEPARENT_BYTES,
  type ManyEntry,
  maxRequestFrame,
  OK,
  PROTOCOL_VERSION,
  REQUEST_FIXED_BYTES,
  RING_IDS,
  readGetMany,
  ringOfId,
  SET_FIXED_BYTES,
  statusOf,
} from './frame.js';
import { Outbox } from './outbox.js';
import { type ConnectionLimits, type Overdue, watchdogDeadline } from './watchdog.js';

/** Values up to this size are copied into their answer frame; larger ones go as their own chunk. */
const copyLimit = 16 * 1024;
/** How long an ended connection waits for its peer to close its side. */
const lingerMs = 10_000;
/**
 * Frames up to this size are read without a reservation from `maxInflightBytes`:
 * a connection holds at most one incomplete frame, so small ones are bounded by
 * the connection count, and GETs split across two reads never wait.
 */
const reserveAbove = 64 * 1024;
/** Reasons a connection stops reading; it reads again when none is left. */
const HOLD_WRITES = 1;
const HOLD_BUDGET = 2;

/** TcpServerConfig is what {@link serveTcp} needs besides the groups. */
export interface TcpServerConfig {
  host: string;
  port: number;
  /** Aborts every in-flight load (the node gave up waiting at shutdown). */
  signal: AbortSignal;
  logger: Logger;
  maxKeyBytes: number;
  maxValueBytes: number;
  /** Requests one connection may have in flight; more are answered UNAVAILABLE. */
  maxInFlight: number;
  /** With a certificate, serve TLS only (with `clientAuth`, mutual TLS). Default: plain. */
  tls?: ResolvedTls | undefined;
  /** When set, a connection's HELLO must carry it. Default: none. */
  peerSecret?: string | undefined;
  /**
   * The node's ring kind: a HELLO that names another is refused. A HELLO that
   * names none (an older client) is accepted. Default: none, nothing checked.
   */
  ring?: RingKind | undefined;
  /** Connections open at once; more are closed as they arrive, and logged. */
  maxConnections: number;
  /** Bytes of large (over 64 KiB) request frames being received at once, server-wide; more wait. */
  maxInflightBytes: number;
  /** The TLS handshake, then the HELLO, must each complete within it. */
  handshakeTimeoutMs: number;
  /** A frame begun must complete within it. */
  readTimeoutMs: number;
  /** A connection with nothing in flight and no frame begun is closed after it. */
  idleTimeoutMs: number;
  /** Reads the time and runs the timeouts (loads, handshake, read, idle). Default {@link systemClock}. */
  clock?: Clock | undefined;
}

/** TcpServerStats is a snapshot of what a tcp server holds. */
export interface TcpServerStats {
  /** Open connections. */
  connections: number;
  /** Bytes held for incomplete frames, over all connections. */
  bufferedBytes: number;
  /** Bytes reserved from `maxInflightBytes` for large frames being received. */
  reservedBytes: number;
  /** Connections waiting (not read) until their frame fits in `maxInflightBytes`. */
  waiting: number;
}

/** TcpPeerServer is the tcp transport's {@link PeerServer}, with its {@link TcpServerStats}. */
export interface TcpPeerServer extends PeerServer {
  /** stats tells what the server holds now. */
  stats(): TcpServerStats;
}

/** Shared is what every connection of one server reads. */
interface Shared {
  readonly groups: GroupLookup;
  readonly config: TcpServerConfig;
  readonly clock: Clock;
  readonly maxFrame: number;
  readonly authorized: ((secret: string) => boolean) | undefined;
  closing: boolean;
  readonly connections: Set<Connection>;
  readonly limits: ConnectionLimits;
  readonly budget: ByteBudget;
  /** One warning per interval for refusals and timeouts, which a flood repeats. */
  readonly throttle: LogThrottle;
  /** Logs refused peers (secret, TLS) with the reason, once per interval per reason. */
  readonly refusals: RefusalLog;
}

/**
 * serveTcp answers the tcp transport's frames on `host:port` for the groups
 * `groups` resolves, served locally and never forwarded. A connection that
 * breaks the framing (a bad length, an unknown type, a truncated payload, no
 * HELLO first) is closed with a logged warning; every other connection goes on.
 * Until its HELLO is accepted, a connection may send no frame larger than a
 * HELLO. Connections past `maxConnections` are refused; ones that stall, idle
 * or take too long over their HELLO are cut; large frames wait for room in
 * `maxInflightBytes` before they are read.
 */
export async function serveTcp(
  groups: GroupLookup,
  config: TcpServerConfig,
): Promise<TcpPeerServer> {
  const shared: Shared = {
    groups,
    config,
    clock: config.clock ?? systemClock,
    maxFrame: maxRequestFrame(config.maxKeyBytes, config.maxValueBytes),
    authorized: authorizer(config.peerSecret),
    closing: false,
    connections: new Set(),
    limits: {
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      readTimeoutMs: config.readTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
    },
    budget: new ByteBudget(config.maxInflightBytes),
    throttle: new LogThrottle(),
    refusals: new RefusalLog(config.logger, 'peer'),
  };
  const tls = config.tls;
  const onSocket = (socket: Socket) => {
    if (shared.closing) {
      socket.destroy();
      return;
    }
    if (tls?.clientAuth === true && shared.refusals.refuseUnauthorized(socket as TLSSocket)) return;
    shared.connections.add(new Connection(socket, shared));
  };
  const server: Server =
    tls?.serving === true
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: tls.clientAuth,
            // Client certificates are checked in onSocket, which logs why one is refused.
            rejectUnauthorized: false,
            handshakeTimeout: config.handshakeTimeoutMs,
          },
          onSocket,
        )
      : createServer({ noDelay: true }, onSocket);
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    // Node leaves the socket open after some of these (a handshake timeout among them).
    socket.destroy();
    shared.refusals.handshake(err, socket);
  });
  for (const problem of tls?.warnings ?? []) {
    warn(config.logger, { code: problem.code }, `peer TLS: ${problem.message}`);
  }
  server.maxConnections = config.maxConnections;
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
    const held = shared.throttle.take('drop');
    if (held === undefined) return;
    warn(
      config.logger,
      {
        remote: `${data?.remoteAddress}:${data?.remotePort}`,
        maxConnections: config.maxConnections,
        refusedSinceLastLog: held,
      },
      'peer connection refused: too many connections',
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const onShutdown = () => {
    for (const c of shared.connections) c.abortAll(config.signal.reason);
  };
  config.signal.addEventListener('abort', onShutdown, { once: true });

  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp: no bound address');
  try {
    config.logger.info(
      {
        port: address.port,
        maxConnections: config.maxConnections,
        maxInflightBytes: config.maxInflightBytes,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        readTimeoutMs: config.readTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
      },
      'tcp peer server limits',
    );
  } catch {
    // A failing logger changes nothing.
  }
  let closing: Promise<void> | undefined;
  return {
    address,
    stats() {
      let bufferedBytes = 0;
      for (const c of shared.connections) bufferedBytes += c.buffered;
      return {
        connections: shared.connections.size,
        bufferedBytes,
        reservedBytes: shared.budget.reserved,
        waiting: shared.budget.waiting,
      };
    },
    close(graceMs: number) {
      closing ??= new Promise<void>((resolve) => {
        shared.closing = true;
        config.signal.removeEventListener('abort', onShutdown);
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(force);
          resolve();
        };
        // Past the grace period, open requests are dropped: their loads are aborted and
        // their clients see the connection close (UNAVAILABLE).
        const force = setTimeout(() => {
          const dropped = new UnavailableError('peer server closed: request dropped');
          for (const c of shared.connections) c.destroy(dropped);
        }, graceMs);
        force.unref();
        server.close(() => finish());
        for (const c of shared.connections) c.drain();
      });
      return closing;
    },
  };
}

/** authorizer compares a HELLO's secret with the peer secret in constant time. */
function authorizer(secret: string | undefined): ((presented: string) => boolean) | undefined {
  if (secret === undefined) return undefined;
  const check = secretCheck(secret);
  return (presented) => check(`Bearer ${presented}`);
}

/**
 * InFlight is one GET being answered, passed to the group as its call options.
 * Its abort signal is made only when the group first reads it: a cache hit never
 * does, and an AbortController per request was the server's largest cost.
 */
class InFlight extends LazyAbort implements CallOptions {
  /** When the request times out, ms since the epoch; undefined for never. */
  readonly deadline: number | undefined;
  /** The timeout the request came with, for the error message. */
  readonly timeoutMs: number;
  /** The trace context the client sent before the request (tracing on). */
  traceparent: string | undefined;
  /** The group generation the client sent before the request, once its group was cleared. */
  generation?: number | undefined;

  /** `timeoutMs` 0 means no deadline; `now` is when the request arrived. */
  constructor(timeoutMs: number, now: number) {
    super();
    this.timeoutMs = timeoutMs;
    this.deadline = timeoutMs > 0 ? now + timeoutMs : undefined;
  }
}

/**
 * Connection serves one peer connection: its frames in, its answers out. One
 * timer per connection (its {@link SweepTimer}) serves both the loads' deadlines
 * and the connection's own (handshake, read, idle; see {@link watchdogDeadline}).
 */
class Connection {
  readonly #socket: Socket;
  readonly #shared: Shared;
  readonly #reader: FrameReader;
  readonly #outbox: Outbox;
  readonly #inFlight = new ChurnMap<number, InFlight>();
  /** The TRACE frame just read, for the request of its id that follows it. */
  #trace: { id: number; traceparent: string } | undefined;
  /** The GENERATION frame just read, for the request of its id that follows it. */
  #generation: { id: number; value: number } | undefined;
  /** Aborts loads whose deadline passed and cuts an overdue connection; one timer for both. */
  readonly #timeouts: SweepTimer;
  readonly #acceptedAt: number;
  /** The last activity (bytes read, or the last request answered), ms since the epoch. */
  #activeAt: number;
  /** Frames read whole so far; numbers the frame being gathered. */
  #frames = 0;
  /** The number of the incomplete frame `#frameSince` belongs to; -1 for none. */
  #frameSeq = -1;
  /** When the incomplete frame began; undefined when none is. */
  #frameSince: number | undefined;
  /** Bytes reserved from the server's budget for the frame being gathered. */
  #reserved = 0;
  /** The reservation waited for, while the budget is full. */
  #waiter: BudgetWaiter | undefined;
  /** Why reading is stopped (HOLD_* bits). */
  readonly #holds: ReadHolds;
  #helloed = false;
  #closed = false;
  #draining = false;

  constructor(socket: Socket, shared: Shared) {
    this.#socket = socket;
    this.#shared = shared;
    this.#holds = new ReadHolds(socket, () => this.#closed);
    this.#timeouts = new SweepTimer((now) => this.#timeOut(now), shared.clock);
    this.#acceptedAt = shared.clock.now();
    this.#activeAt = this.#acceptedAt;
    this.#outbox = new Outbox(socket, {
      full: () => this.#holds.hold(HOLD_WRITES),
      drained: () => this.#holds.unhold(HOLD_WRITES),
    });
    // Until the HELLO is accepted, nothing larger than a HELLO is read.
    this.#reader = new FrameReader(MAX_HELLO_FRAME, (buf, start, end) =>
      this.#frame(buf, start, end),
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => {
      this.#activeAt = this.#shared.clock.now();
      const problem = this.#reader.push(chunk);
      if (problem !== undefined) this.#protocolError(problem);
      else this.#afterRead();
    });
    socket.on('error', () => this.destroy(new UnavailableError('peer connection failed')));
    socket.on('close', () => {
      shared.connections.delete(this);
      this.destroy(new CancelledError('peer connection closed'));
    });
    // The timer holds the process open only while loads are in flight.
    this.#timeouts.hold(false);
    this.#timeouts.schedule(this.#acceptedAt + shared.limits.handshakeTimeoutMs);
  }

  /** buffered is the number of bytes held for the connection's incomplete frame. */
  get buffered(): number {
    return this.#reader.buffered;
  }

  /** abortAll aborts every in-flight load with `reason`; their answers still go out. */
  abortAll(reason: unknown): void {
    for (const f of this.#inFlight.values()) f.abort(reason);
  }

  /** drain answers what is in flight, refuses new requests, and ends the connection when idle. */
  drain(): void {
    this.#draining = true;
    this.#endIfIdle();
  }

  /** destroy drops the connection and aborts its loads with `reason`. Idempotent. */
  destroy(reason: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#reader.stop();
      this.#releaseBudget();
      for (const f of this.#inFlight.values()) f.abort(reason);
      this.#inFlight.clear();
      this.#timeouts.stop();
    }
    this.#socket.destroy();
  }

  /**
   * afterRead follows each read: it notes when a new incomplete frame began (for
   * the read timeout) and reserves room in the server's budget for a large one,
   * stopping reads until there is room.
   */
  #afterRead(): void {
    if (this.#closed) return;
    const reader = this.#reader;
    if (reader.buffered === 0) {
      this.#frameSeq = -1;
      this.#frameSince = undefined;
    } else if (this.#frameSeq !== this.#frames) {
      this.#frameSeq = this.#frames;
      this.#frameSince = this.#activeAt;
      if (this.#helloed)
        this.#timeouts.schedule(this.#activeAt + this.#shared.limits.readTimeoutMs);
    }
    const need = reader.expecting > reserveAbove ? reader.expecting : 0;
    if (need !== (this.#waiter?.bytes ?? this.#reserved)) this.#reserve(need);
  }

  /**
   * reserve makes the connection's reservation `need` bytes: it gives back what
   * it held, then asks for `need`; when the budget has no room, reading stops
   * until the bytes are granted. Two frames of one size in a row keep one
   * reservation (afterRead does not call this).
   */
  #reserve(need: number): void {
    this.#releaseBudget();
    if (need === 0) return;
    const waiter: BudgetWaiter = {
      bytes: need,
      grant: () => {
        if (this.#waiter !== waiter) return;
        this.#waiter = undefined;
        this.#reserved = need;
        this.#holds.unhold(HOLD_BUDGET);
      },
    };
    if (this.#shared.budget.reserveOrWait(waiter)) {
      this.#reserved = need;
    } else {
      this.#waiter = waiter;
      this.#holds.hold(HOLD_BUDGET);
    }
  }

  /** releaseBudget gives back the connection's reservation, or leaves the queue for one. */
  #releaseBudget(): void {
    const budget = this.#shared.budget;
    if (this.#waiter !== undefined) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      budget.cancel(waiter);
      this.#holds.unhold(HOLD_BUDGET);
    }
    if (this.#reserved > 0) {
      const bytes = this.#reserved;
      this.#reserved = 0;
      budget.release(bytes);
    }
  }

  #endIfIdle(): void {
    if (!this.#draining || this.#closed || this.#inFlight.size > 0) return;
    this.#closed = true;
    this.#reader.stop();
    this.#releaseBudget();
    this.#outbox.end();
    // A peer that never closes its side is not waited for long.
    this.#socket.setTimeout(lingerMs, () => this.#socket.destroy());
  }

  /**
   * protocolError closes the connection for a malformed frame, with a warning.
   * Before the HELLO, anyone can cause one as fast as they can connect: those
   * warnings are limited to one per interval, with a count.
   */
  #protocolError(problem: string): void {
    if (this.#closed) return;
    const held = this.#helloed ? 0 : this.#shared.throttle.take('malformed');
    if (held !== undefined) {
      warn(
        this.#shared.config.logger,
        {
          remote: `${this.#socket.remoteAddress}:${this.#socket.remotePort}`,
          problem,
          ...(this.#helloed ? {} : { closedSinceLastLog: held }),
        },
        'peer connection closed: malformed frame',
      );
    }
    this.destroy(new CancelledError('peer connection closed: malformed frame'));
  }

  #send(frame: Buffer, value?: Uint8Array): void {
    if (this.#closed) return;
    this.#outbox.push(frame, value);
  }

  #fail(id: number, code: ErrorCode, message: string): void {
    this.#send(encodeError(id, code, message));
  }

  #frame(buf: Buffer, start: number, end: number): void {
    this.#frames++;
    const type = buf[start];
    const id = buf.readUInt32BE(start + 1);
    const at = start + HEADER_BYTES;
    if (!this.#helloed) {
      this.#hello(type, id, buf, at, end);
      return;
    }
    switch (type) {
      case FrameType.Get:
      case FrameType.Set:
      case FrameType.Remove:
        this.#request(type, id, buf, at, end);
        return;
      case FrameType.GetMany:
        this.#getMany(id, buf, at, end);
        return;
      case FrameType.Cancel: {
        if (end !== at) break;
        const f = this.#inFlight.get(id);
        if (f !== undefined) {
          this.#untrack(id);
          f.abort(new CancelledError('peer request: the client cancelled'));
          this.#endIfIdle();
        }
        return;
      }
      case FrameType.Ping:
        if (end !== at) break;
        this.#send(encodeOk(id));
        return;
      case FrameType.Stats:
        if (end - at > MAX_STATS_REQUEST_BYTES) break;
        this.#stats(id, buf.subarray(at, end));
        return;
      case FrameType.Trace:
        // Kept for the request of the same id, which comes next; one at a time.
        if (end - at > MAX_TRACEPARENT_BYTES) break;
        this.#trace = { id, traceparent: buf.toString('latin1', at, end) };
        return;
      case FrameType.Generation:
        // Kept for the request of the same id, which comes next; one at a time.
        if (end - at !== GENERATION_BYTES) break;
        this.#generation = { id, value: buf.readDoubleBE(at) };
        return;
      case FrameType.Clear:
        this.#clear(id, buf, at, end);
        return;
    }
    this.#protocolError(`unexpected frame type ${type} of ${end - start} bytes`);
  }

  /** stats answers a STATS frame: the JSON request in `payload`, the JSON report back. */
  #stats(id: number, payload: Buffer): void {
    const source = this.#shared.groups;
    if (source.nodeStats === undefined) {
      this.#fail(id, 'NOT_FOUND', 'this server gives no stats');
      return;
    }
    let request: { group?: unknown; key?: unknown };
    try {
      if (!isUtf8(payload)) throw new TypeError('not UTF-8');
      request = JSON.parse(payload.toString('utf8')) as { group?: unknown; key?: unknown };
      if (request === null || typeof request !== 'object') throw new TypeError('not an object');
    } catch {
      this.#fail(id, 'INVALID_ARGUMENT', 'malformed STATS request: want a JSON object');
      return;
    }
    const group = typeof request.group === 'string' ? request.group : undefined;
    const key = typeof request.key === 'string' ? request.key : undefined;
    try {
      this.#send(encodeOkBody(id, encodeNodeStats(source.nodeStats({ group, key }))));
    } catch (err) {
      this.#failWith(id, 'Stats', err);
    }
  }

  #hello(type: number | undefined, id: number, buf: Buffer, at: number, end: number): void {
    if (type !== FrameType.Hello || id !== 0 || end - at < 4) {
      this.#protocolError('the first frame is not a HELLO');
      return;
    }
    const version = buf[at];
    const secretBytes = buf.readUInt16BE(at + 2);
    if (end - at !== 4 + secretBytes || secretBytes > MAX_SECRET_BYTES) {
      this.#protocolError('malformed HELLO');
      return;
    }
    if (version === undefined || version < 1 || version > PROTOCOL_VERSION) {
      this.#fail(0, 'INVALID_ARGUMENT', `unsupported protocol version ${version}`);
      this.drain();
      return;
    }
    const authorized = this.#shared.authorized;
    if (authorized !== undefined && !authorized(buf.toString('latin1', at + 4, end))) {
      this.#shared.refusals.secret(`${this.#socket.remoteAddress}:${this.#socket.remotePort}`);
      this.#fail(0, 'UNAUTHENTICATED', 'unauthenticated: missing or wrong peer secret');
      this.drain();
      return;
    }
    const ours = this.#shared.config.ring;
    const theirs = buf[at + 1] as number;
    if (ours !== undefined && theirs !== 0 && theirs !== RING_IDS[ours]) {
      const named = ringOfId(theirs) ?? `unknown ring ${theirs}`;
      const message = `ring mismatch: the server uses the ${ours} ring, the client the ${named} ring; every node of a cluster must use the same (--ring)`;
      const held = this.#shared.throttle.take('ring');
      if (held !== undefined) {
        try {
          this.#shared.config.logger.error(
            {
              remote: `${this.#socket.remoteAddress}:${this.#socket.remotePort}`,
              ring: ours,
              peerRing: named,
              refusedSinceLastLog: held,
            },
            'peer connection refused: ring mismatch',
          );
        } catch {
          // A failing logger changes nothing.
        }
      }
      this.#fail(0, 'INVALID_ARGUMENT', message);
      this.drain();
      return;
    }
    this.#helloed = true;
    this.#reader.maxFrame = this.#shared.maxFrame;
    // A client of version 2 or later waits for this OK before it sends a GET_MANY; one of
    // version 1 expects no answer to its HELLO, and gets none.
    if (version >= BATCH_VERSION) this.#send(encodeHelloOk());
    // From now on the idle timeout applies (the timer may be armed for the handshake's, later).
    this.#timeouts.schedule(this.#activeAt + this.#shared.limits.idleTimeoutMs);
  }

  /** requestGeneration takes the GENERATION frame read just before request `id`, if any. */
  #requestGeneration(id: number): number | undefined {
    const sent = this.#generation;
    if (sent === undefined) return undefined;
    this.#generation = undefined;
    return sent.id === id ? parseGeneration(sent.value) : undefined;
  }

  /**
   * clear answers a CLEAR frame (a REMOVE's layout, with an empty key), whose
   * generation came in the GENERATION frame before it: a group this server does not
   * serve has nothing to clear and is answered OK.
   */
  #clear(id: number, buf: Buffer, at: number, end: number): void {
    if (end - at < REQUEST_FIXED_BYTES) {
      this.#protocolError('truncated CLEAR');
      return;
    }
    const groupBytes = buf.readUInt16BE(at + 4);
    const groupAt = at + REQUEST_FIXED_BYTES;
    if (buf.readUInt16BE(at + 6) !== 0 || groupAt + groupBytes !== end) {
      this.#protocolError('CLEAR: lengths do not match the frame');
      return;
    }
    const generation = this.#requestGeneration(id);
    if (generation === undefined) {
      this.#fail(id, 'INVALID_ARGUMENT', 'bad request: a CLEAR needs a positive whole generation');
      return;
    }
    if (!isUtf8(buf.subarray(groupAt, end))) {
      this.#fail(id, 'INVALID_ARGUMENT', 'bad request: group is not UTF-8');
      return;
    }
    try {
      this.#shared.groups.getGroup(buf.toString('utf8', groupAt, end))?.clearFromPeer?.(generation);
    } catch (err) {
      this.#failWith(id, 'Clear', err);
      return;
    }
    this.#send(encodeOk(id));
  }

  #request(type: number, id: number, buf: Buffer, at: number, end: number): void {
    const fixed = type === FrameType.Set ? SET_FIXED_BYTES : REQUEST_FIXED_BYTES;
    if (end - at < fixed) {
      this.#protocolError(`truncated request of type ${type}`);
      return;
    }
    const timeoutMs = buf.readUInt32BE(at);
    const groupBytes = buf.readUInt16BE(at + 4);
    const keyBytes = buf.readUInt16BE(at + 6);
    const expireAt = type === FrameType.Set ? buf.readDoubleBE(at + 8) : 0;
    const groupAt = at + fixed;
    const keyAt = groupAt + groupBytes;
    const valueAt = keyAt + keyBytes;
    if (valueAt > end || (type !== FrameType.Set && valueAt !== end)) {
      this.#protocolError(`request of type ${type}: lengths do not match the frame`);
      return;
    }
    if (this.#inFlight.has(id)) {
      this.#protocolError(`request id ${id} is already in flight`);
      return;
    }
    const config = this.#shared.config;
    if (this.#draining || this.#shared.closing) {
      this.#fail(id, 'UNAVAILABLE', 'peer server is closing');
      return;
    }
    if (keyBytes === 0) {
      this.#fail(id, 'INVALID_ARGUMENT', 'bad request: empty key');
      return;
    }
    if (keyBytes > config.maxKeyBytes) {
      this.#fail(id, 'TOO_LARGE', `key is over the limit of ${config.maxKeyBytes} bytes`);
      return;
    }
    if (end - valueAt > config.maxValueBytes) {
      this.#fail(id, 'TOO_LARGE', `value is over the limit of ${config.maxValueBytes} bytes`);
      return;
    }
    // Each on its own: a character split across the two would pass a check of both together.
    if (!isUtf8(buf.subarray(groupAt, keyAt)) || !isUtf8(buf.subarray(keyAt, valueAt))) {
      this.#fail(id, 'INVALID_ARGUMENT', 'bad request: group or key is not UTF-8');
      return;
    }
    const groupName = buf.toString('utf8', groupAt, keyAt);
    const group = this.#shared.groups.getGroup(groupName);
    if (group === undefined) {
      this.#fail(id, 'UNAVAILABLE', `no such group: ${groupName}`);
      return;
    }
    const limits = servedLimits(group, config);
    if (keyBytes > limits.maxKeyBytes) {
      this.#fail(id, 'TOO_LARGE', `key is over the limit of ${limits.maxKeyBytes} bytes`);
      return;
    }
    if (end - valueAt > limits.maxValueBytes) {
      this.#fail(id, 'TOO_LARGE', `value is over the limit of ${limits.maxValueBytes} bytes`);
      return;
    }
    const key = buf.toString('utf8', keyAt, valueAt);
    const trace = this.#trace;
    this.#trace = undefined;
    const traceparent = trace !== undefined && trace.id === id ? trace.traceparent : undefined;
    const generation = this.#generation === undefined ? undefined : this.#requestGeneration(id);
    if (type === FrameType.Get) {
      this.#get(id, group, key, timeoutMs, traceparent, generation);
      return;
    }
    // As for a GET, the frame's timeout runs from now, once the whole frame has
    // been read; the write is applied in this same step, so it cannot be late,
    // and the deadline is only passed on.
    const call = {
      deadline: timeoutMs > 0 ? this.#shared.clock.now() + timeoutMs : undefined,
      generation,
    };
    try {
      if (type === FrameType.Set) {
        // A view of the frame's bytes: the group copies what it keeps.
        const value = new Uint8Array(buf.buffer, buf.byteOffset + valueAt, end - valueAt);
        const at = Number.isFinite(expireAt) && expireAt > 0 ? expireAt : 0;
        group.setFromPeer(key, value, at, call);
      } else {
        group.removeFromPeer(key, call);
      }
    } catch (err) {
      this.#failWith(id, type === FrameType.Set ? 'Set' : 'Remove', err);
      return;
    }
    // The answer carries the group's generation, once it has been cleared.
    const ours = group.generation;
    if (ours) this.#send(encodeGeneration(id, ours));
    this.#send(encodeOk(id));
  }

  #get(
    id: number,
    group: PeerServedGroup,
    key: string,
    timeoutMs: number,
    traceparent: string | undefined,
    generation: number | undefined,
  ): void {
    if (this.#inFlight.size >= this.#shared.config.maxInFlight) {
      this.#fail(id, 'UNAVAILABLE', 'too many requests in flight on this connection');
      return;
    }
    // The request is its own call options: its signal is made only if the group
    // reads it, and a cache hit, answered at once, leaves no entry in the table.
    const pending = this.#inFlightOf(timeoutMs, traceparent, generation);
    let answer: PeerValue | Promise<PeerValue>;
    try {
      answer = answerPeer(group, key, pending);
    } catch (err) {
      answer = Promise.reject(err);
    }
    if (!isThenable(answer)) {
      this.#found(id, answer);
      return;
    }
    this.#track(id, pending, answer, (found) => this.#found(id, found), 'Get');
  }

  /**
   * inFlightOf is the call options of a request that came with `timeoutMs`, a trace
   * context and the client's generation of the group.
   */
  #inFlightOf(
    timeoutMs: number,
    traceparent: string | undefined,
    generation: number | undefined,
  ): InFlight {
    const pending = new InFlight(timeoutMs, this.#shared.clock.now());
    if (traceparent !== undefined) pending.traceparent = traceparent;
    if (generation !== undefined) pending.generation = generation;
    const outer = this.#shared.config.signal;
    if (outer.aborted) pending.abort(outer.reason);
    return pending;
  }

  /**
   * track keeps request `id` in flight (cancellable, its deadline watched) until `answer`
   * settles, then answers it with `found` or the failure, unless it was cancelled or
   * dropped meanwhile.
   */
  #track<T>(
    id: number,
    pending: InFlight,
    answer: PromiseLike<T>,
    found: (value: T) => void,
    method: string,
  ): void {
    const deadline = pending.deadline;
    if (this.#inFlight.size === 0) this.#timeouts.hold(true);
    this.#inFlight.set(id, pending);
    if (deadline !== undefined) this.#timeouts.schedule(deadline);
    answer.then(
      (value) => {
        if (!this.#settle(id, pending)) return;
        found(value);
        this.#endIfIdle();
      },
      (err: unknown) => {
        if (!this.#settle(id, pending)) return;
        this.#failWith(id, method, err);
        this.#endIfIdle();
      },
    );
  }

  /**
   * getMany answers a GET_MANY frame: a batch over the limits, of a group that is not
   * UTF-8 or not served, is refused whole; otherwise each key is answered on its own (a
   * bad key with its error; see {@link serveGetMany}), in one answer, as one request in
   * flight (one CANCEL, one deadline).
   */
  #getMany(id: number, buf: Buffer, at: number, end: number): void {
    const request = readGetMany(buf, at, end);
    if (typeof request === 'string') {
      this.#protocolError(request);
      return;
    }
    if (this.#inFlight.has(id)) {
      this.#protocolError(`request id ${id} is already in flight`);
      return;
    }
    if (this.#draining || this.#shared.closing) {
      this.#fail(id, 'UNAVAILABLE', 'peer server is closing');
      return;
    }
    const { keyAt, keyEnd } = request;
    const count = keyAt.length;
    let keyBytes = 0;
    for (let i = 0; i < count; i++) keyBytes += (keyEnd[i] as number) - (keyAt[i] as number);
    if (count > MAX_BATCH_KEYS || keyBytes > MAX_BATCH_KEY_BYTES) {
      this.#fail(
        id,
        'TOO_LARGE',
        `batch of ${count} keys (${keyBytes} bytes) is over the limit of ${MAX_BATCH_KEYS} keys and ${MAX_BATCH_KEY_BYTES} bytes`,
      );
      return;
    }
    const groupBytes = buf.subarray(request.groupAt, request.groupEnd);
    if (!isUtf8(groupBytes)) {
      this.#fail(id, 'INVALID_ARGUMENT', 'bad request: group is not UTF-8');
      return;
    }
    const groupName = groupBytes.toString('utf8');
    const group = this.#shared.groups.getGroup(groupName);
    if (group === undefined) {
      this.#fail(id, 'UNAVAILABLE', `no such group: ${groupName}`);
      return;
    }
    if (this.#inFlight.size >= this.#shared.config.maxInFlight) {
      this.#fail(id, 'UNAVAILABLE', 'too many requests in flight on this connection');
      return;
    }
    const limits = servedLimits(group, this.#shared.config);
    // Each key's entry: its refusal now, or (undefined) the group's answer later.
    const refused = new Array<ManyEntry | undefined>(count).fill(undefined);
    const keys: string[] = new Array(count);
    const served: string[] = [];
    for (let i = 0; i < count; i++) {
      const from = keyAt[i] as number;
      const to = keyEnd[i] as number;
      const problem: [ErrorCode, string] | undefined =
        to === from
          ? ['INVALID_ARGUMENT', 'bad request: empty key']
          : to - from > limits.maxKeyBytes
            ? ['TOO_LARGE', `key is over the limit of ${limits.maxKeyBytes} bytes`]
            : !isUtf8(buf.subarray(from, to))
              ? ['INVALID_ARGUMENT', 'bad request: key is not UTF-8']
              : undefined;
      if (problem !== undefined) {
        refused[i] = { status: statusOf(problem[0]), message: problem[1] };
        continue;
      }
      const key = buf.toString('utf8', from, to);
      keys[i] = key;
      served.push(key);
    }
    const trace = this.#trace;
    this.#trace = undefined;
    const generation = this.#generation === undefined ? undefined : this.#requestGeneration(id);
    const pending = this.#inFlightOf(
      request.timeoutMs,
      trace !== undefined && trace.id === id ? trace.traceparent : undefined,
      generation,
    );
    const room = Math.min(request.maxAnswerBytes, this.#shared.config.maxValueBytes);
    const answer = serveGetMany(group, served, pending, { maxValueBytes: limits.maxValueBytes });
    this.#track(
      id,
      pending,
      answer,
      (outcomes) => {
        // The answer carries one generation for all its values: the oldest.
        const found = oldestGeneration(outcomes.values());
        if (found) this.#send(encodeGeneration(id, found));
        const entries = refused.map((entry, i): ManyEntry => {
          if (entry !== undefined) return entry;
          const outcome = outcomes.get(keys[i] as string);
          if (outcome === undefined || outcome instanceof CacheError) {
            const e = toCacheError(outcome ?? 'no answer');
            return { status: statusOf(e.code), message: e.message };
          }
          return {
            status: OK,
            expireAt: outcome.expireAt,
            minuteQps: outcome.minuteQps,
            value: outcome.value,
          };
        });
        this.#send(encodeGetManyAnswer(id, entries, room));
      },
      'GetMany',
    );
  }

  /** found answers GET `id` with the value the group found. */
  #found(id: number, found: PeerValue): void {
    const limit = this.#shared.config.maxValueBytes;
    const n = found.value.byteLength;
    // The generation the value was found under goes first, once the group has been cleared.
    if (found.generation && n <= limit) this.#send(encodeGeneration(id, found.generation));
    if (n > limit) {
      this.#fail(id, 'TOO_LARGE', `value of ${n} bytes is over the limit of ${limit}`);
    } else if (n <= copyLimit) {
      const frame = encodeGetOkHeader(id, found.expireAt, found.minuteQps, n, n);
      frame.set(found.value, LENGTH_BYTES + HEADER_BYTES + GET_OK_FIXED_BYTES);
      this.#send(frame);
    } else {
      this.#send(encodeGetOkHeader(id, found.expireAt, found.minuteQps, n, 0), found.value);
    }
  }

  /** settle ends a GET's flight; false when it was cancelled or dropped (nothing to answer). */
  #settle(id: number, flight: InFlight): boolean {
    if (this.#inFlight.get(id) !== flight) return false;
    this.#untrack(id);
    return !this.#closed;
  }

  /** untrack forgets request `id`; the connection's timer stops holding the process when none is left. */
  #untrack(id: number): void {
    this.#inFlight.delete(id);
    if (this.#inFlight.size === 0) {
      this.#timeouts.hold(false);
      // Idle from now: the timer is usually armed earlier already (a load's deadline).
      this.#activeAt = this.#shared.clock.now();
      this.#timeouts.schedule(this.#activeAt + this.#shared.limits.idleTimeoutMs);
    }
  }

  /**
   * timeOut aborts the loads due by `now` (their answers still go out), and cuts
   * the connection if it is overdue; it returns the next deadline.
   */
  #timeOut(now: number): number {
    if (this.#closed) return Number.POSITIVE_INFINITY;
    const due = watchdogDeadline(
      {
        acceptedAt: this.#acceptedAt,
        helloed: this.#helloed,
        frameSince: this.#frameSince,
        busy: this.#inFlight.size > 0,
        activeAt: this.#activeAt,
      },
      this.#shared.limits,
    );
    if (due.at <= now && due.reason !== undefined) {
      this.#overdue(due.reason);
      return Number.POSITIVE_INFINITY;
    }
    let next = due.at;
    for (const f of this.#inFlight.values()) {
      if (f.aborted || f.deadline === undefined) continue;
      if (f.deadline <= now) {
        f.abort(new DeadlineExceededError(`peer request: deadline of ${f.timeoutMs} ms passed`));
      } else if (f.deadline < next) {
        next = f.deadline;
      }
    }
    return next;
  }

  /** overdue cuts the connection for taking too long; a timeout that a flood repeats is logged once per interval. */
  #overdue(reason: Overdue): void {
    const message =
      reason === 'handshake'
        ? 'peer connection closed: no HELLO in time'
        : reason === 'read'
          ? 'peer connection closed: a frame was not received in time'
          : 'peer connection closed: idle';
    const fields = {
      remote: `${this.#socket.remoteAddress}:${this.#socket.remotePort}`,
      limitMs:
        reason === 'handshake'
          ? this.#shared.limits.handshakeTimeoutMs
          : reason === 'read'
            ? this.#shared.limits.readTimeoutMs
            : this.#shared.limits.idleTimeoutMs,
    };
    if (reason === 'idle') {
      try {
        this.#shared.config.logger.debug(fields, message);
      } catch {
        // A failing logger changes nothing.
      }
    } else {
      const held = this.#shared.throttle.take(reason);
      if (held !== undefined)
        warn(this.#shared.config.logger, { ...fields, closedSinceLastLog: held }, message);
    }
    this.destroy(new CancelledError(message));
  }

  #failWith(id: number, method: string, err: unknown): void {
    const e = toCacheError(err);
    // A node that is leaving answers so by design: nothing to warn about.
    if (httpStatus[e.code] >= 500 && !peerLeaving(e)) {
      warn(this.#shared.config.logger, { err: e.message, method }, 'peer request failed');
    }
    this.#fail(id, e.code, e.message);
  }
}

/** warn logs, and never lets a failing logger take the server down. */
function warn(logger: Logger, fields: Record<string, unknown>, message: string): void {
  try {
    logger.warn(fields, message);
  } catch {
    // Nothing better to do.
  }
}

/** isThenable tells a promise (or any thenable) from a value given at once. */
function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}
