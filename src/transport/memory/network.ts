// network.ts: the in-process "network" of the memory transport: an address book from
// `host:port` to the memory servers listening there.

import type { CallOptions, PeerValue } from '../../core/peers.js';
import { AlreadyExistsError, InvalidArgumentError } from '../../errors.js';

/** MemoryRequest is one peer request as it crosses a {@link MemoryNetwork}. */
export type MemoryRequest =
  | { readonly op: 'get'; readonly group: string; readonly key: string }
  | {
      readonly op: 'set';
      readonly group: string;
      readonly key: string;
      readonly value: Uint8Array;
      readonly expireAt: number;
    }
  | { readonly op: 'remove'; readonly group: string; readonly key: string };

/**
 * MemoryEndpoint is what listens on an address of a {@link MemoryNetwork}: a
 * memory transport's server. `exchange` answers one request; `call.signal`
 * aborts when the client gives up on it (its caller cancelled, its deadline
 * passed, its client closed), and `call.deadline` is the client's deadline.
 */
export interface MemoryEndpoint {
  exchange(
    request: MemoryRequest,
    call: CallOptions & { signal: AbortSignal },
  ): Promise<PeerValue | undefined>;
}

/** The first port handed out for `port: 0`, above the well-known and registered ranges. */
const FIRST_EPHEMERAL_PORT = 49_152;

/**
 * MemoryNetwork is an in-process network: {@link memoryTransport}s made with the
 * same network reach each other's servers by the host and port of a peer URL,
 * with no socket. Hosts are compared as written (lower-cased, without IPv6
 * brackets): there are no interfaces, so `localhost` and `127.0.0.1` are two
 * hosts, and `0.0.0.0` is a host like any other. Share one network between the
 * nodes of a test or an embedded cluster; each node still gets a transport of its own.
 */
export class MemoryNetwork {
  readonly #endpoints = new Map<string, MemoryEndpoint>();
  #nextPort = FIRST_EPHEMERAL_PORT;

  /**
   * listen attaches `endpoint` at `host:port` and returns the address it got;
   * port 0 picks an unused port. An address already taken is an AlreadyExistsError,
   * a port outside 0–65535 an InvalidArgumentError.
   */
  listen(host: string, port: number, endpoint: MemoryEndpoint): { host: string; port: number } {
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new InvalidArgumentError(`port must be an integer from 0 to 65535: ${port}`);
    }
    const h = normalHost(host);
    const p = port === 0 ? this.#freePort(h) : port;
    const address = addressOf(h, p);
    if (this.#endpoints.has(address)) {
      throw new AlreadyExistsError(`address ${address} is already in use on this memory network`);
    }
    this.#endpoints.set(address, endpoint);
    return { host: h, port: p };
  }

  /** unlisten detaches `endpoint` from `host:port`, if it is the one listening there. */
  unlisten(host: string, port: number, endpoint: MemoryEndpoint): void {
    const address = addressOf(normalHost(host), port);
    if (this.#endpoints.get(address) === endpoint) this.#endpoints.delete(address);
  }

  /** dial returns the endpoint listening at `host:port`, or undefined when none is. */
  dial(host: string, port: number): MemoryEndpoint | undefined {
    return this.#endpoints.get(addressOf(normalHost(host), port));
  }

  /** addresses lists the addresses listened on, as `host:port`. */
  addresses(): string[] {
    return [...this.#endpoints.keys()];
  }

  #freePort(host: string): number {
    for (let tries = 0; tries <= 65_535 - FIRST_EPHEMERAL_PORT; tries++) {
      const port = this.#nextPort;
      this.#nextPort = port >= 65_535 ? FIRST_EPHEMERAL_PORT : port + 1;
      if (!this.#endpoints.has(addressOf(host, port))) return port;
    }
    throw new AlreadyExistsError(`no free port left on host ${host} of this memory network`);
  }
}

/** familyOf is the address family a memory server reports for `host`. */
export function familyOf(host: string): 'IPv4' | 'IPv6' {
  // node:net is loaded here, not imported: the core entry exports this transport,
  // and a local cache should not pay for node:net (and node:stream) at import.
  return process.getBuiltinModule('node:net').isIP(host) === 6 ? 'IPv6' : 'IPv4';
}

function normalHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

function addressOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
