// tcp-frame.test.ts: property-based fuzzing of the tcp transport's decoders: the frame reader
// against a reference split of the same stream, and request frames against a real server.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { noopLogger } from '../../src/core/logger.js';
import {
  codeOf,
  encodeCancel,
  encodeError,
  encodeHello,
  encodeOk,
  encodeRequest,
  FrameReader,
  FrameType,
  HEADER_BYTES,
  LENGTH_BYTES,
  OK,
  statusOf,
} from '../../src/transport/tcp/frame.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import {
  expect,
  fuzzRegistry,
  GROUP,
  groupBytes,
  keyBytes,
  LIMITS,
  loaded,
  mutated,
} from './fixtures.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from './runs.js';

const seed = fuzzSeed();

/** Split is what a reader must make of a stream: its whole frames, and whether it failed. */
interface Split {
  frames: Buffer[];
  failed: boolean;
  /** Bytes of an incomplete last frame (or length prefix), when not failed. */
  rest: number;
}

/** referenceSplit splits a whole stream at once, the plain way, as the wire format says. */
function referenceSplit(stream: Buffer, maxFrame: number): Split {
  const frames: Buffer[] = [];
  let at = 0;
  while (stream.length - at >= LENGTH_BYTES) {
    const length = stream.readUInt32BE(at);
    if (length < HEADER_BYTES || length > maxFrame) return { frames, failed: true, rest: 0 };
    if (at + LENGTH_BYTES + length > stream.length) break;
    frames.push(stream.subarray(at + LENGTH_BYTES, at + LENGTH_BYTES + length));
    at += LENGTH_BYTES + length;
  }
  return { frames, failed: false, rest: stream.length - at };
}

/** chunks cuts `stream` at the given offsets (taken modulo its length). */
function chunks(stream: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))];
  at.sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, stream.length]) {
    if (c > from) out.push(stream.subarray(from, c));
    from = Math.max(from, c);
  }
  return out;
}

/** validFrame draws one well-formed frame of any type a peer sends. */
const validFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.string({ maxLength: 20 }).map((secret) => encodeHello(secret)),
  fc
    .tuple(
      fc.constantFrom(FrameType.Get, FrameType.Set, FrameType.Remove),
      fc.nat(),
      fc.nat(),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'binary', maxLength: 16 }),
      fc.uint8Array({ maxLength: 100 }),
      fc.double(),
    )
    .map(([type, id, timeout, group, key, value, expireAt]) =>
      encodeRequest(
        type,
        id,
        timeout,
        group,
        Buffer.byteLength(group),
        key,
        Buffer.byteLength(key),
        type === FrameType.Set ? value : undefined,
        expireAt,
      ),
    ),
  fc.nat().map((id) => encodeCancel(id)),
  fc.nat().map((id) => encodeOk(id)),
  fc
    .tuple(fc.nat(), fc.constantFrom(...(['NOT_FOUND', 'INTERNAL'] as const)), fc.string())
    .map(([id, code, message]) => encodeError(id, code, message)),
);

describe(`tcp frame reader fuzz (FUZZ_SEED=${seed})`, () => {
  /** feed pushes `parts` through a reader, checking its bound after each, and returns its split. */
  function feed(parts: Buffer[], maxFrame: number): Split {
    const frames: Buffer[] = [];
    const reader = new FrameReader(maxFrame, (buf, start, end) => {
      assert.ok(start >= LENGTH_BYTES && end <= buf.length && start <= end);
      frames.push(Buffer.from(buf.subarray(start, end)));
    });
    let failed = false;
    for (const part of parts) {
      const error = reader.push(part);
      // The length alone decides: at most one frame of the limit is ever held.
      assert.ok(reader.buffered <= LENGTH_BYTES + maxFrame, `holds ${reader.buffered} bytes`);
      if (failed) assert.equal(typeof error, 'string', 'a failed reader refuses all input');
      if (error !== undefined && !failed) {
        assert.match(error, /^bad frame length \d+/);
        failed = true;
      }
    }
    return { frames, failed, rest: failed ? 0 : reader.buffered };
  }

  it('hands over valid frames whole and in order, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(validFrame, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames);
          const split = feed(chunks(stream, cuts), 64 * 1024);
          assert.equal(split.failed, false);
          assert.equal(split.rest, 0);
          assert.deepEqual(
            split.frames,
            frames.map((f) => f.subarray(LENGTH_BYTES)),
          );
        },
      ),
      fuzzRuns(400, seed),
    );
  });

  it('splits any bytes as the reference does, whatever the chunks, and never holds past its limit', () => {
    const stream = fc.oneof(
      fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
      // Valid frames with a few length prefixes rewritten to anything, huge ones included.
      fc
        .tuple(
          fc.array(validFrame, { minLength: 1, maxLength: 6 }),
          fc.array(fc.tuple(fc.nat(), fc.oneof(fc.nat(64), fc.nat(), fc.constant(0xffff_ffff))), {
            maxLength: 3,
          }),
        )
        .map(([frames, lies]) => {
          const out = frames.map((f) => Buffer.from(f));
          for (const [which, length] of lies)
            out[which % out.length]!.writeUInt32BE(length >>> 0, 0);
          return Buffer.concat(out);
        }),
    );
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: HEADER_BYTES, max: 300 }),
        (bytes, cuts, maxFrame) => {
          const want = referenceSplit(bytes, maxFrame);
          const got = feed(chunks(bytes, cuts), maxFrame);
          assert.equal(got.failed, want.failed);
          assert.deepEqual(got.frames, want.frames);
          assert.equal(got.rest, want.rest);
        },
      ),
      fuzzRuns(600, seed),
    );
  });
});

/** Reply is one decoded answer frame. */
interface Reply {
  id: number;
  status: number;
  body: Buffer;
}

/** RawPeer is a raw tcp connection to a server: it writes frames and reads answers by id. */
class RawPeer {
  readonly #socket: Socket;
  readonly #waiting = new Map<number, (reply: Reply) => void>();
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    const reader = new FrameReader(1 << 20, (buf, start, end) => {
      assert.equal(buf[start], FrameType.Response);
      const id = buf.readUInt32BE(start + 1);
      const reply = {
        id,
        status: buf[start + HEADER_BYTES]!,
        body: Buffer.from(buf.subarray(start + HEADER_BYTES + 1, end)),
      };
      this.#waiting.get(id)?.(reply);
      this.#waiting.delete(id);
    });
    socket.on('data', (chunk) => assert.equal(reader.push(chunk), undefined));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
    });
  }

  /** open connects to `port` and says HELLO. */
  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(encodeHello(undefined));
        resolve(new RawPeer(socket));
      });
      socket.once('error', reject);
    });
  }

  /** ask writes `frame` (whose id is `id`) and resolves with its answer. */
  ask(id: number, frame: Buffer): Promise<Reply> {
    assert.equal(this.#closed, false, 'the server closed a connection that sent only good frames');
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#socket.write(frame);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** request builds a GET, SET or REMOVE frame whose group and key are raw bytes. */
function request(
  type: number,
  id: number,
  group: Uint8Array,
  key: Uint8Array,
  value?: Uint8Array,
): Buffer {
  const fixed = Buffer.alloc(type === FrameType.Set ? 16 : 8);
  fixed.writeUInt16BE(group.byteLength, 4);
  fixed.writeUInt16BE(key.byteLength, 6);
  const body = Buffer.concat([fixed, group, key, value ?? new Uint8Array(0)]);
  const head = Buffer.alloc(LENGTH_BYTES + HEADER_BYTES);
  head.writeUInt32BE(HEADER_BYTES + body.length, 0);
  head[4] = type;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, body]);
}

/** splitText draws a group and key that cut one well-formed text inside a character. */
const splitText = fc
  .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.nat())
  .map(([text, cut]) => {
    const bytes = Buffer.from(`${GROUP}${text}`, 'utf8');
    const at = GROUP.length + (cut % (bytes.length - GROUP.length));
    return [new Uint8Array(bytes.subarray(0, at)), new Uint8Array(bytes.subarray(at))] as const;
  });

describe(`tcp server request decoding fuzz (FUZZ_SEED=${seed})`, {
  timeout: fuzzTimeout(60_000),
}, () => {
  let transport: PeerTransport;
  let server: PeerServer;
  let peer: RawPeer;
  let nextId = 1;

  before(async () => {
    transport = tcpTransport(LIMITS);
    server = await transport.serve(fuzzRegistry(), {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger: noopLogger,
    });
    peer = await RawPeer.open(server.address.port);
  });
  after(async () => {
    peer.close();
    await server.close(0);
    await transport.close();
  });

  /** statusFor is the status the tcp server must answer; it checks a key's size before its bytes. */
  function statusFor(group: Uint8Array, key: Uint8Array): { status: number; key?: string } {
    if (key.byteLength > LIMITS.maxKeyBytes) return { status: statusOf('TOO_LARGE') };
    const expected = expect(group, key);
    switch (expected.kind) {
      case 'malformed':
      case 'empty key':
        return { status: statusOf('INVALID_ARGUMENT') };
      case 'key too large':
        return { status: statusOf('TOO_LARGE') };
      case 'no such group':
        return { status: statusOf('UNAVAILABLE') };
      case 'ok':
        return { status: OK, key: expected.key };
    }
  }

  const pairs = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(groupBytes(), keyBytes()) },
    { weight: 1, arbitrary: splitText },
  );

  it('answers a GET of any group and key bytes as the model says, and serves the exact key', async () => {
    await fc.assert(
      fc.asyncProperty(pairs, async ([group, key]) => {
        const id = nextId++;
        const want = statusFor(group, key);
        const reply = await peer.ask(id, request(FrameType.Get, id, group, key));
        assert.equal(
          reply.status,
          want.status,
          `${codeOf(reply.status) ?? 'OK'}: ${reply.body.toString()}`,
        );
        if (want.key !== undefined) {
          // status, then expireAt (8) and minuteQps (8), then the value.
          assert.equal(reply.body.subarray(16).toString('utf8'), loaded(want.key));
        }
      }),
      fuzzRuns(200, seed),
    );
  });

  it('stores a SET under the exact key, and REMOVE drops exactly that key', async () => {
    await fc.assert(
      fc.asyncProperty(pairs, fc.uint8Array({ maxLength: 64 }), async ([group, key], value) => {
        const want = statusFor(group, key);
        const id = nextId++;
        const set = await peer.ask(id, request(FrameType.Set, id, group, key, value));
        assert.equal(set.status, want.status, set.body.toString());
        if (want.key === undefined) return;
        const getId = nextId++;
        const got = await peer.ask(getId, request(FrameType.Get, getId, group, key));
        assert.equal(got.status, OK);
        assert.deepEqual(got.body.subarray(16), Buffer.from(value));
        const removeId = nextId++;
        assert.equal(
          (await peer.ask(removeId, request(FrameType.Remove, removeId, group, key))).status,
          OK,
        );
      }),
      fuzzRuns(100, seed),
    );
  });

  it('answers mutated and random frames from the status table or closes, and keeps serving', async () => {
    const valid = fc
      .tuple(
        fc.constantFrom(FrameType.Get, FrameType.Set, FrameType.Remove),
        fc.nat(),
        groupBytes(),
        keyBytes(),
        fc.uint8Array({ maxLength: 64 }),
      )
      .map(([type, id, group, key, value]) =>
        request(type, id, group, key, type === FrameType.Set ? value : undefined),
      );
    const frames = fc
      .array(fc.oneof(valid, valid.chain(mutated), fc.uint8Array({ maxLength: 32 })), {
        minLength: 1,
        maxLength: 4,
      })
      .map((parts) => Buffer.concat(parts));
    await fc.assert(
      fc.asyncProperty(frames, async (bytes) => {
        const replies = await exchange(server.address.port, bytes);
        for (const reply of replies) {
          assert.ok(
            reply.status === OK || codeOf(reply.status) !== undefined,
            `status ${reply.status} is in no version's table`,
          );
        }
        const id = nextId++;
        const key = `good ${id}`;
        const reply = await peer.ask(
          id,
          request(FrameType.Get, id, Buffer.from(GROUP), Buffer.from(key)),
        );
        assert.equal(reply.status, OK, 'the server still answers');
        assert.equal(reply.body.subarray(16).toString(), loaded(key));
      }),
      fuzzRuns(150, seed),
    );
  });
});

/**
 * exchange says HELLO on a connection of its own, writes `bytes`, ends its side,
 * and resolves with the answers read before the server closed the connection;
 * it fails if they are not well-formed frames, or if the server keeps the
 * connection past a bound.
 */
function exchange(port: number, bytes: Buffer): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    const reader = new FrameReader(1 << 20, (buf, start, end) => {
      if (buf[start] !== FrameType.Response || end - start < HEADER_BYTES + 1) {
        reject(new Error(`a malformed answer: type ${buf[start]}, ${end - start} bytes`));
        return;
      }
      const id = buf.readUInt32BE(start + 1);
      const body = Buffer.from(buf.subarray(start + HEADER_BYTES + 1, end));
      replies.push({ id, status: buf[start + HEADER_BYTES]!, body });
    });
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(Buffer.concat([encodeHello(undefined), bytes]));
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept a finished connection open for 10 s'));
    }, 10_000);
    socket.on('data', (chunk) => {
      const error = reader.push(chunk);
      if (error !== undefined) reject(new Error(`answers: ${error}`));
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
  });
}
