// api-error.test.ts: how the API answers a failed call: a peer's refusal of this node's secret is
// not the API client's fault.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnauthenticatedError, UnavailableError } from '../errors.js';
import { apiError } from './server.js';

describe('apiError', () => {
  it("answers a peer's UNAUTHENTICATED 502, naming the peer and the secret", () => {
    const e = new UnauthenticatedError('peer http://10.0.0.2:8001: unauthenticated', {
      remote: true,
    });
    const { status, message } = apiError(e);
    assert.equal(status, 502);
    assert.match(message, /^peer http:\/\/10\.0\.0\.2:8001: .*refused this node's peer secret/);
  });

  it('keeps 401 for an UNAUTHENTICATED that is not a peer answer, and 503 for an unreachable peer', () => {
    assert.equal(apiError(new UnauthenticatedError('missing token')).status, 401);
    const unreachable = new UnavailableError('peer https://10.0.0.2:8001: certificate has expired');
    assert.deepEqual(apiError(unreachable), { status: 503, message: unreachable.message });
  });
});
