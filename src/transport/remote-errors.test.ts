// remote-errors.test.ts: every transport's client marks a peer's answer as remote (the
// caller takes it as final) and a peer that cannot serve the request as not remote
// (the caller may load the key itself).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { noopLogger } from '../core/logger.js';
import type { GroupLookup, PeerServedGroup } from '../core/peers.js';
import { InternalError, NotFoundError, peerUnreachable } from '../errors.js';
import { grpcTransport } from './grpc/transport.js';
import { httpTransport } from './http/transport.js';
import { tcpTransport } from './tcp/transport.js';
import type { PeerTransport } from './transport.js';

/** A group whose loader fails for `broken`, finds no `missing`, and serves the rest. */
const group: PeerServedGroup = {
  name: 'g',
  getForPeer: async (key) => {
    if (key === 'broken') throw new InternalError('load g/broken: the database is down');
    if (key === 'missing') throw new NotFoundError('not found: missing');
    return { value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 };
  },
  setFromPeer: () => {},
  removeFromPeer: () => {},
};
const lookup: GroupLookup = { getGroup: (name) => (name === 'g' ? group : undefined) };

const transports: [string, () => PeerTransport][] = [
  ['http', () => httpTransport()],
  ['grpc', () => grpcTransport()],
  ['tcp', () => tcpTransport()],
];

for (const [name, make] of transports) {
  describe(`${name} client: a peer's answer or a peer that cannot serve`, () => {
    const cleanup: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const c of cleanup.reverse()) await c();
    });

    async function started() {
      const t = make();
      const server = await t.serve(lookup, {
        host: '127.0.0.1',
        port: 0,
        signal: new AbortController().signal,
        logger: noopLogger,
      });
      cleanup.push(
        () => t.close(),
        () => server.close(0),
      );
      return { t, url: `http://127.0.0.1:${server.address.port}` };
    }

    it('the owner’s loader error and its not-found are remote: final for the caller', async () => {
      const { t, url } = await started();
      for (const [key, code] of [
        ['broken', 'INTERNAL'],
        ['missing', 'NOT_FOUND'],
      ] as const) {
        const err = await t
          .client(url)
          .get('g', key)
          .catch((e: unknown) => e);
        assert.ok(err instanceof Error && 'code' in err, String(err));
        assert.equal((err as InternalError).code, code, key);
        assert.equal((err as InternalError).remote, true, key);
        assert.equal(peerUnreachable(err), false, key);
      }
    });

    it('a group the peer does not serve, or a peer that is gone, is not remote: fall back', async () => {
      const { t, url } = await started();
      const noGroup = await t
        .client(url)
        .get('nope', 'k')
        .catch((e: unknown) => e);
      assert.equal(peerUnreachable(noGroup), true, String(noGroup));
      const gone = make();
      cleanup.push(() => gone.close());
      const dead = await gone
        .client('http://127.0.0.1:1')
        .get('g', 'k')
        .catch((e: unknown) => e);
      assert.equal(peerUnreachable(dead), true, String(dead));
    });
  });
}
