// body.test.ts: reading request bodies under a limit and a byte budget, over a real node:http server.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { type BudgetedBody, readBudgetedBody } from './body.js';
import { ByteBudget } from './byte-budget.js';

/** upload sends `chunks` to a server that reads the body with `read`, and returns what it read. */
async function upload(
  chunks: Buffer[],
  chunked: boolean,
  read: (req: IncomingMessage) => Promise<BudgetedBody>,
): Promise<BudgetedBody> {
  let result: BudgetedBody | undefined;
  const server = createServer(async (req, res) => {
    result = await read(req);
    res.setHeader('Connection', 'close');
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  try {
    await new Promise<void>((resolve) => {
      const req = request({
        port,
        host: '127.0.0.1',
        method: 'PUT',
        headers: chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': total },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      Readable.from(chunks).pipe(req);
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
  assert.ok(result);
  return result;
}

test('readBudgetedBody reserves a declared length before reading, and refuses what does not fit', async () => {
  const budget = new ByteBudget(1000);
  const ok = await upload([Buffer.alloc(600)], false, (req) =>
    readBudgetedBody(req, 10_000, budget),
  );
  assert.equal(ok.held, 600);
  assert.equal((ok.body as Uint8Array).byteLength, 600);
  assert.equal(budget.reserved, 600, 'held until the caller releases it');
  const refused = await upload([Buffer.alloc(600)], false, (req) =>
    readBudgetedBody(req, 10_000, budget),
  );
  assert.deepEqual(refused, { body: 'over-budget', held: 0 });
  budget.release(ok.held);
  assert.equal(budget.reserved, 0);
});

test('readBudgetedBody reserves a chunked body as it arrives and stops where it no longer fits', async () => {
  const budget = new ByteBudget(3000);
  const chunks = Array.from({ length: 8 }, () => Buffer.alloc(1000));
  const result = await upload(chunks, true, (req) => readBudgetedBody(req, 100_000, budget));
  assert.equal(result.body, 'over-budget');
  assert.ok(result.held <= 3000 && result.held > 0, `held ${result.held}`);
  assert.equal(budget.reserved, result.held);
  assert.ok(budget.peak <= budget.limit);
  budget.release(result.held);
  const small = await upload([Buffer.alloc(10), Buffer.alloc(20)], true, (req) =>
    readBudgetedBody(req, 100_000, budget),
  );
  assert.equal((small.body as Uint8Array).byteLength, 30);
  assert.equal(small.held, 30);
});

test('readBudgetedBody checks the size limit before the budget', async () => {
  const budget = new ByteBudget(10);
  const result = await upload([Buffer.alloc(100)], false, (req) =>
    readBudgetedBody(req, 50, budget),
  );
  assert.deepEqual(result, { body: 'too-large', held: 0 });
  assert.equal(budget.refused, 0);
});
