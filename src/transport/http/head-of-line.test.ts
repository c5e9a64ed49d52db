// head-of-line.test.ts: a hung request holds no other: gets of other keys go on other
// connections, and a call waiting for a connection still ends at its own deadline or abort.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { CancelledError, DeadlineExceededError } from '../../errors.js';
import { GetResponseSchema } from '../../proto/gen/groupcache_pb.js';
import { createHttpTransport } from './client.js';
import { startServer, type TestServer, utf8 } from './testing.js';

function answer(res: ServerResponse, value: string): void {
  res.writeHead(200, { 'content-type': 'application/x-protobuf' });
  res.end(toBinary(GetResponseSchema, create(GetResponseSchema, { value: utf8(value) })));
}

/** settled says, without waiting, whether `p` has settled. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const first = await Promise.race([
    p.then(
      () => 1,
      () => 1,
    ),
    Promise.resolve(pending),
  ]);
  return first !== pending;
}

describe('HTTP client: a hung request holds no other', () => {
  let server: TestServer;
  /** The responses of the requests for key `hang`, held until the test releases them. */
  const hung: ServerResponse[] = [];

  before(async () => {
    server = await startServer((req, res) => {
      const key = decodeURIComponent(req.url?.split('/').pop() ?? '');
      if (key === 'hang') hung.push(res);
      else answer(res, `v-${key}`);
    });
  });
  after(async () => {
    for (const res of hung) if (!res.writableEnded) answer(res, 'late');
    await server.close();
  });

  it('gets of other keys are answered while one request hangs', async () => {
    const transport = createHttpTransport();
    const client = transport.client(server.url);
    try {
      const hanging = client.get('g', 'hang');
      const others = await Promise.all(
        Array.from({ length: 32 }, (_, i) => client.get('g', `k${i}`)),
      );
      assert.deepEqual(
        others.map((v) => Buffer.from(v.value).toString()),
        Array.from({ length: 32 }, (_, i) => `v-k${i}`),
      );
      assert.equal(await settled(hanging), false, 'the hung request is still waiting');
      answer(hung.pop() as ServerResponse, 'at last');
      assert.equal(Buffer.from((await hanging).value).toString(), 'at last');
    } finally {
      await transport.close();
    }
  });

  it('a call queued behind a hung one ends at its own deadline or abort, not the hung one’s', async () => {
    // One connection, held by the hung request: the next calls wait for it in line.
    const transport = createHttpTransport({ connections: 1 });
    const client = transport.client(server.url);
    try {
      const hanging = client.get('g', 'hang');
      await waitFor(() => hung.length === 1);
      const controller = new AbortController();
      const aborted = client.get('g', 'k1', { signal: controller.signal });
      controller.abort();
      await assert.rejects(aborted, CancelledError);
      await assert.rejects(
        client.get('g', 'k2', { deadline: Date.now() + 50 }),
        DeadlineExceededError,
      );
      assert.equal(await settled(hanging), false, 'the hung request is still waiting');
      // Once the hung request is answered the connection serves the calls after it.
      answer(hung.pop() as ServerResponse, 'at last');
      assert.equal(Buffer.from((await hanging).value).toString(), 'at last');
      assert.equal(Buffer.from((await client.get('g', 'k3')).value).toString(), 'v-k3');
    } finally {
      await transport.close();
    }
  });
});

/** waitFor yields to the event loop until `check` holds (the server saw a request). */
async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}
