// dial.ts: how the tcp transport opens a connection to a peer: plain TCP or TLS to the host and
// port of its base URL, the HELLO that goes first on it, and a connect timeout on the clock.
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { RingKind } from '../../ring/owner-ring.js';
import type { ResolvedTls } from '../../security/tls.js';
import { peerEndpoint } from '../../util/address.js';
import type { Clock } from '../../util/clock.js';
import { encodeHello } from './frame.js';

/** PeerAddress is where a peer is dialled: the host and port of its base URL, TLS for `https://`. */
export interface PeerAddress {
  /** The peer's base URL, as its errors name it. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
}

/**
 * peerAddress reads a peer's base URL, `http(s)://host[:port]` (port 80 or 443 when
 * left out). Throws InvalidArgumentError for anything else.
 */
export function peerAddress(baseUrl: string): PeerAddress {
  const { host, port, secure } = peerEndpoint(baseUrl);
  return { url: baseUrl, host, port, secure };
}

/** DialConfig is what every dial of one transport shares. */
export interface DialConfig {
  /** TLS for `https://` peers: the CA to check them against, our certificate if asked. */
  tls: ResolvedTls | undefined;
  peerSecret: string | undefined;
  /** The node's ring kind, announced in the HELLO; a server with another refuses the connection. */
  ring?: RingKind | undefined;
  /** How long a dial may wait for the peer to accept the TCP connection before it is dropped. */
  connectTimeoutMs: number;
  /** Runs the connect timeout. */
  clock: Clock;
}

/** DialEvents is what a dial tells the one who asked for it. */
export interface DialEvents {
  /** connected: the connection may carry requests (with TLS, its handshake is done); not after `stop`. */
  connected?(): void;
  /** timedOut: the peer has not accepted the TCP connection within the connect timeout; not after `stop`. */
  timedOut(): void;
  /**
   * read: bytes arrived. `chunk` is valid only during the call: a plain connection
   * reads into one buffer of its own, again and again, so that a read costs no
   * allocation (and the garbage collector no ArrayBuffer); keep nothing of it uncopied.
   */
  read(chunk: Buffer): void;
}

/** READ_BUFFER_BYTES is the size of the buffer a plain connection reads into. */
const READ_BUFFER_BYTES = 64 * 1024;

/** Dial is a connection being opened. */
export interface Dial {
  readonly socket: Socket;
  /** hello is the HELLO frame to send first on it: the config's secret and ring, the dial's version. */
  readonly hello: Buffer;
  /** stop ends the dial's part (its connect timer): the connection is dropped or done with. */
  stop(): void;
}

/**
 * dialPeer opens a connection to `address` (TLS for a secure one, checked against
 * `config.tls` and the host's name) whose HELLO announces protocol `version`. A peer
 * that has not accepted the TCP connection within `config.connectTimeoutMs` is told by
 * `events.timedOut`: its SYN went unanswered (a peer cut off, a host gone), and the
 * kernel would retry only after a backoff that doubles each time, so the caller drops
 * the dial instead. What arrives goes to `events.read`; the socket's other events
 * (error, close) are the caller's.
 */
export function dialPeer(
  address: PeerAddress,
  config: DialConfig,
  version: number,
  events: DialEvents,
): Dial {
  const { host, port, secure } = address;
  const socket = secure
    ? connectTls({
        host,
        port,
        ca: config.tls?.ca,
        cert: config.tls?.cert,
        key: config.tls?.key,
        ...(isIP(host) === 0 ? { servername: host } : {}),
      })
    : connectTcp({
        host,
        port,
        noDelay: true,
        onread: {
          buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
          callback: (n: number, buffer: Uint8Array) => {
            events.read((buffer as Buffer).subarray(0, n));
            return true;
          },
        },
      });
  // TLS decrypts into chunks of its own.
  if (secure) socket.on('data', (chunk: Buffer) => events.read(chunk));
  socket.setNoDelay(true);
  // An idle connection to a peer that vanished without a reset is noticed within about
  // 15 s: probes after 5 s of silence, then (as libuv sets them on Linux) 10 a second apart.
  socket.setKeepAlive(true, 5_000);
  const clock = config.clock;
  let accepted = false;
  let stopped = false;
  let timer: unknown;
  const stopTimer = () => {
    if (timer === undefined) return;
    clock.clearTimeout(timer);
    timer = undefined;
  };
  socket.once('connect', () => {
    accepted = true;
    stopTimer();
  });
  socket.once(secure ? 'secureConnect' : 'connect', () => {
    if (!stopped) events.connected?.();
  });
  // The verdict waits for setImmediate, which runs after the event loop has polled the
  // sockets: when this process was busy past the timeout, a connection the peer accepted
  // meanwhile is seen as made before it could be dropped for being late.
  timer = clock.setTimeout(() => {
    timer = undefined;
    setImmediate(() => {
      if (!accepted && !stopped) events.timedOut();
    });
  }, config.connectTimeoutMs);
  return {
    socket,
    hello: encodeHello(config.peerSecret, config.ring, version),
    stop() {
      stopped = true;
      stopTimer();
    },
  };
}
