// lifecycle.test.ts: the ready line of a long-running command, and its graceful stop.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { runUntilStopped } from './lifecycle.js';

const turn = () => new Promise((r) => setImmediate(r));

test('the ready line waits for the log lines written before it, and SIGTERM stops the service', async () => {
  let release: () => void = () => {};
  const flushed = new Promise<void>((r) => {
    release = r;
  });
  const stdout = new PassThrough();
  const lines: string[] = [];
  stdout.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  const before = new Set([...process.listeners('SIGTERM'), ...process.listeners('SIGINT')]);
  let closed = false;
  const running = runUntilStopped(
    { logger: pino({ level: 'silent' }), flush: () => flushed },
    { stdout, stderr: new PassThrough() },
    async () => ({
      close: async () => {
        closed = true;
      },
    }),
    () => 'http://127.0.0.1:1',
    'self',
  );
  try {
    for (let i = 0; i < 5; i++) await turn();
    assert.deepEqual(lines, [], 'no ready line while start-up lines are still being written');
    release();
    for (let i = 0; i < 5; i++) await turn();
    assert.deepEqual(lines, ['ready http://127.0.0.1:1\n']);
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await running, 0);
    assert.equal(closed, true);
  } finally {
    for (const l of process.listeners('SIGTERM')) {
      if (!before.has(l)) process.off('SIGTERM', l);
    }
    for (const l of process.listeners('SIGINT')) {
      if (!before.has(l)) process.off('SIGINT', l);
    }
  }
});
