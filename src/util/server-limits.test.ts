import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { defaultMaxConnections } from './fd-limit.js';
import { recordingLogger } from './limits-testing.js';
import { logServerErrors, resolveServerLimits } from './server-limits.js';

const defaults = { connectionShare: 0.5, connectionCap: 4096, maxInflightBytes: 1000 };

test('resolveServerLimits fills in the defaults and keeps what is given', () => {
  assert.deepEqual(resolveServerLimits({}, defaults), {
    maxConnections: defaultMaxConnections(0.5, 4096),
    handshakeTimeoutMs: 10_000,
    idleTimeoutMs: 30_000,
    readTimeoutMs: 30_000,
    maxInflightBytes: 1000,
  });
  const given = {
    maxConnections: 5,
    handshakeTimeoutMs: 1,
    idleTimeoutMs: 2,
    readTimeoutMs: 3,
    maxInflightBytes: 0,
  };
  assert.deepEqual(resolveServerLimits(given, defaults), given);
});

test('resolveServerLimits refuses limits that are not whole numbers in range', () => {
  for (const bad of [
    { maxConnections: 0 },
    { readTimeoutMs: 1.5 },
    { idleTimeoutMs: -1 },
    { maxInflightBytes: -1 },
    { handshakeTimeoutMs: Number.NaN },
  ]) {
    assert.throws(
      () => resolveServerLimits(bad, defaults),
      InvalidArgumentError,
      JSON.stringify(bad),
    );
  }
});

test('logServerErrors turns a listening server’s errors into throttled warnings', () => {
  const server = createServer();
  const { logger, lines } = recordingLogger();
  logServerErrors(server, logger, 'peer');
  const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
  server.emit('error', emfile);
  server.emit('error', emfile);
  assert.equal(lines.length, 1, 'one line per interval, and no throw');
  assert.equal(lines[0]?.fields.code, 'EMFILE');
  assert.equal(lines[0]?.fields.server, 'peer');
});
