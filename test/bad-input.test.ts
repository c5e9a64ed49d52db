// bad-input.test.ts: malformed and hostile requests to a running `peercache node`, on its peer
// endpoint and its API, get their documented status, and the node keeps serving.

import assert from 'node:assert/strict';
import { afterEach, before, describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { GetResponseSchema, SetRequestSchema } from '../src/proto/gen/groupcache_pb.js';
import { type PeercacheNode, startPeercacheNode } from './support/peercache.js';
import { cleanupAfter, freePorts } from './support/process.js';
import { type RawAnswer, type RawRequest, rawRequest } from './support/raw-http.js';
import { testValue } from './support/values.js';

const MiB = 1024 * 1024;
const BASE = '/_groupcache/scores';

const setRequest = (group: string, key: string, value: Uint8Array) =>
  toBinary(SetRequestSchema, create(SetRequestSchema, { group, key, value }));

/** peerValue decodes a peer GET's GetResponse and copies its value into a plain Uint8Array. */
const peerValue = (res: RawAnswer) =>
  Uint8Array.from(fromBinary(GetResponseSchema, res.body).value);

/**
 * refusedUpload sends a body the server refuses while we are still sending it. The server
 * answers 413 and closes at once (no lingering close, RFC 9112 §9.6), so our next write can
 * meet a reset that wipes the unread answer; rarely (about 1 in 100 here). Such a reset
 * without an answer is retried, twice at most; any answer is returned.
 */
async function refusedUpload(send: () => Promise<RawAnswer>): Promise<RawAnswer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const reset = /EPIPE|ECONNRESET|without a response/.test((err as Error).message);
      if (!reset || attempt === 3) throw err;
    }
  }
}

describe('bad input to a running node', { timeout: 120_000 }, () => {
  const registry = cleanupAfter();
  let node: PeercacheNode;

  before(async () => {
    const [peerPort, apiPort] = (await freePorts(2)) as [number, number];
    node = await startPeercacheNode({ self: `http://127.0.0.1:${peerPort}`, apiPort, registry });
  });

  const peer = (method: string, target: string, more: Partial<RawRequest> = {}) =>
    rawRequest({ origin: node.url, method, target, ...more });
  const api = (method: string, target: string, more: Partial<RawRequest> = {}) =>
    rawRequest({ origin: node.apiUrl, method, target, ...more });
  const expectStatus = (res: RawAnswer, status: number, what: string) => {
    assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
    if (status >= 400) {
      assert.match(res.headers['content-type'] ?? '', /^text\/plain/, `${what}: an error is text`);
    }
  };

  // After every case: the process is alive and still answers good requests on both servers.
  afterEach(async () => {
    assert.equal(node.process.exitStatus, undefined, 'the node is still running');
    const health = await api('GET', '/healthz');
    expectStatus(health, 200, '/healthz');
    const viaPeer = await peer('GET', `${BASE}/good-key`);
    expectStatus(viaPeer, 200, 'a good peer get');
    assert.equal(viaPeer.headers['content-type'], 'application/x-protobuf');
    assert.deepEqual(peerValue(viaPeer), testValue('good-key'));
    const viaApi = await node.get('good key');
    assert.equal(viaApi.status, 200);
    assert.deepEqual(viaApi.body, testValue('good key'));
  });

  describe('the peer endpoint', () => {
    it('malformed percent-encoding or UTF-8 in the path: 400', async () => {
      for (const key of ['%zz', '%', 'a%4', '%E0%A4', '%FF']) {
        expectStatus(await peer('GET', `${BASE}/${key}`), 400, `key ${key}`);
      }
      // Raw UTF-8 in the request target: Node's HTTP parser refuses it before our handler.
      assert.equal((await peer('GET', `${BASE}/ключ`)).status, 400, 'raw non-ASCII');
      expectStatus(await peer('GET', '/_groupcache/sc%zzores/k'), 400, 'group %zz');
    });

    it('an unknown group: 404 "no such group"', async () => {
      const res = await peer('GET', '/_groupcache/nogroup/k');
      expectStatus(res, 404, 'unknown group');
      assert.equal(res.text, 'no such group: nogroup\n');
    });

    it('no key: no "/" after the group, or an empty key: 400', async () => {
      expectStatus(await peer('GET', BASE), 400, 'no slash');
      expectStatus(await peer('GET', '/_groupcache/'), 400, 'no group');
      expectStatus(await peer('GET', `${BASE}/`), 400, 'empty key');
    });

    it('a key over 4096 UTF-8 bytes: 414; exactly 4096 is served', async () => {
      expectStatus(await peer('GET', `${BASE}/${'k'.repeat(4097)}`), 414, '4097 ASCII bytes');
      // 2049 characters, 4098 bytes: the limit counts bytes.
      const wide = encodeURIComponent('é'.repeat(2049));
      expectStatus(await peer('GET', `${BASE}/${wide}`), 414, '4098 bytes of é');
      const ok = await peer('GET', `${BASE}/${'k'.repeat(4096)}`);
      expectStatus(ok, 200, '4096 bytes');
      assert.deepEqual(peerValue(ok), testValue('k'.repeat(4096)));
    });

    it('a PUT body over the limit: 413, declared or streamed, and not read to the end', async () => {
      const declared = await peer('PUT', `${BASE}/big`, {
        headers: { 'content-length': String(512 * MiB) },
      });
      expectStatus(declared, 413, 'declared 512 MiB');
      assert.equal(declared.headers.connection, 'close');
      const streamed = await refusedUpload(() =>
        peer('PUT', `${BASE}/big`, { streamBytes: 80 * MiB }),
      );
      expectStatus(streamed, 413, 'streamed 80 MiB');
    });

    it('a method other than GET, PUT, DELETE: 405 with Allow', async () => {
      for (const method of ['POST', 'PATCH', 'OPTIONS']) {
        const res = await peer(method, `${BASE}/k`, { headers: { 'content-length': '0' } });
        expectStatus(res, 405, method);
        assert.equal(res.headers.allow, 'GET, PUT, DELETE');
      }
    });

    it('a PUT whose body is not a SetRequest: 400', async () => {
      const bodies = [
        Uint8Array.of(0xff, 0xff, 0xff, 0xff), // a varint that never ends
        Uint8Array.of(0x0a, 0x10, 0x61), // field 1 says 16 bytes, has 1
        Uint8Array.of(0x0f), // wire type 7 does not exist
      ];
      for (const body of bodies) {
        const res = await peer('PUT', `${BASE}/pb`, {
          body,
          headers: { 'content-length': String(body.length) },
        });
        expectStatus(res, 400, `body ${Buffer.from(body).toString('hex')}`);
      }
    });

    it('a PUT whose SetRequest names another key or group: 400, and nothing is stored', async () => {
      const value = new TextEncoder().encode('sneaky');
      for (const [group, key] of [
        ['scores', 'other-key'],
        ['other', 'put-target'],
      ] as const) {
        const body = setRequest(group, key, value);
        const res = await peer('PUT', `${BASE}/put-target`, {
          body,
          headers: { 'content-length': String(body.length) },
        });
        expectStatus(res, 400, `SetRequest for ${group}/${key}`);
      }
      for (const key of ['put-target', 'other-key']) {
        assert.deepEqual((await node.get(key)).body, testValue(key), `${key} is untouched`);
      }
    });

    it('(control) a well-formed PUT and DELETE are accepted', async () => {
      const value = Uint8Array.of(1, 2, 3);
      const body = setRequest('scores', 'a b+c', value);
      const put = await peer('PUT', `${BASE}/a%20b%2Bc`, {
        body,
        headers: { 'content-length': String(body.length) },
      });
      expectStatus(put, 200, 'PUT');
      assert.deepEqual((await node.get('a b+c')).body, value);
      expectStatus(await peer('DELETE', `${BASE}/a%20b%2Bc`), 200, 'DELETE');
      assert.deepEqual((await node.get('a b+c')).body, testValue('a b+c'));
    });

    it('a path outside the base path: 404', async () => {
      expectStatus(await peer('GET', '/elsewhere/scores/k'), 404, '/elsewhere');
    });
  });

  describe('the API', () => {
    it('malformed percent-encoding or UTF-8 in the query: 400', async () => {
      for (const q of ['key=%zz', 'key=%', 'key=%E0%A4', 'key=k&group=%zz']) {
        expectStatus(await api('GET', `/api?${q}`), 400, q);
      }
    });

    it('a missing or empty key: 400', async () => {
      for (const target of ['/api', '/api?', '/api?key=', '/api?group=scores', '/api?keys=k']) {
        expectStatus(await api('GET', target), 400, target);
      }
    });

    it('an unknown group or a key that does not exist: 404', async () => {
      const group = await api('GET', '/api?key=k&group=nope');
      expectStatus(group, 404, 'unknown group');
      assert.match(group.text, /no such group: nope/);
      expectStatus(await api('GET', '/api?key=missing-api'), 404, 'missing key');
      expectStatus(await api('GET', '/nothing-here'), 404, 'unknown path');
    });

    it('a key over 4096 bytes or a URL over 32 KiB: 414', async () => {
      expectStatus(await api('GET', `/api?key=${'k'.repeat(4097)}`), 414, 'long key');
      const padded = `/api?key=k&pad=${'x'.repeat(40 * 1024)}`;
      expectStatus(await api('GET', padded), 414, 'long URL');
      expectStatus(await api('GET', `/api?key=${'k'.repeat(4096)}`), 200, 'key of 4096 bytes');
    });

    it('a PUT body over the limit: 413, declared or streamed', async () => {
      const declared = await api('PUT', '/api?key=big', {
        headers: { 'content-length': String(512 * MiB) },
      });
      expectStatus(declared, 413, 'declared 512 MiB');
      const streamed = await refusedUpload(() =>
        api('PUT', '/api?key=big', { streamBytes: 80 * MiB }),
      );
      expectStatus(streamed, 413, 'streamed 80 MiB');
      expectStatus(await api('GET', '/api?key=big'), 200, 'big was not stored');
      assert.deepEqual((await node.get('big')).body, testValue('big'));
    });

    it('a wrong method: 405 with Allow', async () => {
      const post = await api('POST', '/api?key=k', { headers: { 'content-length': '0' } });
      expectStatus(post, 405, 'POST /api');
      assert.equal(post.headers.allow, 'GET, PUT, DELETE');
      for (const path of ['/stats', '/peers', '/metrics', '/healthz']) {
        const res = await api('DELETE', path);
        expectStatus(res, 405, `DELETE ${path}`);
        assert.match(res.headers.allow ?? '', /GET/);
      }
    });

    it('a bad ttl on PUT: 400', async () => {
      const res = await api('PUT', '/api?key=t&ttl=soon', {
        body: Buffer.from('v'),
        headers: { 'content-length': '1' },
      });
      expectStatus(res, 400, 'ttl=soon');
    });
  });
});
