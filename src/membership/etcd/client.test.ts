// client.test.ts: gRPC failures from etcd mapped to the CacheError family.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { isConnectionError, toEtcdError } from './client.js';

const grpcError = (code: status, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details });

describe('toEtcdError', () => {
  it("maps gRPC statuses to error codes, naming the endpoint and keeping etcd's text", () => {
    const cases: Array<[status, string, string]> = [
      [status.UNAVAILABLE, 'Connection dropped', 'UNAVAILABLE'],
      [status.DEADLINE_EXCEEDED, 'Deadline exceeded', 'DEADLINE_EXCEEDED'],
      [status.NOT_FOUND, 'etcdserver: requested lease not found', 'NOT_FOUND'],
      [status.UNAUTHENTICATED, 'etcdserver: invalid auth token', 'UNAUTHENTICATED'],
      [status.PERMISSION_DENIED, 'etcdserver: permission denied', 'UNAUTHENTICATED'],
      [status.INVALID_ARGUMENT, 'etcdserver: key is not provided', 'INVALID_ARGUMENT'],
      [
        status.INVALID_ARGUMENT,
        'etcdserver: authentication failed, invalid user ID or password',
        'UNAUTHENTICATED',
      ],
      [status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests', 'UNAVAILABLE'],
      [status.INTERNAL, 'boom', 'INTERNAL'],
    ];
    for (const [code, details, want] of cases) {
      const err = toEtcdError(grpcError(code, details), 'http://e:2379');
      assert.equal(err.code, want, details);
      assert.equal(err.message, `etcd http://e:2379: ${details}`);
      assert.ok(err.cause, 'the gRPC error is kept as the cause');
    }
  });

  it("drops grpc-js's empty resolution note", () => {
    const err = toEtcdError(
      grpcError(
        status.UNAVAILABLE,
        'No connection established. Last error: connect ECONNREFUSED. Resolution note: ',
      ),
      'http://e:2379',
    );
    assert.equal(
      err.message,
      'etcd http://e:2379: No connection established. Last error: connect ECONNREFUSED',
    );
  });

  it('tells connection failures from the rest', () => {
    assert.equal(isConnectionError(toEtcdError(grpcError(status.UNAVAILABLE, 'x'), 'e')), true);
    assert.equal(
      isConnectionError(toEtcdError(grpcError(status.DEADLINE_EXCEEDED, 'x'), 'e')),
      true,
    );
    assert.equal(isConnectionError(toEtcdError(grpcError(status.NOT_FOUND, 'x'), 'e')), false);
    assert.equal(isConnectionError(new Error('plain')), false);
  });
});
