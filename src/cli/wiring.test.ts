// wiring.test.ts: the pieces `peercache node` and `peercache gateway` build alike:
// loopback detection, the open-door and secret-flag warnings, the transports and API TLS.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Logger, noopLogger } from '../core/logger.js';
import type { HttpPeerServer } from '../transport/http/transport.js';
import {
  apiTlsOf,
  isLoopback,
  peerHealthOptions,
  peerOptions,
  warnOpenDoors,
  warnSecretFlags,
} from './wiring.js';

function recorder(): { logger: Logger; warned: Array<[Record<string, unknown>, string]> } {
  const warned: Array<[Record<string, unknown>, string]> = [];
  const nothing = () => {};
  return {
    logger: { debug: nothing, info: nothing, error: nothing, warn: (f, m) => warned.push([f, m]) },
    warned,
  };
}

describe('isLoopback', () => {
  test('127.0.0.0/8, ::1 (also mapped) and localhost are loopback; the rest is not', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost']) {
      assert.equal(isLoopback(a), true, a);
    }
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', '::ffff:10.0.0.1', 'fe80::1']) {
      assert.equal(isLoopback(a), false, a);
    }
    assert.equal(isLoopback('cache-1.internal'), false);
    assert.equal(isLoopback('128.0.0.1'), false);
  });
});

describe('warnOpenDoors', () => {
  test('warns about an unguarded server beyond loopback only', () => {
    const { logger, warned } = recorder();
    const n = warnOpenDoors(logger, [
      { what: 'peer server', address: { address: '0.0.0.0', port: 1 }, guarded: false },
      { what: 'API', address: { address: '::', port: 2 }, guarded: false },
      { what: 'peer server', address: { address: '0.0.0.0', port: 3 }, guarded: true },
      { what: 'API', address: { address: '127.0.0.1', port: 4 }, guarded: false },
    ]);
    assert.equal(n, 2);
    assert.deepEqual(
      warned.map(([f]) => f.listen),
      ['0.0.0.0:1', ':::2'],
    );
    assert.match(warned[0]![1], /^the peer server listens beyond loopback/);
    assert.match(warned[1]![1], /^the API listens beyond loopback/);
  });
});

describe('warnSecretFlags', () => {
  test('one warning per secret flag, naming its environment variable', () => {
    const { logger, warned } = recorder();
    warnSecretFlags(logger, ['--peer-secret', '--api-token', '--etcd-password']);
    assert.deepEqual(
      warned.map(([f]) => [f.flag, f.env]),
      [
        ['--peer-secret', 'PEERCACHE_PEER_SECRET'],
        ['--api-token', 'PEERCACHE_API_TOKEN'],
        ['--etcd-password', 'PEERCACHE_ETCD_PASSWORD'],
      ],
    );
  });
});

describe('peerOptions and apiTlsOf', () => {
  test('each --transport value builds its transport', async () => {
    for (const name of ['grpc', 'tcp', 'http'] as const) {
      const { transport } = peerOptions({ transport: name, peerSecret: 's' }, undefined);
      assert.equal(transport?.name, name);
      await transport?.close();
    }
  });

  test('the HTTP transport gets the secret, the base path and the peer server limits', async () => {
    const { transport } = peerOptions(
      { transport: 'http', peerSecret: 's3cret', basePath: '/cache/' },
      undefined,
      { maxConnections: 9 },
    );
    assert.ok(transport !== undefined);
    const served = {
      name: 'g',
      getForPeer: (key: string) => ({ value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 }),
      setFromPeer: () => {},
      removeFromPeer: () => {},
    };
    const server = (await transport.serve(
      { getGroup: (name) => (name === 'g' ? served : undefined) },
      { host: '127.0.0.1', port: 0, signal: new AbortController().signal, logger: noopLogger },
    )) as HttpPeerServer;
    try {
      assert.equal(server.stats().maxConnections, 9);
      const url = `http://127.0.0.1:${server.address.port}`;
      const got = await transport.client(url).get('g', 'k');
      assert.equal(Buffer.from(got.value).toString(), 'v:k');
      const bare = await fetch(`${url}/cache/g/k`);
      assert.equal(bare.status, 401, 'a request without the secret is refused');
      await bare.body?.cancel();
    } finally {
      await server.close(0);
      await transport.close();
    }
  });

  test('the HTTP transport speaks the dialect of the Go lineage whose ring --ring names', async () => {
    const served = {
      name: 'g',
      getForPeer: () => ({ value: Buffer.from('v'), expireAt: 0, minuteQps: 0 }),
      setFromPeer: () => {},
      removeFromPeer: () => {},
    };
    const statuses: Record<string, number> = {};
    for (const ring of ['golang', 'balanced', 'mailgun', 'groupcache-go'] as const) {
      const { transport } = peerOptions(
        { transport: 'http', peerSecret: undefined, ring },
        undefined,
      );
      assert.ok(transport !== undefined);
      const server = await transport.serve(
        { getGroup: (name) => (name === 'g' ? served : undefined) },
        { host: '127.0.0.1', port: 0, signal: new AbortController().signal, logger: noopLogger },
      );
      try {
        // Only groupcache-go's dialect serves its batch remove.
        const res = await fetch(
          `http://127.0.0.1:${server.address.port}/_groupcache/g/_remove-keys/`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ group: 'g', keys: ['a'] }),
          },
        );
        await res.body?.cancel();
        statuses[ring] = res.status;
      } finally {
        await server.close(0);
        await transport.close();
      }
    }
    assert.equal(statuses['groupcache-go'], 200);
    for (const ring of ['golang', 'balanced', 'mailgun']) assert.equal(statuses[ring], 405, ring);
  });

  test('the API gets the certificate and key with --api-tls, never client auth', () => {
    const tls = { cert: 'C', key: 'K', ca: 'A', clientAuth: true };
    assert.deepEqual(apiTlsOf({ apiTls: true }, tls), { cert: 'C', key: 'K' });
    assert.equal(apiTlsOf({ apiTls: false }, tls), undefined);
    assert.equal(apiTlsOf({ apiTls: true }, undefined), undefined);
  });
});

describe('peerHealthOptions', () => {
  test('passes the timeout on and turns health tracking off only when asked', () => {
    assert.deepEqual(peerHealthOptions({ peerTimeoutMs: 2_000, peerHealth: true }), {
      peerTimeoutMs: 2_000,
      peerHealth: undefined,
    });
    assert.deepEqual(peerHealthOptions({ peerTimeoutMs: undefined, peerHealth: false }), {
      peerTimeoutMs: undefined,
      peerHealth: { enabled: false },
    });
  });
});
