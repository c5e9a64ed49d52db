// options.test.ts: etcd membership options: defaults, endpoint parsing, and the
// InvalidArgumentError every bad value gets at construction.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../errors.js';
import { createEtcdMembership } from './index.js';
import { type EtcdMembershipOptions, parseEtcdEndpoint, resolveEtcdOptions } from './options.js';

const bad = (options: Partial<EtcdMembershipOptions>, pattern: RegExp) =>
  assert.throws(
    () => resolveEtcdOptions({ endpoints: 'http://127.0.0.1:2379', ...options }),
    (err: unknown) => err instanceof InvalidArgumentError && pattern.test(err.message),
    JSON.stringify(options),
  );

describe('etcd membership options', () => {
  it('fills in the defaults', () => {
    const o = resolveEtcdOptions({ endpoints: ['http://127.0.0.1:2379'] });
    assert.equal(o.service, 'peercache');
    assert.equal(o.prefix, '/peercache');
    assert.equal(o.leaseTtlSeconds, 10);
    assert.equal(o.self, undefined);
    assert.equal(o.failFast, false);
    assert.equal(o.auth, undefined);
    assert.deepEqual(o.metadata, {});
    assert.equal(o.retryMinMs, 100);
    assert.equal(o.retryMaxMs, 2000);
    assert.equal(o.keepaliveIntervalMs, undefined, 'a third of the granted TTL');
    assert.equal(o.requestTimeoutMs, 5000);
    assert.equal(o.coalesceMs, 50);
  });

  it('takes endpoints as an array or a comma-separated string (as --etcd gives them)', () => {
    const o = resolveEtcdOptions({ endpoints: 'http://a:2379, https://b ,http://[::1]:2380' });
    assert.deepEqual(o.endpoints, [
      { url: 'http://a:2379', target: 'a:2379', secure: false },
      { url: 'https://b', target: 'b:2379', secure: true },
      { url: 'http://[::1]:2380', target: '[::1]:2380', secure: false },
    ]);
    assert.equal(parseEtcdEndpoint('http://etcd.local').target, 'etcd.local:2379');
  });

  it('drops a trailing slash from the prefix', () => {
    assert.equal(resolveEtcdOptions({ endpoints: 'http://a', prefix: '/x/y/' }).prefix, '/x/y');
  });

  it('refuses malformed endpoints with a message naming the endpoint', () => {
    for (const endpoints of ['nope', 'ftp://a:1', 'http://a:1/v3', 'http://a:1?x=1', 'a:2379']) {
      bad({ endpoints }, /etcd endpoint .* \(want http:\/\/host:port/);
    }
    bad({ endpoints: 'http://u:p@a:1' }, /holds credentials/);
    bad({ endpoints: [] }, /at least one URL/);
    bad({ endpoints: ' , ' }, /at least one URL/);
  });

  it('refuses bad values of the other options', () => {
    bad({ self: 'http://10.0.0.1:8001/' }, /self URL/);
    bad({ service: '' }, /service/);
    bad({ service: 'a/b' }, /service/);
    bad({ leaseTtlSeconds: 0 }, /lease TTL/);
    bad({ leaseTtlSeconds: 1.5 }, /lease TTL/);
    bad({ username: 'root' }, /username and password go together/);
    bad({ password: 'x' }, /username and password go together/);
    bad({ tls: {} }, /not https/);
    bad({ endpoints: 'https://a', tls: { cert: 'C' } }, /cert and key go together/);
    bad({ timing: { retryMinMs: 0 } }, /retryMinMs/);
    bad({ timing: { retryMinMs: 500, retryMaxMs: 100 } }, /retryMaxMs/);
    bad({ timing: { requestTimeoutMs: Number.NaN } }, /requestTimeoutMs/);
  });

  it('createEtcdMembership checks at construction and connects to nothing', () => {
    assert.throws(() => createEtcdMembership({ endpoints: 'bad' }), InvalidArgumentError);
    const m = createEtcdMembership({ endpoints: 'http://127.0.0.1:1', self: 'http://127.0.0.1:2' });
    assert.equal(m.name, 'etcd');
    assert.equal((m.status!() as { connected: boolean }).connected, false);
    return m.close();
  });
});
