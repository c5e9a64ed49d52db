// limits.test.ts: the HTTP peer server under slow, idle, numerous and large clients: timeouts,
// the connection limit and the cap on body bytes in flight, against a real server on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { Agent, request } from 'undici';
import { SetRequestSchema } from '../../proto/gen/groupcache_pb.js';
import { rawConnect, recordingLogger, until } from '../../util/limits-testing.js';
import { deferred, FakeGroup, fakeLookup, utf8 } from './testing.js';
import { type HttpPeerServer, httpTransport } from './transport.js';

const MiB = 1024 * 1024;

function setBody(key: string, bytes: number): Uint8Array {
  const value = new Uint8Array(bytes).fill(7);
  return toBinary(SetRequestSchema, create(SetRequestSchema, { group: 'g', key, value }));
}

function head(method: string, path: string, length: number): string {
  return `${method} ${path} HTTP/1.1\r\nHost: peer\r\nContent-Length: ${length}\r\n\r\n`;
}

describe('HTTP peer server limits', { timeout: 30_000 }, () => {
  const group = new FakeGroup('g');
  const { logger, lines } = recordingLogger();
  const shutdown = new AbortController();
  let server: HttpPeerServer;
  let url: string;
  let port: number;
  const agent = new Agent({ connections: 8 });

  before(async () => {
    group.store.set('k', { value: utf8('v'), expireAt: 0, minuteQps: 0 });
    const transport = httpTransport({
      readTimeoutMs: 300,
      idleTimeoutMs: 400,
      maxConnections: 12,
      maxInflightBytes: 4 * MiB,
    });
    server = await transport.serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: shutdown.signal,
      logger,
    });
    port = server.address.port;
    url = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await agent.close();
    await server.close(100);
  });

  async function get(key = 'k'): Promise<number> {
    const res = await request(`${url}/_groupcache/g/${key}`, { dispatcher: agent });
    await res.body.arrayBuffer();
    return res.statusCode;
  }

  it('logs its limits at start', () => {
    const line = lines.find((l) => l.message === 'server limits');
    assert.ok(line, 'a line with the limits');
    assert.equal(line.fields.maxConnections, 12);
    assert.equal(line.fields.maxInflightBytes, 4 * MiB);
    assert.equal(line.fields.readTimeoutMs, 300);
  });

  it('cuts a client whose headers never end, and keeps serving others', async () => {
    const slow = await rawConnect(port);
    slow.socket.write('GET /_groupcache/g/k HTTP/1.1\r\nHost: peer\r\n');
    // One more header line every 50 ms: never idle, never finished.
    const drip = setInterval(() => slow.socket.write('X-Slow: 1\r\n'), 50);
    try {
      assert.equal(await get(), 200, 'others are served meanwhile');
      await slow.closed;
    } finally {
      clearInterval(drip);
    }
    assert.match(slow.text(), /^(HTTP\/1\.1 408|$)/, 'a 408 or a plain close');
    assert.equal(await get(), 200);
  });

  it('cuts a body sent halfway', async () => {
    const body = setBody('half', 1000);
    const slow = await rawConnect(port);
    slow.socket.write(head('PUT', '/_groupcache/g/half', body.byteLength));
    slow.socket.write(body.subarray(0, 100));
    await slow.closed;
    assert.equal(group.store.has('half'), false, 'nothing was stored');
    assert.equal(server.stats().inflightBytes, 0, 'its reservation was given back');
    assert.equal(await get(), 200);
  });

  it('closes a connection that never sends a byte, and one left idle after a request', async () => {
    const silent = await rawConnect(port);
    await silent.closed;
    assert.match(silent.text(), /^(HTTP\/1\.1 408|$)/);
    const idle = await rawConnect(port);
    idle.socket.write('GET /_groupcache/g/k HTTP/1.1\r\nHost: peer\r\n\r\n');
    await idle.closed;
    assert.match(idle.text(), /^HTTP\/1\.1 200 [\s\S]*v$/, 'answered, then closed when idle');
  });

  it('does not take a slow answer for idleness', async () => {
    const gate = deferred();
    group.load = async () => {
      await gate.promise;
      return { value: utf8('slow'), expireAt: 0, minuteQps: 0 };
    };
    try {
      const slow = await rawConnect(port);
      slow.socket.write('GET /_groupcache/g/slow HTTP/1.1\r\nHost: peer\r\n\r\n');
      // A connection answered at the same time and then left silent shows the idle timeout has passed.
      const idle = await rawConnect(port);
      idle.socket.write('GET /_groupcache/other/k HTTP/1.1\r\nHost: peer\r\n\r\n');
      await idle.closed;
      assert.match(idle.text(), /^HTTP\/1\.1 404/);
      gate.resolve();
      await until(() => slow.text().endsWith('slow'));
      assert.match(slow.text(), /^HTTP\/1\.1 200/);
      slow.socket.destroy();
    } finally {
      group.load = undefined;
    }
  });

  it('refuses PUTs past the bytes in flight at once with 503, then takes them again', async () => {
    const size = 1.5 * MiB;
    const bodies = [setBody('a', size), setBody('b', size), setBody('c', size)];
    // Two uploads begun and held open reserve their declared lengths (3 MiB of 4).
    const held = await Promise.all(
      ['a', 'b'].map(async (key, i) => {
        const c = await rawConnect(port);
        const body = bodies[i] as Uint8Array;
        c.socket.write(head('PUT', `/_groupcache/g/${key}`, body.byteLength));
        c.socket.write(body.subarray(0, 1024));
        return { c, body };
      }),
    );
    await until(() => server.stats().inflightBytes > 2 * size);
    // The third does not fit: refused before its body is read.
    const third = await request(`${url}/_groupcache/g/c`, {
      method: 'PUT',
      body: bodies[2],
      dispatcher: agent,
    });
    await third.body.arrayBuffer();
    assert.equal(third.statusCode, 503);
    assert.equal(third.headers['retry-after'], '1');
    assert.equal(group.store.has('c'), false);
    const stats = server.stats();
    assert.ok(stats.peakInflightBytes <= stats.maxInflightBytes, 'never past the cap');
    assert.equal(stats.refusedRequests, 1);
    // The held uploads finish and are stored; their bytes are given back.
    for (const { c, body } of held) c.socket.write(body.subarray(1024));
    await until(() => group.store.has('a') && group.store.has('b'));
    await until(() => server.stats().inflightBytes === 0);
    const again = await request(`${url}/_groupcache/g/c`, {
      method: 'PUT',
      body: bodies[2],
      dispatcher: agent,
    });
    await again.body.arrayBuffer();
    assert.equal(again.statusCode, 200, 'a later PUT fits once the budget is free');
    assert.equal(group.store.get('c')?.value.byteLength, size);
    for (const { c } of held) c.socket.destroy();
  });
});

describe('HTTP peer server connection limit', { timeout: 30_000 }, () => {
  it('refuses connections past maxConnections, logs it, and keeps the others working', async () => {
    const group = new FakeGroup('g');
    group.store.set('k', { value: utf8('v'), expireAt: 0, minuteQps: 0 });
    const { logger, lines } = recordingLogger();
    const server = await httpTransport({ maxConnections: 12 }).serve(fakeLookup(group), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger,
    });
    const port = server.address.port;
    const kept = [];
    try {
      for (let i = 0; i < 12; i++) kept.push(await rawConnect(port));
      await until(() => server.stats().connections === 12);
      const excess = await Promise.all(
        Array.from({ length: 5 }, () => rawConnect(port).catch(() => undefined)),
      );
      await Promise.all(excess.map((c) => c?.closed));
      await until(() => server.stats().refusedConnections === 5);
      const warned = lines.filter((l) => l.level === 'warn' && l.fields.server === 'peer');
      assert.equal(warned.length, 1, 'one line per interval');
      assert.equal(warned[0]?.fields.refused, 1, 'the first refusal is logged at once');
      assert.equal(server.stats().connections, 12);
      // A kept connection still gets answers.
      const first = kept[0];
      assert.ok(first);
      first.socket.write('GET /_groupcache/g/k HTTP/1.1\r\nHost: peer\r\n\r\n');
      await until(() => first.text().endsWith('v'));
      assert.match(first.text(), /^HTTP\/1\.1 200/);
      // Once connections close, new ones are taken again.
      for (const c of kept.splice(0, 2)) c.socket.destroy();
      await until(() => server.stats().connections === 10);
      const later = await rawConnect(port);
      kept.push(later);
      later.socket.write('GET /_groupcache/g/k HTTP/1.1\r\nHost: peer\r\n\r\n');
      await until(() => later.text().endsWith('v'));
    } finally {
      for (const c of kept) c.socket.destroy();
      await server.close(100);
    }
  });
});
