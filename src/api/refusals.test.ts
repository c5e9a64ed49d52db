// refusals.test.ts: the API server logs whom it refuses and why: a wrong token, a client
// certificate it does not accept; once per interval.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { makeTestCerts } from '../../test/support/certs.js';
import type { Logger } from '../core/logger.js';
import { createNode } from '../node/node.js';
import { startApiServer } from './server.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

function capture(): {
  logger: Logger;
  warnings: { msg: string; fields: Record<string, unknown> }[];
} {
  const warnings: { msg: string; fields: Record<string, unknown> }[] = [];
  const none = () => {};
  const logger = {
    debug: none,
    info: none,
    error: none,
    warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ msg, fields }),
  } as unknown as Logger;
  return { logger, warnings };
}

describe('the API server logs refusals', () => {
  test('a wrong token: 401 to the client, one line with its address on the server', async () => {
    const node = createNode();
    node.newGroup('g', { cacheBytes: 1024, load: (k) => k });
    const { logger, warnings } = capture();
    const api = await startApiServer(node, '127.0.0.1', 0, { token: 'the-token', logger });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${api.url}/api?key=k`, {
          headers: { authorization: 'Bearer not-the-token' },
        });
        assert.equal(res.status, 401);
        await res.arrayBuffer();
      }
      const lines = warnings.filter(
        (w) => w.msg === 'api request refused: missing or wrong API token',
      );
      assert.equal(lines.length, 1);
      assert.match(String(lines[0]?.fields.remote), /^127\.0\.0\.1:\d+$/);
    } finally {
      await api.close();
    }
  });

  test('mutual TLS: a client without a certificate is refused, and the reason logged', async () => {
    const node = createNode();
    node.newGroup('g', { cacheBytes: 1024, load: (k) => k });
    const { logger, warnings } = capture();
    const api = await startApiServer(node, '127.0.0.1', 0, {
      tls: { ...certs.node, ca: certs.ca, clientAuth: true },
      logger,
    });
    const bare = new Agent({ connect: { ca: certs.ca } });
    const expired = new Agent({ connect: { ca: certs.ca, ...certs.expired } });
    const good = new Agent({ connect: { ca: certs.ca, ...certs.client } });
    try {
      await assert.rejects(request(`${api.url}/api?key=k`, { dispatcher: bare }));
      await assert.rejects(request(`${api.url}/api?key=k`, { dispatcher: expired }));
      const reasons = warnings
        .filter((w) => w.msg === 'api connection refused: client certificate not accepted')
        .map((w) => w.fields.reason);
      assert.deepEqual(reasons, ['no client certificate', 'certificate has expired']);
      const ok = await request(`${api.url}/api?key=k`, { dispatcher: good });
      assert.equal(ok.statusCode, 200);
      assert.equal(await ok.body.text(), 'k');
    } finally {
      await Promise.all([bare.close(), expired.close(), good.close()]);
      await api.close();
    }
  });
});
