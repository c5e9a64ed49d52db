// network.ts: the in-process "network" of the memory transport: an address book from
// `host:port` to the memory servers listening there.

import type { NodeStatsRequest } from '../../core/node-stats.js';
import type { CallOptions, PeerGetManyResult, PeerValue } from '../../core/peers.js';
import { AlreadyExistsError, InvalidArgumentError, UnavailableError } from '../../errors.js';

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
  | { readonly op: 'remove'; readonly group: string; readonly key: string }
  /** A group's clear notice (see `Group.clear`): no key; the generation travels in the call. */
  | { readonly op: 'clear'; readonly group: string; readonly key: ''; readonly generation: number }
  | { readonly op: 'getMany'; readonly group: string; readonly keys: readonly string[] };

/** MemoryAnswer is a server's answer: a get's value, a getMany's map, nothing for a write. */
export type MemoryAnswer = PeerValue | PeerGetManyResult | undefined;

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
  ): Promise<MemoryAnswer>;
  /**
   * stats answers a stats call with the node's report as it would travel on a
   * wire (JSON bytes). Optional: an endpoint without it does not know the call.
   */
  stats?(request: NodeStatsRequest): Uint8Array;
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
  /** Hung addresses, each with the requests and answers held until it resumes. */
  readonly #hung = new Map<string, Set<() => void>>();
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

  /**
   * dial returns the endpoint listening at `host:port`, or undefined when none
   * is. Its `exchange` passes through the address's hangs (see {@link hang}).
   */
  dial(host: string, port: number): MemoryEndpoint | undefined {
    const address = addressOf(normalHost(host), port);
    const endpoint = this.#endpoints.get(address);
    if (endpoint === undefined) return undefined;
    const exchange: MemoryEndpoint['exchange'] = (request, call) =>
      this.#carry(address, endpoint, request, call);
    const stats = endpoint.stats;
    if (stats === undefined) return { exchange };
    return {
      exchange,
      // A hung address answers no stats either (a real one would hold the call: a stats
      // call is only a console's, so it fails at once instead).
      stats: (request) => {
        if (this.#hung.has(address)) throw new UnavailableError(`${address} does not answer`);
        return stats.call(endpoint, request);
      },
    };
  }

  /**
   * hang makes `host:port` stop answering, as a process that is stopped
   * (SIGSTOP), swapping or cut off without a reset: it stays listening, so
   * clients still reach it, but requests sent to it and answers it had not yet
   * sent are held until {@link resume}. A held call ends only from the client's
   * side (its caller's abort, its deadline, its client closed), which is what
   * a peer health check has to notice. Hanging an address nobody listens on is
   * allowed (it hangs whoever listens there next); hanging twice is once.
   */
  hang(host: string, port: number): void {
    const address = addressOf(normalHost(host), port);
    if (!this.#hung.has(address)) this.#hung.set(address, new Set());
  }

  /** resume makes a hung `host:port` answer again: what it held goes on, in order. */
  resume(host: string, port: number): void {
    const address = addressOf(normalHost(host), port);
    const held = this.#hung.get(address);
    if (held === undefined) return;
    this.#hung.delete(address);
    for (const release of held) release();
  }

  /** hung tells whether `host:port` is hung. */
  hung(host: string, port: number): boolean {
    return this.#hung.has(addressOf(normalHost(host), port));
  }

  /**
   * carry delivers one request to `endpoint` and its answer back, each held
   * while the address is hung: a request sent to a hung address reaches the
   * server only once it resumes, and an answer ready while it is hung leaves
   * only then. A call its client ends while held is dropped there (the server
   * never sees a request held that way).
   */
  #carry(
    address: string,
    endpoint: MemoryEndpoint,
    request: MemoryRequest,
    call: CallOptions & { signal: AbortSignal },
  ): Promise<MemoryAnswer> {
    const held = this.#pass(address, call.signal);
    const answered =
      held === undefined
        ? endpoint.exchange(request, call)
        : held.then(() => endpoint.exchange(request, call));
    return answered.then(
      (value) => {
        const out = this.#pass(address, call.signal);
        return out === undefined ? value : out.then(() => value);
      },
      (err: unknown) => {
        const out = this.#pass(address, call.signal);
        if (out === undefined) throw err;
        return out.then(() => Promise.reject(err));
      },
    );
  }

  /**
   * pass resolves at once when `address` is not hung, else when it resumes; it
   * rejects with the signal's reason if the call ends first.
   */
  #pass(address: string, signal: AbortSignal): Promise<void> | undefined {
    const held = this.#hung.get(address);
    if (held === undefined) return undefined;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const release = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        held.delete(release);
        reject(signal.reason);
      };
      held.add(release);
      signal.addEventListener('abort', onAbort, { once: true });
    });
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
