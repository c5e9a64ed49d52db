// owner.ts: a peer server for the security tests: a real group whose loads are counted, behind a
// lookup that counts how often the server asked for any group at all.

import type { Group } from '../../src/core/group.js';
import { noopLogger } from '../../src/core/logger.js';
import type { GroupLookup } from '../../src/core/peers.js';
import { GroupRegistry } from '../../src/core/registry.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';

/** GROUP is the name of the owner's one group. */
export const GROUP = 'secure';

/** Owner is a group served to peers, and what the server did with it. */
export class Owner {
  readonly registry = new GroupRegistry();
  readonly group: Group;
  /** lookups counts the server's calls to getGroup: 0 means no request got past authentication. */
  lookups = 0;
  readonly lookup: GroupLookup;
  readonly #loads = new Map<string, number>();

  constructor() {
    this.group = this.registry.newGroup(GROUP, {
      cacheBytes: 1 << 20,
      load: (key) => {
        this.#loads.set(key, this.loadsOf(key) + 1);
        return `value of ${key}`;
      },
    });
    this.lookup = {
      getGroup: (name) => {
        this.lookups++;
        return this.registry.getGroup(name);
      },
    };
  }

  loadsOf(key: string): number {
    return this.#loads.get(key) ?? 0;
  }
}

/** serveOwner serves `owner` with `transport` on 127.0.0.1, port 0, and returns the server and its port. */
export async function serveOwner(
  transport: PeerTransport,
  owner: Owner,
): Promise<{ server: PeerServer; port: number }> {
  const server = await transport.serve(owner.lookup, {
    host: '127.0.0.1',
    port: 0,
    signal: new AbortController().signal,
    logger: noopLogger,
  });
  return { server, port: server.address.port };
}
