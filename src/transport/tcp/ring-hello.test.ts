// ring-hello.test.ts: the tcp HELLO carries the node's ring kind: a server refuses a client
// with another ring (both log it) and accepts one with the same, or one that does not say.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePorts } from '../../../test/support/process.js';
import { InvalidArgumentError } from '../../errors.js';
import { createNode } from '../../node/node.js';
import { recordingLogger } from '../../util/limits-testing.js';
import { FakeGroup, fakeLookup, utf8 } from '../http/testing.js';
import type { PeerServer } from '../transport.js';
import { encodeHello, RING_IDS, ringOfId } from './frame.js';
import { tcpTransport } from './transport.js';

describe('the ring kind in the tcp HELLO', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function balancedServer() {
    const group = new FakeGroup('g');
    group.store.set('k', { value: utf8('v'), expireAt: 0, minuteQps: 0 });
    const log = recordingLogger();
    const transport = tcpTransport();
    const server: PeerServer = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: log.logger,
      ring: 'balanced',
    });
    cleanup.push(
      () => server.close(0),
      () => transport.close(),
    );
    return { url: `http://127.0.0.1:${server.address.port}`, log };
  }

  it('is byte 10 of the frame: 0 unsaid, else the kind’s id', () => {
    assert.equal(encodeHello(undefined)[10], 0);
    assert.equal(encodeHello('s', 'balanced')[10], 4);
    assert.equal(encodeHello(undefined, 'golang')[10], 1);
    for (const [kind, id] of Object.entries(RING_IDS)) assert.equal(ringOfId(id), kind);
    assert.equal(ringOfId(0), undefined);
    assert.equal(ringOfId(99), undefined);
  });

  it('refuses a client with another ring: its calls fail INVALID_ARGUMENT and both sides log', async () => {
    const { url, log } = await balancedServer();
    const clientLog = recordingLogger();
    const other = tcpTransport({ logger: clientLog.logger });
    cleanup.push(() => other.close());
    await assert.rejects(other.client(url, { ring: 'golang' }).get('g', 'k'), (err: Error) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(
        err.message,
        /ring mismatch: the server uses the balanced ring, the client the golang ring/,
      );
      return true;
    });
    const served = log.lines.find((l) => l.message === 'peer connection refused: ring mismatch');
    assert.ok(served, 'the server logged the refusal');
    assert.equal(served.level, 'error');
    assert.equal(served.fields.ring, 'balanced');
    assert.equal(served.fields.peerRing, 'golang');
    const asked = clientLog.lines.find((l) => l.message === 'peer refused the connection');
    assert.ok(asked, 'the client logged the refusal');
    assert.match(String(asked.fields.error), /ring mismatch/);
  });

  it('serves a client with the same ring, and one that does not say (an older peer)', async () => {
    const { url, log } = await balancedServer();
    for (const options of [{ ring: 'balanced' as const }, undefined]) {
      const t = tcpTransport();
      cleanup.push(() => t.close());
      const got = await t.client(url, options).get('g', 'k');
      assert.equal(Buffer.from(got.value).toString(), 'v');
    }
    assert.equal(log.lines.filter((l) => l.message.includes('ring mismatch')).length, 0);
  });

  it('one transport serves one node: another ring on it is an InvalidArgumentError', () => {
    const t = tcpTransport();
    cleanup.push(() => t.close());
    t.client('http://127.0.0.1:9', { ring: 'balanced' });
    assert.throws(() => t.client('http://127.0.0.1:10', { ring: 'golang' }), InvalidArgumentError);
  });
});

describe('two nodes with different rings over tcp', () => {
  it('a get of a key the other owns fails with the mismatch; each still serves its own keys', async () => {
    const [portA, portB] = (await freePorts(2)) as [number, number];
    const urls = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`] as const;
    const serverLog = recordingLogger();
    const a = createNode({
      self: urls[0],
      peers: urls,
      ring: 'balanced',
      transport: tcpTransport(),
    });
    const b = createNode({
      self: urls[1],
      peers: urls,
      ring: 'golang',
      transport: tcpTransport(),
      logger: serverLog.logger,
    });
    const group = a.newGroup('g', { cacheBytes: 1 << 20, load: (k) => `a:${k}` });
    b.newGroup('g', { cacheBytes: 1 << 20, load: (k) => `b:${k}` });
    try {
      await a.listen();
      await b.listen();
      assert.equal(a.ring, 'balanced');
      const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
      const ofB = keys.find((k) => a.ownerOf(k) === urls[1])!;
      const ofA = keys.find((k) => a.ownerOf(k) === urls[0])!;
      await assert.rejects(group.get(ofB), (err: Error) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(
          err.message,
          /ring mismatch: the server uses the golang ring, the client the balanced ring/,
        );
        return true;
      });
      assert.ok(
        serverLog.lines.some(
          (l) => l.level === 'error' && l.message === 'peer connection refused: ring mismatch',
        ),
        'the refusing node logged it',
      );
      assert.equal((await group.get(ofA)).toString(), `a:${ofA}`, 'A still loads its own keys');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
