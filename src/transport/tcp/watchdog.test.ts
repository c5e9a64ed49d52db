// watchdog.test.ts: which deadline governs a tcp server connection in each of its states.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConnectionState, watchdogDeadline } from './watchdog.js';

const limits = { handshakeTimeoutMs: 100, readTimeoutMs: 1_000, idleTimeoutMs: 10_000 };
const base: ConnectionState = {
  acceptedAt: 5_000,
  helloed: true,
  frameSince: undefined,
  busy: false,
  activeAt: 7_000,
};

test('before its HELLO a connection has only the handshake deadline, whatever it sends', () => {
  for (const state of [
    { ...base, helloed: false },
    { ...base, helloed: false, frameSince: 5_050 },
    { ...base, helloed: false, busy: true },
  ]) {
    assert.deepEqual(watchdogDeadline(state, limits), { at: 5_100, reason: 'handshake' });
  }
});

test('a frame begun must end within the read timeout, even with requests in flight', () => {
  assert.deepEqual(watchdogDeadline({ ...base, frameSince: 8_000 }, limits), {
    at: 9_000,
    reason: 'read',
  });
  assert.deepEqual(watchdogDeadline({ ...base, frameSince: 8_000, busy: true }, limits), {
    at: 9_000,
    reason: 'read',
  });
});

test('requests in flight keep a connection open; with none it idles out from its last activity', () => {
  assert.equal(watchdogDeadline({ ...base, busy: true }, limits).at, Number.POSITIVE_INFINITY);
  assert.deepEqual(watchdogDeadline(base, limits), { at: 17_000, reason: 'idle' });
});
