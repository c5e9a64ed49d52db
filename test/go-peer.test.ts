// go-peer.test.ts: proves the Go groupcache interop harness with real processes, and
// records what golang/groupcache actually puts on the wire (ANCHORS §1 and §2).

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { GetResponseSchema } from '../src/proto/gen/groupcache_pb.js';
import { type GoPeer, GoPeerError, goPeerBinary, peerUrls, startGoPeer } from './support/gopeer.js';
import { cleanupAfter } from './support/process.js';
import { testErrorText, testValue } from './support/values.js';

const encoder = new TextEncoder();

/** Reference ring per ANCHORS §2, written from the spec to check Go against. */
function referenceOwner(peers: readonly string[], key: string, replicas = 50): string {
  const points: { hash: number; peer: string }[] = [];
  for (const peer of peers) {
    for (let i = 0; i < replicas; i++) points.push({ hash: crc32(`${i}${peer}`), peer });
  }
  points.sort((a, b) => a.hash - b.hash);
  const h = crc32(key);
  const found = points.find((p) => p.hash >= h) ?? points[0];
  return found!.peer;
}

const VECTOR_PEERS = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'];
const VECTORS: [string, number][] = [
  ['', 1],
  ['foo', 1],
  ['bar', 2],
  ['12345', 3],
  ['user:42', 1],
  ['hello world', 2],
  ['Tom', 1],
  ['Jack', 3],
];

const build = await goPeerBinary();
const skip = typeof build === 'string' ? false : build.skip;

describe('Go groupcache peer harness', { skip }, () => {
  const registry = cleanupAfter();
  let urls: string[] = [];
  let peers: GoPeer[] = [];

  before(async () => {
    urls = await peerUrls(3);
    peers = await Promise.all(urls.map((self) => startGoPeer({ self, peers: urls, registry })));
  });

  const peerAt = (url: string) => {
    const peer = peers.find((p) => p.url === url);
    assert.ok(peer, `no peer ${url}`);
    return peer;
  };

  const sumLoads = async (key: string) => {
    const all = await Promise.all(peers.map((p) => p.loads()));
    return all.reduce((sum, loads) => sum + (loads[key] ?? 0), 0);
  };

  it('the reference ring reproduces the ANCHORS test vectors', () => {
    for (const [key, n] of VECTORS) {
      assert.equal(referenceOwner(VECTOR_PEERS, key), VECTOR_PEERS[n - 1], `key ${key}`);
    }
  });

  it("Go's consistenthash gives the ANCHORS test vectors", async () => {
    for (const [key, n] of VECTORS) {
      assert.equal(await peers[0]!.ownerIn(key, VECTOR_PEERS), VECTOR_PEERS[n - 1], `key ${key}`);
    }
  });

  it('every peer names the same owner, the one the reference ring names', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`).concat(['', 'a b', 'ключ']);
    const owners = new Set<string>();
    for (const key of keys) {
      const answers = await Promise.all(peers.map((p) => p.owner(key)));
      const want = referenceOwner(urls, key);
      assert.deepEqual(answers, [want, want, want], `key ${JSON.stringify(key)}`);
      owners.add(want);
    }
    assert.equal(owners.size, 3, '200 keys should land on all three peers');
  });

  it('get through each peer returns testValue byte-exact, loaded once in the cluster', async () => {
    const keys = [
      'foo',
      'size:1048576',
      'size:0',
      'size:1',
      'empty',
      'x+y',
      'a/b/c',
      '/leading-slash',
      '100%',
      '%41%2F',
      'ключ',
      '日本語-🎉',
      '🎉',
    ];
    for (const key of keys) {
      const want = testValue(key);
      assert.ok(want, key);
      // All three at once: the owner's singleflight and cache must make it one load.
      const got = await Promise.all(peers.map((p) => p.get(key)));
      for (const [i, value] of got.entries()) {
        assert.ok(Buffer.from(value).equals(want), `key ${JSON.stringify(key)} via peer ${i}`);
      }
      assert.equal(await sumLoads(key), 1, `loads of ${JSON.stringify(key)}`);
    }
  });

  it('a key with a space is right via its owner but arrives as "+" via another Go peer', async () => {
    const key = 'hello world';
    const plus = 'hello+world';
    const owner = peerAt(referenceOwner(urls, key));
    const others = peers.filter((p) => p !== owner);
    // Go's client escapes with url.QueryEscape (space → "+"); Go's server keeps "+".
    for (const peer of others) {
      assert.deepEqual(await peer.get(key), testValue(plus));
    }
    assert.deepEqual(await owner.get(key), testValue(key));
    assert.equal(await sumLoads(key), 1);
    assert.equal(await sumLoads(plus), 1);
  });

  it('a missing key is an error everywhere; non-owners retry locally after the owner fails', async () => {
    const key = 'missing-go-peer';
    const owner = peerAt(referenceOwner(urls, key));
    const others = peers.filter((p) => p !== owner);
    const before = await Promise.all(others.map((p) => p.stats()));
    for (const peer of [owner, ...others]) {
      await assert.rejects(peer.get(key), (err: unknown) => {
        assert.ok(err instanceof GoPeerError);
        assert.equal(err.status, 500);
        assert.equal(err.message, testErrorText(key));
        return true;
      });
    }
    // Errors are not cached: the owner loads for itself and for each non-owner's request.
    assert.equal((await owner.loads())[key], 3);
    for (const [i, peer] of others.entries()) {
      assert.equal((await peer.loads())[key], 1);
      const stats = await peer.stats();
      assert.equal(stats.PeerErrors, before[i]!.PeerErrors + 1);
    }
  });

  describe('raw HTTP against a Go peer', () => {
    // Sent to the key's owner: another Go peer would forward it, re-escaping the key.
    const raw = async (path: string, ownerOf = '') => {
      const res = await fetch(`${referenceOwner(urls, ownerOf)}/_groupcache${path}`);
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        body: new Uint8Array(await res.arrayBuffer()),
      };
    };
    const text = (body: Uint8Array) => new TextDecoder().decode(body);

    it('an existing key: 200, application/x-protobuf, a GetResponse with the value', async () => {
      const res = await raw('/scores/raw-foo', 'raw-foo');
      assert.equal(res.status, 200);
      assert.equal(res.type, 'application/x-protobuf');
      const msg = fromBinary(GetResponseSchema, res.body);
      assert.deepEqual(msg.value, testValue('raw-foo'));
      // Go sets only field 1: the body is exactly tag 0x0a, length, value.
      const value = encoder.encode('value of raw-foo');
      assert.deepEqual(res.body, Uint8Array.of(0x0a, value.length, ...value));
    });

    it('an empty value: 200 with field 1 present and empty (0a 00)', async () => {
      const res = await raw('/scores/empty-raw', 'empty-raw');
      assert.equal(res.status, 200);
      assert.equal(res.type, 'application/x-protobuf');
      assert.deepEqual(res.body, Uint8Array.of(0x0a, 0x00));
      assert.equal(fromBinary(GetResponseSchema, res.body).value.length, 0);
    });

    it('a loader error: 500, text/plain, the error text and a newline', async () => {
      const res = await raw('/scores/missing-raw', 'missing-raw');
      assert.equal(res.status, 500);
      assert.equal(res.type, 'text/plain; charset=utf-8');
      assert.equal(text(res.body), `${testErrorText('missing-raw')}\n`);
    });

    it('a space sent as %20 is a space; sent as + it stays +', async () => {
      const spaced = await raw('/scores/raw%20x', 'raw x');
      assert.equal(spaced.status, 200);
      assert.deepEqual(fromBinary(GetResponseSchema, spaced.body).value, testValue('raw x'));
      const plussed = await raw('/scores/raw+x', 'raw+x');
      assert.equal(plussed.status, 200);
      assert.deepEqual(fromBinary(GetResponseSchema, plussed.body).value, testValue('raw+x'));
    });

    it('%2F and %2B in the key decode to / and +; the key keeps later slashes', async () => {
      const res = await raw('/scores/p%2Fq%2Br/s', 'p/q+r/s');
      assert.equal(res.status, 200);
      assert.deepEqual(fromBinary(GetResponseSchema, res.body).value, testValue('p/q+r/s'));
    });

    it('an unknown group: 404, text/plain, "no such group: X"', async () => {
      const res = await raw('/nogroup/k');
      assert.equal(res.status, 404);
      assert.equal(res.type, 'text/plain; charset=utf-8');
      assert.equal(text(res.body), 'no such group: nogroup\n');
    });

    it('no "/" after the group: 400 "bad request"', async () => {
      const res = await raw('/scores');
      assert.equal(res.status, 400);
      assert.equal(res.type, 'text/plain; charset=utf-8');
      assert.equal(text(res.body), 'bad request\n');
    });

    it('a trailing "/" is the empty key', async () => {
      const res = await raw('/scores/', '');
      assert.equal(res.status, 200);
      assert.deepEqual(fromBinary(GetResponseSchema, res.body).value, testValue(''));
    });
  });

  describe('a Go client asking a Node server that it takes for a peer', () => {
    const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      if (req.url?.includes('fail')) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable\n');
        return;
      }
      const value = encoder.encode(`from node: ${req.url}`);
      const body = toBinary(GetResponseSchema, create(GetResponseSchema, { value }));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(body);
    });
    let goPeer: GoPeer;
    let nodeUrl = '';

    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      nodeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const [self] = await peerUrls(1);
      goPeer = await startGoPeer({ self: self!, peers: [self!, nodeUrl], registry });
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** The first key `${prefix}${i}` that the ring gives to the Node server. */
    const nodeOwned = (prefix: string) => {
      for (let i = 0; ; i++) {
        const key = `${prefix}${i}`;
        if (referenceOwner([goPeer.url, nodeUrl], key) === nodeUrl) return key;
      }
    };

    it('sends GET {base}/_groupcache/{QueryEscape(group)}/{QueryEscape(key)} and uses the value', async () => {
      const key = nodeOwned('a b+c/d%e ');
      seen.length = 0;
      const value = await goPeer.get(key);
      assert.equal(seen.length, 1);
      const want = `/_groupcache/scores/${key.replaceAll('%', '%25').replaceAll('+', '%2B').replaceAll('/', '%2F').replaceAll(' ', '+')}`;
      assert.equal(seen[0]!.method, 'GET');
      assert.equal(seen[0]!.url, want);
      assert.equal(new TextDecoder().decode(value), `from node: ${want}`);
      assert.equal(seen[0]!.headers['content-length'], undefined);
      assert.equal((await goPeer.loads())[key], undefined);
    });

    it('on a non-200 from the owner it counts a peer error and loads locally', async () => {
      const key = nodeOwned('fail-');
      const before = await goPeer.stats();
      assert.deepEqual(await goPeer.get(key), testValue(key));
      const after = await goPeer.stats();
      assert.equal(after.PeerErrors, before.PeerErrors + 1);
      assert.equal((await goPeer.loads())[key], 1);
    });
  });

  it('stop ends the processes it started', async () => {
    const [self] = await peerUrls(1);
    const peer = await startGoPeer({ self: self!, peers: [self!], registry });
    assert.deepEqual(await peer.get('alone'), testValue('alone'));
    await peer.stop();
    assert.ok(peer.process.exitStatus);
    await assert.rejects(peer.get('alone'));
  });
});
