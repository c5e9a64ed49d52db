// http.test.ts: the transport conformance suite run against the HTTP transport in each
// dialect, plus the Peercache-Timeout header that carries a caller's time left to the owner.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { noopLogger } from '../../src/core/logger.js';
import type { CallOptions, GroupLookup } from '../../src/core/peers.js';
import { HTTP_DIALECTS, httpTransport } from '../../src/transport/http/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { rawRequest } from '../support/raw-http.js';
import { HTTP_WITHOUT_GET_MANY, runTransportConformance } from './transport-suite.js';

for (const dialect of HTTP_DIALECTS) {
  // Each dialect end to end: peercache speaking it to peercache, on the wire as that lineage.
  runTransportConformance(`http (${dialect})`, (limits) => httpTransport({ ...limits, dialect }), {
    sendMalformed,
    withoutGetMany: HTTP_WITHOUT_GET_MANY,
  });
}

/** sendMalformed sends what no client of ours would; the server must answer it and live. */
async function sendMalformed(baseUrl: string): Promise<void> {
  const origin = new URL(baseUrl);
  // Not HTTP at all.
  await new Promise<void>((resolve) => {
    const socket = connect(Number(origin.port), origin.hostname, () => {
      socket.end('\x16\x03\x01 not http at all\r\n\r\n');
    });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.resume();
  });
  const answers = await Promise.all([
    // Malformed escapes, a missing key separator, a garbage SetRequest, a bad method.
    rawRequest({ origin: baseUrl, method: 'GET', target: '/_groupcache/conformance/%zz' }),
    rawRequest({ origin: baseUrl, method: 'GET', target: '/_groupcache/conformance' }),
    rawRequest({
      origin: baseUrl,
      method: 'PUT',
      target: '/_groupcache/conformance/k',
      headers: { 'content-length': '3' },
      body: Uint8Array.from([0xff, 0xff, 0xff]),
    }),
    rawRequest({ origin: baseUrl, method: 'PATCH', target: '/_groupcache/conformance/k' }),
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [400, 400, 400, 405],
  );
}

describe('the Peercache-Timeout header', () => {
  let server: PeerServer;
  let transport: PeerTransport;
  let origin: string;
  const seen: (CallOptions | undefined)[] = [];
  const aborted: unknown[] = [];

  // A group that waits for its signal, and records what each call was given.
  const lookup: GroupLookup = {
    getGroup: (name) =>
      name !== 'g'
        ? undefined
        : {
            name,
            getForPeer: (_key, options) => {
              seen.push(options);
              return new Promise((_, reject) => {
                options?.signal?.addEventListener('abort', () => {
                  aborted.push(options.signal?.reason);
                  reject(options.signal?.reason);
                });
              });
            },
            setFromPeer: () => {},
            removeFromPeer: () => {},
          },
  };

  before(async () => {
    transport = httpTransport();
    server = await transport.serve(lookup, {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    origin = `http://127.0.0.1:${server.address.port}`;
  });
  after(async () => {
    await server.close(0);
    await transport.close();
  });

  it('makes the owner stop waiting and answer 504 when the time is up', async () => {
    const sent = Date.now();
    const res = await rawRequest({
      origin,
      method: 'GET',
      target: '/_groupcache/g/k',
      headers: { 'peercache-timeout': '150' },
    });
    assert.equal(res.status, 504);
    const deadline = seen.at(-1)?.deadline ?? 0;
    assert.ok(Math.abs(deadline - (sent + 150)) < 250, `deadline ${deadline}`);
    assert.equal((aborted.at(-1) as { code?: string }).code, 'DEADLINE_EXCEEDED');
  });

  it('a malformed value is ignored, as Go ignores the header', async () => {
    for (const value of ['soon', '-5', '1.5', '123456789', '']) {
      const before = aborted.length;
      const controller = new AbortController();
      const call = fetch(`${origin}/_groupcache/g/k`, {
        headers: { 'peercache-timeout': value },
        signal: controller.signal,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(seen.at(-1)?.deadline, undefined, `deadline from ${JSON.stringify(value)}`);
      assert.equal(aborted.length, before, `aborted by ${JSON.stringify(value)}`);
      // Leaving aborts the owner's wait: let that land before the next value.
      controller.abort();
      await call;
      while (aborted.length === before) await new Promise((r) => setTimeout(r, 5));
    }
  });

  it('the client sends the earlier of its deadline and requestTimeoutMs', async () => {
    const client = transport.client(origin);
    const deadline = Date.now() + 200;
    await assert.rejects(client.get('g', 'k', { deadline }), { code: 'DEADLINE_EXCEEDED' });
    assert.ok(Math.abs((seen.at(-1)?.deadline ?? 0) - deadline) < 250);
    // With no caller deadline, the default requestTimeoutMs (10 s) travels.
    const controller = new AbortController();
    const sent = Date.now();
    const call = client.get('g', 'k2', { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(Math.abs((seen.at(-1)?.deadline ?? 0) - (sent + 10_000)) < 250);
    controller.abort();
    await assert.rejects(call, { code: 'CANCELLED' });
  });
});
