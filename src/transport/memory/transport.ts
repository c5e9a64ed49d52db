// transport.ts: the memory transport as a PeerTransport: nodes in one process reach each other
// through a shared MemoryNetwork, with no socket and no port.

import type { GroupLookup, PeerClient } from '../../core/peers.js';
import { InvalidArgumentError } from '../../errors.js';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_WIRE_MAX_VALUE_BYTES } from '../../limits.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { clientCache } from '../clients.js';
import type { PeerTransport, ServeOptions } from '../transport.js';
import { type MemoryClientConfig, MemoryPeerClient } from './client.js';
import type { MemoryNetwork } from './network.js';
import { type MemoryPeerServer, serveMemory } from './server.js';

/** MemoryTransportOptions configure {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /**
   * maxValueBytes is the ceiling of a value sent or accepted, both ways; each
   * request is held to its group's `maxValueBytes` within it. Defaults to 256 MiB.
   */
  maxValueBytes?: number;
  /**
   * maxKeyBytes is the ceiling of a key sent or served, in UTF-8 bytes; each
   * request is held to its group's `maxKeyBytes` within it. Defaults to 4096.
   */
  maxKeyBytes?: number;
  /**
   * requestTimeoutMs bounds each call in addition to the caller's deadline; the
   * earlier of the two travels to the peer, and passing it fails the call with
   * DeadlineExceededError. `Infinity` disables it. Defaults to 10 000.
   */
  requestTimeoutMs?: number;
  /** clock reads the time and runs the calls' deadlines; give it the node's. Default {@link systemClock}. */
  clock?: Clock | undefined;
}

/** MemoryTransport is the memory {@link PeerTransport}; its servers tell their gets in flight. */
export interface MemoryTransport extends PeerTransport {
  serve(groups: GroupLookup, options: ServeOptions): Promise<MemoryPeerServer>;
}

/**
 * memoryTransport builds the memory peer transport (name `memory`) on
 * `network`: `serve()` listens on the node's `host:port` of the network, and a
 * client reaches the server at the host and port of its peer URL. Nodes made
 * with transports on one network form a cluster in one process, with no
 * ports, for tests and embedding; it behaves as the socket transports do
 * (deadlines, cancellation, limits, copies of the bytes, errors) and passes
 * the same conformance suite. Give each node a transport of its own. Throws
 * InvalidArgumentError on a bad option.
 */
export function memoryTransport(
  network: MemoryNetwork,
  options: MemoryTransportOptions = {},
): MemoryTransport {
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
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  if (!(requestTimeoutMs > 0)) {
    throw new InvalidArgumentError(`requestTimeoutMs must be positive: ${requestTimeoutMs}`);
  }
  const config: MemoryClientConfig = {
    network,
    maxKeyBytes,
    maxValueBytes,
    requestTimeoutMs,
    clock: options.clock ?? systemClock,
  };
  const clients = clientCache((url) => new MemoryPeerClient(url, config));
  return {
    name: 'memory',
    client: (url: string): PeerClient => clients.get(url),
    async serve(groups: GroupLookup, serve: ServeOptions): Promise<MemoryPeerServer> {
      return serveMemory(groups, {
        network,
        host: serve.host,
        port: serve.port,
        signal: serve.signal,
        logger: serve.logger,
        maxKeyBytes,
        maxValueBytes,
      });
    },
    close: () => clients.closeAll(),
  };
}
