// origin.test.ts: the HTTP origin loader against a real local server.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort } from '../../test/support/process.js';
import { createOriginLoader, type OriginLoader } from './origin.js';

let server: Server;
let base: string;
let loader: OriginLoader;
const seen: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    seen.push(url);
    if (url === '/db/scores/Tom') return res.end('630');
    if (url === '/db/g/a%20b%2Fc%2B%25%E2%82%AC') return res.end(Buffer.from([0, 1, 255]));
    if (url === '/db/g/%2E%2E') return res.end('dots');
    if (url === '/db/g/broken') {
      res.writeHead(500);
      return res.end('database exploded');
    }
    if (url === '/db/g/teapot') {
      res.writeHead(418);
      return res.end();
    }
    if (url === '/db/g/big') return res.end(Buffer.alloc(2000));
    if (url === '/db/g/hang') return; // never answers
    res.writeHead(404);
    res.end('no');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  loader = createOriginLoader(`${base}/db/`, { maxValueBytes: 1000, timeoutMs: 2000 });
});
after(async () => {
  await loader.close();
  server.closeAllConnections();
  server.close();
});

const ctx = (group: string, signal = new AbortController().signal) => ({ group, signal });

test('GETs {origin}/{group}/{key} with each segment escaped', async () => {
  assert.deepEqual(await loader.load('Tom', ctx('scores')), new TextEncoder().encode('630'));
  assert.deepEqual(await loader.load('a b/c+%€', ctx('g')), new Uint8Array([0, 1, 255]));
  assert.deepEqual(await loader.load('..', ctx('g')), new TextEncoder().encode('dots'));
  assert.ok(seen.includes('/db/g/a%20b%2Fc%2B%25%E2%82%AC'));
});

test('404 is not found; other statuses and oversized bodies are errors', async () => {
  assert.equal(await loader.load('missing', ctx('g')), null);
  await assert.rejects(Promise.resolve(loader.load('broken', ctx('g'))), {
    code: 'UNAVAILABLE',
    message: /500: database exploded/,
  });
  await assert.rejects(Promise.resolve(loader.load('teapot', ctx('g'))), {
    code: 'INTERNAL',
    message: /418/,
  });
  await assert.rejects(Promise.resolve(loader.load('big', ctx('g'))), { code: 'TOO_LARGE' });
});

test('the signal aborts the request; the timeout is a deadline', async () => {
  const ac = new AbortController();
  const pending = loader.load('hang', ctx('g', ac.signal));
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(Promise.resolve(pending), { code: 'CANCELLED' });
  const quick = createOriginLoader(`${base}/db`, { timeoutMs: 100 });
  try {
    await assert.rejects(Promise.resolve(quick.load('hang', ctx('g'))), {
      code: 'DEADLINE_EXCEEDED',
    });
  } finally {
    await quick.close();
  }
});

test('an origin that refuses connections is unavailable; a bad origin URL is rejected', async () => {
  const dead = createOriginLoader(`http://127.0.0.1:${await freePort()}`);
  try {
    await assert.rejects(Promise.resolve(dead.load('k', ctx('g'))), { code: 'UNAVAILABLE' });
  } finally {
    await dead.close();
  }
  assert.throws(() => createOriginLoader('not a url'), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => createOriginLoader('ftp://x'), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => createOriginLoader('http://x/?q=1'), { code: 'INVALID_ARGUMENT' });
});
