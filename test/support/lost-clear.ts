// lost-clear.ts: a transport wrapper that loses the clear notices sent to chosen peers, the
// fault the clear tests inject: everything else goes through to the real transport.
import type { PeerClient } from '../../src/core/peers.js';
import { UnavailableError } from '../../src/errors.js';
import type { PeerTransport } from '../../src/transport/transport.js';

/**
 * losingClears wraps `transport` so that the clear notices its clients send to the URLs
 * in `cut` are lost: they fail UNAVAILABLE, as an unreachable peer's would. Gets, sets
 * and removes to those peers still go through; the set can change at any time. Every
 * notice sent, lost or not, is recorded in `sent` (the peer's URL), when given.
 */
export function losingClears(
  transport: PeerTransport,
  cut: ReadonlySet<string>,
  sent?: string[],
): PeerTransport {
  return {
    name: transport.name,
    serve: (groups, options) => transport.serve(groups, options),
    close: () => transport.close(),
    client(url, options) {
      const inner = transport.client(url, options);
      const clear = inner.clear as NonNullable<PeerClient['clear']>;
      return {
        url,
        get: (g, k, o) => inner.get(g, k, o),
        set: (g, k, v, e, o) => inner.set(g, k, v, e, o),
        remove: (g, k, o) => inner.remove(g, k, o),
        clear: (g, gen, o) => {
          sent?.push(url);
          return cut.has(url)
            ? Promise.reject(new UnavailableError(`peer ${url}: the clear notice was lost`))
            : clear.call(inner, g, gen, o);
        },
        close: () => inner.close?.(),
      };
    },
  };
}
