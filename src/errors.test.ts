// errors.test.ts: the error family keeps stable codes and maps them by table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  abortError,
  CacheError,
  DeadlineExceededError,
  ErrorCode,
  errorFromCode,
  httpStatus,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  peerUnreachable,
  toCacheError,
  UnavailableError,
} from './errors.js';

test('every code has a class, a name and an HTTP status', () => {
  for (const code of Object.values(ErrorCode)) {
    const err = errorFromCode(code, 'm');
    assert.ok(err instanceof CacheError);
    assert.equal(err.code, code);
    assert.match(err.name, /Error$/);
    assert.equal(typeof httpStatus[code], 'number');
  }
  assert.equal(new NotFoundError().name, 'NotFoundError');
  assert.equal(httpStatus.NOT_FOUND, 404);
  assert.equal(httpStatus.INVALID_ARGUMENT, 400);
  assert.equal(httpStatus.UNAVAILABLE, 503);
});

test('toCacheError keeps CacheErrors and wraps the rest with a cause', () => {
  const nf = new NotFoundError('x');
  assert.equal(toCacheError(nf), nf);
  const boom = new Error('boom');
  const wrapped = toCacheError(boom, 'load g/k');
  assert.equal(wrapped.code, 'INTERNAL');
  assert.equal(wrapped.message, 'load g/k: boom');
  assert.equal(wrapped.cause, boom);
});

test('abortError tells a timeout from a cancel', () => {
  const ac = new AbortController();
  ac.abort();
  assert.equal(abortError(ac.signal).code, 'CANCELLED');
  const t = new AbortController();
  t.abort(new DOMException('timed out', 'TimeoutError'));
  assert.equal(abortError(t.signal).code, 'DEADLINE_EXCEEDED');
});

test('peerUnreachable tells a failure to reach a peer from the peer answer', () => {
  assert.equal(peerUnreachable(new UnavailableError('connection refused')), true);
  assert.equal(peerUnreachable(new DeadlineExceededError('timed out')), true);
  assert.equal(peerUnreachable(new Error('socket hang up')), true);
  assert.equal(peerUnreachable(new InternalError('loader failed', { remote: true })), false);
  assert.equal(peerUnreachable(new UnavailableError('db down', { remote: true })), false);
  assert.equal(peerUnreachable(new InvalidArgumentError('bad key')), false);
  assert.equal(peerUnreachable(new NotFoundError()), false);
  assert.equal(errorFromCode('INTERNAL', 'x', { remote: true }).remote, true);
  assert.equal(new InternalError('x').remote, false);
});
