// etcd-keys.test.ts: property-based fuzzing of how membership reads etcd: node keys of any bytes
// back to peer URLs, the byte range of a prefix, and the JSON value a node stores.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  nodeKey,
  nodesPrefix,
  nodeValue,
  peerFromKey,
  prefixRangeEnd,
  utf8,
} from '../../src/membership/etcd/keys.js';
import { parsePeerUrl } from '../../src/util/address.js';
import { keySuffix, peerUrl } from './fixtures.js';
import { fuzzRuns, fuzzSeed } from './runs.js';

const seed = fuzzSeed();
const prefix = '/peercache';
const service = 'fuzz';
const nodes = nodesPrefix(prefix, service);
// The etcd client reads keys as the WHATWG decoder does by default.
const decoder = new TextDecoder();

/** compare orders byte strings as etcd does. */
function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describe(`etcd key and value decoding fuzz (FUZZ_SEED=${seed})`, () => {
  it('a node key names back exactly the peer URL it was made from', () => {
    fc.assert(
      fc.property(peerUrl, (url) => {
        const key = nodeKey(prefix, service, url);
        assert.equal(peerFromKey(decoder.decode(utf8(key)), nodes), url);
      }),
      fuzzRuns(300, seed),
    );
  });

  it('a key of any bytes names a valid peer URL or none, and never one its bytes do not spell', () => {
    fc.assert(
      fc.property(keySuffix, fc.boolean(), (suffix, under) => {
        const bytes = Buffer.concat([utf8(under ? nodes : `${prefix}/other/nodes/`), suffix]);
        const key = decoder.decode(bytes);
        const url = peerFromKey(key, nodes);
        if (url === undefined) return;
        assert.ok(under, 'only keys under the prefix name peers');
        assert.equal(parsePeerUrl(url), url);
        // No folding: the peer's own key is the very bytes etcd holds.
        assert.deepEqual(Buffer.from(utf8(nodeKey(prefix, service, url))), bytes);
      }),
      fuzzRuns(500, seed),
    );
  });

  it("prefixRangeEnd bounds exactly the keys that start with the prefix, in etcd's byte order", () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 6 }),
      fc.uint8Array({ maxLength: 6 }).map((b) => new Uint8Array([...b, 0xff, 0xff])),
      fc.nat(4).map((n) => new Uint8Array(n).fill(0xff)),
    );
    fc.assert(
      fc.property(bytes, bytes, (p, rest) => {
        // Keys near the prefix: the prefix itself, extended, or anything.
        for (const key of [p, new Uint8Array([...p, ...rest]), rest]) {
          const end = prefixRangeEnd(p);
          const startsWith = Buffer.from(key).subarray(0, p.length).equals(Buffer.from(p));
          // etcd reads an end of a single \0 as "to the end of the keyspace".
          const toTheEnd = end.length === 1 && end[0] === 0;
          const inRange = compare(p, key) <= 0 && (toTheEnd || compare(key, end) < 0);
          assert.equal(inRange, startsWith, `prefix ${Buffer.from(p).toString('hex')}`);
        }
      }),
      fuzzRuns(1000, seed),
    );
  });

  it('a node value is JSON with its url, startedAt and pid over any metadata', () => {
    fc.assert(
      fc.property(
        peerUrl,
        fc.date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true }),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (url, startedAt, metadata) => {
          const text = new TextDecoder('utf-8', { fatal: true }).decode(
            nodeValue(url, startedAt, metadata),
          );
          const value = JSON.parse(text) as Record<string, unknown>;
          assert.equal(value.url, url);
          assert.equal(value.startedAt, startedAt.toISOString());
          assert.equal(value.pid, process.pid);
          for (const [k, v] of Object.entries(metadata)) {
            if (k === 'url' || k === 'startedAt' || k === 'pid') continue;
            assert.deepEqual(value[k], JSON.parse(JSON.stringify(v)), k);
          }
        },
      ),
      fuzzRuns(200, seed),
    );
  });
});
