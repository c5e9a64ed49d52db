// keys.test.ts: the etcd key layout: node keys, peers parsed back from keys, the
// prefix range end, and the stored value.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeKey, nodesPrefix, nodeValue, peerFromKey, prefixRangeEnd, utf8 } from './keys.js';

describe('etcd keys', () => {
  it('puts a node under {prefix}/{service}/nodes/{peerURL}, the URL as is', () => {
    assert.equal(nodesPrefix('/peercache', 'web'), '/peercache/web/nodes/');
    assert.equal(
      nodeKey('/peercache', 'web', 'http://10.0.0.1:8001'),
      '/peercache/web/nodes/http://10.0.0.1:8001',
    );
    assert.equal(nodeKey('', 'web', 'https://[::1]:9'), '/web/nodes/https://[::1]:9');
  });

  it('reads the peer URL back from the key, and nothing from foreign keys', () => {
    const nodes = nodesPrefix('/peercache', 'web');
    for (const url of [
      'http://10.0.0.1:8001',
      'https://cache-2.internal:443',
      'http://[::1]:8001',
    ]) {
      assert.equal(peerFromKey(nodeKey('/peercache', 'web', url), nodes), url);
    }
    assert.equal(peerFromKey('/peercache/webx/nodes/http://10.0.0.1:8001', nodes), undefined);
    assert.equal(peerFromKey(`${nodes}not a url`, nodes), undefined);
    assert.equal(peerFromKey(`${nodes}http://10.0.0.1:8001/`, nodes), undefined);
    assert.equal(peerFromKey(`${nodes}http://10.0.0.1:8001/x`, nodes), undefined);
    assert.equal(peerFromKey(nodes, nodes), undefined);
  });

  it('ends a prefix range after the last key with the prefix', () => {
    const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    assert.equal(text(prefixRangeEnd(utf8('/a/'))), '/a0');
    assert.equal(text(prefixRangeEnd(utf8('abc'))), 'abd');
    assert.deepEqual(prefixRangeEnd(new Uint8Array([0x61, 0xff])), new Uint8Array([0x62]));
    assert.deepEqual(prefixRangeEnd(new Uint8Array([0xff, 0xff])), new Uint8Array([0]));
    const prefix = utf8('/p/');
    prefixRangeEnd(prefix);
    assert.equal(text(prefix), '/p/', 'the prefix itself is left alone');
  });

  it('stores the URL, start time and pid over the metadata', () => {
    const at = new Date('2024-01-02T03:04:05.000Z');
    const value = JSON.parse(
      new TextDecoder().decode(
        nodeValue('http://10.0.0.1:8001', at, { version: '1.2.3', url: 'spoofed', zone: 'b' }),
      ),
    ) as Record<string, unknown>;
    assert.deepEqual(value, {
      version: '1.2.3',
      zone: 'b',
      url: 'http://10.0.0.1:8001',
      startedAt: '2024-01-02T03:04:05.000Z',
      pid: process.pid,
    });
  });
});
