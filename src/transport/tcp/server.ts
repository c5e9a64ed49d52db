// server.ts: the tcp transport's server: reads pipelined GET/SET/REMOVE frames from each peer
// connection, answers them in any order, and closes a connection that breaks the framing.
import { isUtf8 } from 'node:buffer';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../../core/logger.js';
import type { CallOptions, GroupLookup, PeerServedGroup, PeerValue } from '../../core/peers.js';
import {
  CancelledError,
  DeadlineExceededError,
  type ErrorCode,
  httpStatus,
  toCacheError,
  UnavailableError,
} from '../../errors.js';
import { secretCheck } from '../../security/secret.js';
import type { ResolvedTls } from '../../security/tls.js';
import { ChurnMap } from '../../util/churn-map.js';
import { LazyAbort } from '../../util/lazy-abort.js';
import { SweepTimer } from '../../util/sweep-timer.js';
import type { PeerServer } from '../transport.js';
import {
  encodeError,
  encodeGetOkHeader,
  encodeOk,
  FrameReader,
  FrameType,
  GET_OK_FIXED_BYTES,
  HEADER_BYTES,
  LENGTH_BYTES,
  MAX_SECRET_BYTES,
  maxRequestFrame,
  PROTOCOL_VERSION,
  REQUEST_FIXED_BYTES,
  SET_FIXED_BYTES,
} from './frame.js';
import { Outbox } from './outbox.js';

/** Values up to this size are copied into their answer frame; larger ones go as their own chunk. */
const copyLimit = 16 * 1024;
/** How long an ended connection waits for its peer to close its side. */
const lingerMs = 10_000;

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
}

/** Shared is what every connection of one server reads. */
interface Shared {
  readonly groups: GroupLookup;
  readonly config: TcpServerConfig;
  readonly maxFrame: number;
  readonly authorized: ((secret: string) => boolean) | undefined;
  closing: boolean;
  readonly connections: Set<Connection>;
}

/**
 * serveTcp answers the tcp transport's frames on `host:port` for the groups
 * `groups` resolves, served locally and never forwarded. A connection that
 * breaks the framing (a bad length, an unknown type, a truncated payload, no
 * HELLO first) is closed with a logged warning; every other connection goes on.
 */
export async function serveTcp(groups: GroupLookup, config: TcpServerConfig): Promise<PeerServer> {
  const shared: Shared = {
    groups,
    config,
    maxFrame: maxRequestFrame(config.maxKeyBytes, config.maxValueBytes),
    authorized: authorizer(config.peerSecret),
    closing: false,
    connections: new Set(),
  };
  const onSocket = (socket: Socket) => {
    if (shared.closing) {
      socket.destroy();
      return;
    }
    shared.connections.add(new Connection(socket, shared));
  };
  const tls = config.tls;
  const server: Server =
    tls?.serving === true
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: tls.clientAuth,
            rejectUnauthorized: tls.clientAuth,
          },
          onSocket,
        )
      : createServer({ noDelay: true }, onSocket);
  server.on('tlsClientError', (err: Error) =>
    warn(config.logger, { err: err.message }, 'peer TLS handshake failed'),
  );
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
  let closing: Promise<void> | undefined;
  return {
    address,
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

  /** `timeoutMs` 0 means no deadline. */
  constructor(timeoutMs: number) {
    super();
    this.timeoutMs = timeoutMs;
    this.deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
  }
}

/** Connection serves one peer connection: its frames in, its answers out. */
class Connection {
  readonly #socket: Socket;
  readonly #shared: Shared;
  readonly #reader: FrameReader;
  readonly #outbox: Outbox;
  readonly #inFlight = new ChurnMap<number, InFlight>();
  /** Aborts loads whose deadline passed; one timer for the connection. */
  readonly #timeouts = new SweepTimer((now) => this.#timeOut(now));
  #helloed = false;
  #closed = false;
  #draining = false;

  constructor(socket: Socket, shared: Shared) {
    this.#socket = socket;
    this.#shared = shared;
    this.#outbox = new Outbox(socket);
    this.#reader = new FrameReader(shared.maxFrame, (buf, start, end) =>
      this.#frame(buf, start, end),
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => {
      const problem = this.#reader.push(chunk);
      if (problem !== undefined) this.#protocolError(problem);
    });
    socket.on('error', () => this.destroy(new UnavailableError('peer connection failed')));
    socket.on('close', () => {
      shared.connections.delete(this);
      this.destroy(new CancelledError('peer connection closed'));
    });
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
      for (const f of this.#inFlight.values()) f.abort(reason);
      this.#inFlight.clear();
      this.#timeouts.stop();
    }
    this.#socket.destroy();
  }

  #endIfIdle(): void {
    if (!this.#draining || this.#closed || this.#inFlight.size > 0) return;
    this.#closed = true;
    this.#reader.stop();
    this.#outbox.end();
    // A peer that never closes its side is not waited for long.
    this.#socket.setTimeout(lingerMs, () => this.#socket.destroy());
  }

  #protocolError(problem: string): void {
    if (this.#closed) return;
    warn(
      this.#shared.config.logger,
      { remote: `${this.#socket.remoteAddress}:${this.#socket.remotePort}`, problem },
      'peer connection closed: malformed frame',
    );
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
    }
    this.#protocolError(`unexpected frame type ${type} of ${end - start} bytes`);
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
    if (version !== PROTOCOL_VERSION) {
      this.#fail(0, 'INVALID_ARGUMENT', `unsupported protocol version ${version}`);
      this.drain();
      return;
    }
    const authorized = this.#shared.authorized;
    if (authorized !== undefined && !authorized(buf.toString('latin1', at + 4, end))) {
      this.#fail(0, 'UNAUTHENTICATED', 'unauthenticated: missing or wrong peer secret');
      this.drain();
      return;
    }
    this.#helloed = true;
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
    const key = buf.toString('utf8', keyAt, valueAt);
    if (type === FrameType.Get) {
      this.#get(id, group, key, timeoutMs);
      return;
    }
    try {
      if (type === FrameType.Set) {
        // A view of the frame's bytes: the group copies what it keeps.
        const value = new Uint8Array(buf.buffer, buf.byteOffset + valueAt, end - valueAt);
        group.setFromPeer(key, value, Number.isFinite(expireAt) && expireAt > 0 ? expireAt : 0);
      } else {
        group.removeFromPeer(key);
      }
    } catch (err) {
      this.#failWith(id, type === FrameType.Set ? 'Set' : 'Remove', err);
      return;
    }
    this.#send(encodeOk(id));
  }

  #get(id: number, group: PeerServedGroup, key: string, timeoutMs: number): void {
    if (this.#inFlight.size >= this.#shared.config.maxInFlight) {
      this.#fail(id, 'UNAVAILABLE', 'too many requests in flight on this connection');
      return;
    }
    // The request is its own call options: its signal is made only if the group
    // reads it, and a cache hit, answered at once, leaves no entry in the table.
    const pending = new InFlight(timeoutMs);
    const outer = this.#shared.config.signal;
    if (outer.aborted) pending.abort(outer.reason);
    let answer: PeerValue | Promise<PeerValue>;
    try {
      answer = group.getForPeer(key, pending);
    } catch (err) {
      answer = Promise.reject(err);
    }
    if (!isThenable(answer)) {
      this.#found(id, answer);
      return;
    }
    const deadline = pending.deadline;
    if (this.#inFlight.size === 0) this.#timeouts.hold(true);
    this.#inFlight.set(id, pending);
    if (deadline !== undefined) this.#timeouts.schedule(deadline);
    answer.then(
      (found) => {
        if (!this.#settle(id, pending)) return;
        this.#found(id, found);
        this.#endIfIdle();
      },
      (err: unknown) => {
        if (!this.#settle(id, pending)) return;
        this.#failWith(id, 'Get', err);
        this.#endIfIdle();
      },
    );
  }

  /** found answers GET `id` with the value the group found. */
  #found(id: number, found: PeerValue): void {
    const limit = this.#shared.config.maxValueBytes;
    const n = found.value.byteLength;
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
    if (this.#inFlight.size === 0) this.#timeouts.hold(false);
  }

  /** timeOut aborts the loads due by `now` (their answers still go out); it returns the next deadline. */
  #timeOut(now: number): number {
    let next = Number.POSITIVE_INFINITY;
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

  #failWith(id: number, method: string, err: unknown): void {
    const e = toCacheError(err);
    if (httpStatus[e.code] >= 500) {
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
