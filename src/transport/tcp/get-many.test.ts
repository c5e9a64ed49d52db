// get-many.test.ts: the tcp GET_MANY frame over real sockets: its encoding both ways, a
// server of protocol 1 (which refuses a HELLO of 2) getting single GETs, and the same address
// upgraded to the current server getting GET_MANY on the next connection; the server's batch
// limits, an answer with no room for every value, and CANCEL of a batch.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { within } from '../../../test/support/process.js';
import { noopLogger } from '../../core/logger.js';
import type { GroupLookup, PeerServedGroup, PeerValue } from '../../core/peers.js';
import { isCacheError, NotFoundError } from '../../errors.js';
import { MAX_BATCH_KEY_BYTES, MAX_BATCH_KEYS } from '../../limits.js';
import {
  encodeCancel,
  encodeError,
  encodeGetMany,
  encodeGetManyAnswer,
  encodeGetOkHeader,
  encodeHello,
  encodeHelloOk,
  encodeRequest,
  FrameReader,
  FrameType,
  GET_OK_FIXED_BYTES,
  HEADER_BYTES,
  LENGTH_BYTES,
  type ManyEntry,
  OK,
  PROTOCOL_VERSION,
  readGetMany,
  readGetManyAnswer,
  SKIPPED,
  statusOf,
} from './frame.js';
import { serveTcp, type TcpPeerServer } from './server.js';
import { tcpTransport } from './transport.js';

const text = (v: Uint8Array) => Buffer.from(v).toString('utf8');
const MiB = 1024 * 1024;

/** A group answering `v:<key>`, `size:N` with N bytes, `missing…` not found, `hold…` never. */
function testGroup(aborted: string[] = []): PeerServedGroup {
  return {
    name: 'g',
    getForPeer(key, options) {
      if (key.startsWith('missing')) return Promise.reject(new NotFoundError('not found'));
      const size = /^size:(\d+)$/.exec(key);
      if (size) return { value: Buffer.alloc(Number(size[1]), 7), expireAt: 0, minuteQps: 0 };
      if (key.startsWith('hold')) {
        return new Promise<PeerValue>((_, reject) => {
          options?.signal?.addEventListener('abort', () => {
            aborted.push(key);
            reject(options.signal?.reason);
          });
        });
      }
      return { value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 };
    },
    setFromPeer() {},
    removeFromPeer() {},
  };
}

describe('GET_MANY frames', () => {
  it('a request reads back as written', () => {
    const keys = ['a', 'ключ', ''];
    const frame = encodeGetMany(7, 1500, 4096, 'grp', 3, keys, [1, 8, 0]);
    assert.equal(frame.readUInt32BE(0), frame.length - LENGTH_BYTES);
    assert.equal(frame[4], FrameType.GetMany);
    const read = readGetMany(frame, LENGTH_BYTES + HEADER_BYTES, frame.length);
    assert.ok(typeof read !== 'string', String(read));
    assert.equal(read.timeoutMs, 1500);
    assert.equal(read.maxAnswerBytes, 4096);
    assert.equal(frame.toString('utf8', read.groupAt, read.groupEnd), 'grp');
    assert.deepEqual(
      read.keyAt.map((at, i) => frame.toString('utf8', at, read.keyEnd[i])),
      keys,
    );
    // Lengths that do not add up to the frame are malformed.
    assert.equal(
      typeof readGetMany(frame, LENGTH_BYTES + HEADER_BYTES, frame.length - 1),
      'string',
    );
  });

  it('an answer reads back entry by entry; what has no room is SKIPPED', () => {
    const entries: ManyEntry[] = [
      { status: OK, expireAt: 123, minuteQps: 4.5, value: new TextEncoder().encode('one') },
      { status: statusOf('NOT_FOUND'), message: 'not found' },
      { status: OK, expireAt: 0, minuteQps: 0, value: Buffer.alloc(100, 1) },
      { status: OK, expireAt: 0, minuteQps: 0, value: new Uint8Array(0) },
    ];
    const frame = encodeGetManyAnswer(9, entries, 80);
    assert.ok(frame.length - LENGTH_BYTES - HEADER_BYTES - 1 <= 80);
    const read = readGetManyAnswer(frame, LENGTH_BYTES + HEADER_BYTES + 1, frame.length, 4);
    assert.ok(typeof read !== 'string', String(read));
    assert.deepEqual(read[0], entries[0]);
    assert.deepEqual(read[1], entries[1]);
    assert.equal(read[2]?.status, SKIPPED, 'the 100-byte value had no room');
    assert.deepEqual(read[3], entries[3]);
    assert.equal(typeof readGetManyAnswer(frame, 10, frame.length, 5), 'string');
  });
});

describe('tcp getMany', () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function server(
    lookup: GroupLookup,
    maxValueBytes = 4 * MiB,
    port = 0,
  ): Promise<TcpPeerServer> {
    const s = await serveTcp(lookup, {
      host: '127.0.0.1',
      port,
      signal: new AbortController().signal,
      logger: noopLogger,
      maxKeyBytes: 256,
      maxValueBytes,
      maxInFlight: 64,
      maxConnections: 64,
      maxInflightBytes: 64 * MiB,
      handshakeTimeoutMs: 10_000,
      readTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
    });
    cleanup.push(() => s.close(0));
    return s;
  }

  function client(port: number, maxValueBytes?: number) {
    const transport = tcpTransport(maxValueBytes === undefined ? {} : { maxValueBytes });
    cleanup.push(() => transport.close());
    return transport.client(`http://127.0.0.1:${port}`);
  }

  it('a server whose answer has no room for every value: the rest are asked again with GETs', async () => {
    let lookups = 0;
    const group = testGroup();
    const s = await server({
      getGroup: (name) => {
        lookups++;
        return name === 'g' ? group : undefined;
      },
    });
    // The client takes values of up to 1,000 bytes, so its batch answers hold about that much.
    const c = client(s.address.port, 1000);
    const keys = ['size:600', 'size:601', 'size:602', 'a', 'missing-1'];
    const answer = await within(
      c.getMany?.('g', keys) ?? Promise.reject(new Error('no getMany')),
      10_000,
      'the call',
    );
    for (const [i, n] of [600, 601, 602].entries()) {
      const got = answer.get(keys[i] as string) as PeerValue;
      assert.equal(got.value.byteLength, n);
    }
    assert.equal(text((answer.get('a') as PeerValue).value), 'v:a');
    assert.ok(isCacheError(answer.get('missing-1'), 'NOT_FOUND'));
    // One GET_MANY, then a GET for each value that did not fit (two of the three).
    assert.equal(lookups, 3);
  });

  it('a server of protocol 1 refuses the HELLO of 2: the client says 1 and sends one GET per key', async () => {
    const old = await protocolOneServer();
    cleanup.push(() => old.close());
    const c = client(old.port);
    // A GET sent right behind the refused HELLO is sent again, and answered.
    const [single, answer] = await within(
      Promise.all([c.get('g', 'first'), c.getMany?.('g', ['a', 'b', 'c']) ?? Promise.reject()]),
      10_000,
      'the calls',
    );
    assert.equal(text(single.value), 'v:first');
    assert.deepEqual(
      [...answer].map(([k, v]) => [k, text((v as PeerValue).value)]),
      [
        ['a', 'v:a'],
        ['b', 'v:b'],
        ['c', 'v:c'],
      ],
    );
    const again = await within(
      c.getMany?.('g', ['d', 'e']) ?? Promise.reject(),
      10_000,
      'the call',
    );
    assert.equal(again.size, 2);
    assert.deepEqual(old.hellos, [PROTOCOL_VERSION, 1]);
    assert.equal(old.gets, 6);
    assert.equal(old.unknownFrames, 0, 'no GET_MANY ever reached it');
  });

  it('a batch whose acknowledged connection breaks before it is sent goes as single gets, never as a GET_MANY behind an unanswered HELLO', async () => {
    const old = await protocolOneServer({ firstAckedTwice: true });
    cleanup.push(() => old.close());
    const c = client(old.port);
    // The first connection is acknowledged, then dropped in the same turn; the batch, sent
    // once the acknowledgement was seen, finds a new connection whose HELLO (of 2) the old
    // peer refuses.
    const answer = await within(
      c.getMany?.('g', ['a', 'b']) ?? Promise.reject(),
      10_000,
      'the call',
    );
    assert.deepEqual(
      [...answer].map(([k, v]) => [k, text((v as PeerValue).value)]),
      [
        ['a', 'v:a'],
        ['b', 'v:b'],
      ],
    );
    assert.deepEqual(old.hellos, [PROTOCOL_VERSION, PROTOCOL_VERSION, 1]);
    assert.equal(old.gets, 2);
    assert.equal(old.unknownFrames, 0, 'no GET_MANY ever reached it');
  });

  it('a batch that races the client being closed fails UNAVAILABLE and dials nothing', async () => {
    const s = await server({ getGroup: (name) => (name === 'g' ? testGroup() : undefined) });
    const transport = tcpTransport();
    const c = transport.client(`http://127.0.0.1:${s.address.port}`);
    await within(c.getMany?.('g', ['a']) ?? Promise.reject(), 10_000, 'the first call');
    // Its connection is acknowledged: the next batch goes on after one await, by when the
    // client is closed.
    const racing = c.getMany?.('g', ['b']) ?? Promise.reject();
    const closed = transport.close();
    await within(
      assert.rejects(racing, (err: unknown) => isCacheError(err, 'UNAVAILABLE')),
      10_000,
      'the racing call',
    );
    await closed;
    for (let i = 0; i < 20 && s.stats().connections > 0; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert.equal(s.stats().connections, 0, 'no connection made after the close');
  });

  it('each connection offers protocol 2 afresh: a peer upgraded behind the same address gets GET_MANY on the next one', async () => {
    const old = await protocolOneServer();
    cleanup.push(() => old.close());
    const transport = tcpTransport();
    cleanup.push(() => transport.close());
    const url = `http://127.0.0.1:${old.port}`;
    const c = transport.client(url);
    const stats = () => transport.clientStats(url) ?? assert.fail('no client open');
    const disconnected = () =>
      within(
        (async () => {
          while (stats().connected) await new Promise<void>((r) => setImmediate(r));
        })(),
        10_000,
        'the client sees its connection closed',
      );
    const values = (answer: Map<string, unknown>) =>
      [...answer].map(([k, v]) => [k, text((v as PeerValue).value)]);

    const first = await within(c.getMany?.('g', ['a', 'b']) ?? Promise.reject(), 10_000, 'a call');
    assert.deepEqual(values(first), [
      ['a', 'v:a'],
      ['b', 'v:b'],
    ]);
    assert.deepEqual(old.hellos, [PROTOCOL_VERSION, 1]);

    // The same old peer drops the connection: the next one offers 2 again, is refused
    // again, and speaks 1.
    old.dropConnections();
    await disconnected();
    const second = await within(c.getMany?.('g', ['c']) ?? Promise.reject(), 10_000, 'a call');
    assert.deepEqual(values(second), [['c', 'v:c']]);
    assert.deepEqual(old.hellos, [PROTOCOL_VERSION, 1, PROTOCOL_VERSION, 1]);
    assert.equal(old.gets, 3);
    assert.equal(old.unknownFrames, 0, 'no GET_MANY ever reached the old peer');

    // A rolling restart: the old peer goes, the current server takes its port.
    await old.close();
    await disconnected();
    let lookups = 0;
    const served: string[] = [];
    const group = testGroup();
    const upgraded = await server(
      {
        getGroup: (name) => {
          lookups++;
          return name === 'g'
            ? {
                ...group,
                getForPeer: (key, options) => {
                  served.push(key);
                  return group.getForPeer(key, options);
                },
              }
            : undefined;
        },
      },
      4 * MiB,
      old.port,
    );
    assert.equal(upgraded.address.port, old.port);
    const third = await within(
      c.getMany?.('g', ['x', 'y', 'z']) ?? Promise.reject(),
      10_000,
      'a call',
    );
    assert.deepEqual(values(third), [
      ['x', 'v:x'],
      ['y', 'v:y'],
      ['z', 'v:z'],
    ]);
    // One frame asked for the three keys: a GET_MANY (single GETs would be a lookup each).
    assert.deepEqual(served, ['x', 'y', 'z']);
    assert.equal(lookups, 1, 'one GET_MANY, not a GET per key');
    // Two dials to the old peer per connection (2 refused, then 1), one to the upgraded one.
    assert.equal(stats().dials, 5);
  });

  it('refuses a batch over the key count or key bytes TOO_LARGE, and the connection goes on', async () => {
    const s = await server({ getGroup: (name) => (name === 'g' ? testGroup() : undefined) });
    const conn = await rawConnection(s.address.port);
    const many = Array.from({ length: MAX_BATCH_KEYS + 1 }, (_, i) => `k${i}`);
    conn.send(batch(1, many));
    const long = 'x'.repeat(257);
    const bytes = Array.from(
      { length: Math.ceil(MAX_BATCH_KEY_BYTES / 256) + 1 },
      (_, i) => `${i}${'x'.repeat(250)}`,
    );
    conn.send(batch(2, bytes));
    conn.send(batch(3, ['a', '', long, 'missing']));
    conn.send(encodeRequest(FrameType.Get, 4, 0, 'g', 1, 'b', 1));
    const answers = await within(conn.answers(4), 10_000, 'the call');
    assert.equal(answers.get(1)?.status, statusOf('TOO_LARGE'));
    assert.match(answers.get(1)?.message ?? '', /1001 keys/);
    assert.equal(answers.get(2)?.status, statusOf('TOO_LARGE'));
    const entries = answers.get(3)?.entries ?? [];
    assert.deepEqual(
      entries.map((e) => e.status),
      [OK, statusOf('INVALID_ARGUMENT'), statusOf('TOO_LARGE'), statusOf('NOT_FOUND')],
    );
    assert.equal(answers.get(4)?.status, OK, 'the connection still serves');
  });

  it("the request carries the asker's generation, the answer the oldest of its values'", async () => {
    const asked: (number | undefined)[] = [];
    const group: PeerServedGroup = {
      ...testGroup(),
      getForPeer(key, options) {
        asked.push(options?.generation);
        return {
          value: Buffer.from(`v:${key}`),
          expireAt: 0,
          minuteQps: 0,
          generation: key === 'old' ? 7 : 9,
        };
      },
    };
    const s = await server({ getGroup: () => group });
    const c = client(s.address.port);
    const answer = await within(
      c.getMany?.('g', ['old', 'new'], { generation: 8 }) ?? Promise.reject(),
      10_000,
      'the call',
    );
    assert.deepEqual(asked, [8, 8]);
    assert.deepEqual(
      [...answer.values()].map((v) => (v as PeerValue).generation),
      [7, 7],
    );
  });

  it('a CANCEL of a batch aborts its loads; nothing is answered for it', async () => {
    const aborted: string[] = [];
    const group = testGroup(aborted);
    const s = await server({ getGroup: () => group });
    const conn = await rawConnection(s.address.port);
    conn.send(batch(1, ['hold-1', 'hold-2', 'a']));
    conn.send(encodeCancel(1));
    conn.send(encodeRequest(FrameType.Get, 2, 0, 'g', 1, 'b', 1));
    const answers = await within(conn.answers(1), 10_000, 'the call');
    assert.deepEqual([...answers.keys()], [2]);
    assert.deepEqual(aborted.toSorted(), ['hold-1', 'hold-2']);
  });
});

/** batch builds a GET_MANY of `keys` for group `g` that takes answers of up to 1 MiB. */
function batch(id: number, keys: string[]): Buffer {
  return encodeGetMany(
    id,
    0,
    MiB,
    'g',
    1,
    keys,
    keys.map((k) => Buffer.byteLength(k)),
  );
}

interface RawAnswer {
  status: number;
  message?: string;
  entries?: ManyEntry[];
}

/**
 * rawConnection speaks version 2 to a server: a HELLO, then what the test sends; `answers`
 * resolves with the first `n` answers by id (a GET_MANY's entries read for its keys).
 */
async function rawConnection(port: number) {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const counts = new Map<number, number>();
  const got = new Map<number, RawAnswer>();
  const waiters: (() => void)[] = [];
  const reader = new FrameReader(64 * MiB, (buf, start, end) => {
    const id = buf.readUInt32BE(start + 1);
    if (id === 0) return; // the HELLO's OK
    const status = buf[start + HEADER_BYTES] as number;
    const at = start + HEADER_BYTES + 1;
    const count = counts.get(id);
    if (status === OK && count !== undefined) {
      const entries = readGetManyAnswer(buf, at, end, count);
      got.set(id, { status, entries: typeof entries === 'string' ? [] : entries });
    } else {
      got.set(id, { status, message: buf.toString('utf8', at, end) });
    }
    for (const w of waiters) w();
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.write(encodeHello(undefined, undefined, PROTOCOL_VERSION));
  return {
    send(frame: Buffer) {
      if (frame[4] === FrameType.GetMany) {
        const read = readGetMany(frame, LENGTH_BYTES + HEADER_BYTES, frame.length);
        if (typeof read !== 'string') counts.set(frame.readUInt32BE(5), read.keyAt.length);
      }
      socket.write(frame);
    },
    answers(n: number): Promise<Map<number, RawAnswer>> {
      return new Promise((resolve) => {
        const check = () => {
          if (got.size >= n) resolve(got);
        };
        waiters.push(check);
        check();
      });
    },
  };
}

/**
 * protocolOneServer is a tcp server as protocol 1 had it: a HELLO of another version is
 * refused (INVALID_ARGUMENT on id 0, then the connection ends), GETs are answered `v:<key>`,
 * and an unknown frame type closes the connection. With `firstAckedTwice`, its first
 * connection instead accepts the HELLO of 2 and, in the same write, says so a second time,
 * which the client takes for a broken peer and drops the connection on.
 */
async function protocolOneServer(options: { firstAckedTwice?: boolean } = {}) {
  let connections = 0;
  const state = { hellos: [] as number[], gets: 0, unknownFrames: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let helloed = false;
    let refused = false;
    const ackedTwice = options.firstAckedTwice === true && ++connections === 1;
    const reader = new FrameReader(MiB, (buf, start, end) => {
      if (refused) return;
      const type = buf[start];
      const id = buf.readUInt32BE(start + 1);
      const at = start + HEADER_BYTES;
      if (!helloed) {
        const version = buf[at] as number;
        state.hellos.push(version);
        if (ackedTwice) {
          refused = true;
          socket.write(Buffer.concat([encodeHelloOk(), encodeHelloOk()]));
          return;
        }
        if (version !== 1) {
          refused = true;
          socket.end(encodeError(0, 'INVALID_ARGUMENT', `unsupported protocol version ${version}`));
          return;
        }
        helloed = true;
        return;
      }
      if (type !== FrameType.Get) {
        state.unknownFrames++;
        socket.destroy();
        return;
      }
      state.gets++;
      const groupBytes = buf.readUInt16BE(at + 4);
      const key = buf.toString('utf8', at + 8 + groupBytes, end);
      const value = Buffer.from(`v:${key}`);
      const frame = encodeGetOkHeader(id, 0, 0, value.length, value.length);
      value.copy(frame, LENGTH_BYTES + HEADER_BYTES + GET_OK_FIXED_BYTES);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    get hellos() {
      return state.hellos;
    },
    get gets() {
      return state.gets;
    },
    get unknownFrames() {
      return state.unknownFrames;
    },
    /** dropConnections closes every connection open to it; it still listens. */
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
