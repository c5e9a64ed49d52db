// memory.ts: an in-memory transport, for tests and for several nodes in one
// process: clients call the target's groups directly, copying bytes as a network would.

import type { CallOptions, GroupLookup, PeerClient, PeerValue } from '../../core/peers.js';
import { errorFromCode, isCacheError, UnavailableError } from '../../errors.js';

/**
 * MemoryTransport is a switchboard: `serve(url, groups)` attaches a node's groups
 * under `url`; `client(url)` reaches them. A URL with nothing attached answers
 * like a peer that is down (UnavailableError).
 */
export class MemoryTransport {
  readonly #nodes = new Map<string, GroupLookup>();
  /** Counts calls per target URL, for tests. */
  readonly calls = new Map<string, number>();

  /** serve attaches `groups` under `url`; returns a function that detaches them. */
  serve(url: string, groups: GroupLookup): () => void {
    this.#nodes.set(url, groups);
    return () => {
      if (this.#nodes.get(url) === groups) this.#nodes.delete(url);
    };
  }

  /**
   * client returns a fresh PeerClient for `url` (nothing is cached); once it is
   * closed, its calls fail like calls to a peer that is down.
   */
  client(url: string): PeerClient & { close(): void } {
    let closed = false;
    const target = (group: string) => {
      if (closed) throw new UnavailableError(`peer ${url}: the client is closed`);
      this.calls.set(url, (this.calls.get(url) ?? 0) + 1);
      const node = this.#nodes.get(url);
      if (node === undefined) throw new UnavailableError(`peer ${url} is unreachable`);
      const g = node.getGroup(group);
      if (g === undefined) throw new UnavailableError(`no such group: ${group}`);
      return g;
    };
    return {
      url,
      async get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
        const served = target(group);
        let got: PeerValue;
        try {
          got = await served.getForPeer(key, options);
        } catch (err) {
          // The peer's answer, as a network client would decode it.
          throw isCacheError(err) ? errorFromCode(err.code, err.message, { remote: true }) : err;
        }
        return { ...got, value: got.value.slice() };
      },
      async set(group, key, value, expireAt) {
        target(group).setFromPeer(key, value.slice(), expireAt);
      },
      async remove(group, key) {
        target(group).removeFromPeer(key);
      },
      close() {
        closed = true;
      },
    };
  }
}
