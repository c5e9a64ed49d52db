// tcp-framing.test.ts: a fuzzer of the tcp transport's framing: random and mutated frames thrown
// at a real server (and a real client) over loopback; both must keep working and stay bounded.

import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import { GroupRegistry } from '../../src/core/registry.js';
import { isCacheError } from '../../src/errors.js';
import { encodeHello, encodeRequest, FrameType } from '../../src/transport/tcp/frame.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { seeded as rng } from '../support/seeded.js';
import { fuzzScale, fuzzSeed, fuzzTimeout } from './runs.js';

/** FUZZ_SEED replays a run; by default each run draws a new seed (printed on failure). */
const seed = fuzzSeed();
const limits = { maxValueBytes: 64 * 1024, maxKeyBytes: 256, requestTimeoutMs: 2_000 };
/** Bounds of the run: whichever comes first (FUZZ_SCALE multiplies both). */
const BATCHES = Math.round(40 * fuzzScale());
const CASES_PER_BATCH = 25;
const TIME_BUDGET_MS = fuzzTimeout(15_000);

/** Mutator makes one fuzz input from good frames. */
type Mutator = (r: () => number) => Buffer;

function randomBytes(r: () => number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

const int = (r: () => number, n: number) => Math.floor(r() * n);
const hello = encodeHello(undefined);

function goodRequest(r: () => number): Buffer {
  const types = [FrameType.Get, FrameType.Set, FrameType.Remove];
  const type = types[int(r, 3)] as number;
  const key = `k${int(r, 100)}`;
  const value = type === FrameType.Set ? randomBytes(r, int(r, 300)) : undefined;
  return encodeRequest(type, 1 + int(r, 1000), int(r, 5000), 'fuzz', 4, key, key.length, value);
}

const mutators: Record<string, Mutator> = {
  'random bytes': (r) => randomBytes(r, 1 + int(r, 512)),
  'random bytes after a HELLO': (r) => Buffer.concat([hello, randomBytes(r, 1 + int(r, 512))]),
  'a request without a HELLO': (r) => goodRequest(r),
  truncated: (r) => {
    const frame = Buffer.concat([hello, goodRequest(r)]);
    return frame.subarray(0, int(r, frame.length));
  },
  'bit flips': (r) => {
    const frame = Buffer.concat([hello, goodRequest(r), goodRequest(r)]);
    for (let i = 0, n = 1 + int(r, 4); i < n; i++) {
      const at = int(r, frame.length);
      frame[at] = (frame[at] as number) ^ (1 << int(r, 8));
    }
    return frame;
  },
  'bad length': (r) => {
    const frame = Buffer.concat([hello, goodRequest(r)]);
    frame.writeUInt32BE(int(r, 64), hello.length);
    return frame;
  },
  'huge declared length': (r) => {
    const head = Buffer.alloc(9);
    head.writeUInt32BE(0xffff_ff00 + int(r, 0xff), 0);
    head[4] = FrameType.Set;
    // Far more bytes than any frame may hold: none of it may be buffered.
    return Buffer.concat([hello, head, Buffer.alloc(256 * 1024, 7)]);
  },
  'garbage type': (r) => {
    const frame = Buffer.concat([hello, goodRequest(r)]);
    frame[hello.length + 4] = 0x07 + int(r, 0xf0);
    return frame;
  },
  'lengths inside the frame that lie': (r) => {
    const frame = Buffer.concat([hello, goodRequest(r)]);
    frame.writeUInt16BE(int(r, 0x10000), hello.length + 4 + 5 + 4 + 2 * int(r, 2));
    return frame;
  },
  'duplicate ids and cancels of nothing': (r) => {
    const id = 1 + int(r, 10);
    const cancel = Buffer.from([0, 0, 0, 5, FrameType.Cancel, 0, 0, 0, int(r, 20)]);
    const get = encodeRequest(FrameType.Get, id, 0, 'fuzz', 4, 'hold', 4);
    return Buffer.concat([hello, cancel, get, get]);
  },
};

/** throwAt writes `bytes` on a fresh connection and waits for the server to close it, or a little. */
function throwAt(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 100);
    socket.on('error', done);
    socket.on('close', done);
    socket.resume();
  });
}

describe(`tcp framing fuzz (FUZZ_SEED=${seed})`, { timeout: fuzzTimeout(60_000) }, () => {
  const registry = new GroupRegistry();
  let transport: PeerTransport;
  let server: PeerServer;
  let port: number;
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_fields, message) => warnings.push(message),
    error: (_fields, message) => warnings.push(message),
  };

  before(async () => {
    registry.newGroup('fuzz', {
      cacheBytes: 1 << 20,
      load: (key, { signal }) =>
        key === 'hold'
          ? new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(signal.reason)),
            )
          : `value of ${key}`,
    });
    transport = tcpTransport(limits);
    server = await transport.serve(registry, {
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      logger,
    });
    port = server.address.port;
  });
  after(async () => {
    await server.close(0);
    await transport.close();
  });

  it('the server survives every batch, closes bad connections with a warning, stays bounded', async () => {
    const r = rng(seed);
    const names = Object.keys(mutators);
    const good = transport.client(`http://127.0.0.1:${port}`);
    const started = Date.now();
    const memoryBefore = process.memoryUsage().arrayBuffers;
    let cases = 0;
    for (let batch = 0; batch < BATCHES && Date.now() - started < TIME_BUDGET_MS; batch++) {
      const inputs = Array.from({ length: CASES_PER_BATCH }, () => {
        const name = names[int(r, names.length)] as string;
        return (mutators[name] as Mutator)(r);
      });
      await Promise.all(inputs.map((bytes) => throwAt(port, bytes)));
      cases += inputs.length;
      const key = `after-batch-${batch}`;
      const got = await good.get('fuzz', key);
      assert.equal(Buffer.from(got.value).toString(), `value of ${key}`, `batch ${batch}`);
    }
    assert.ok(cases >= CASES_PER_BATCH, 'at least one batch ran');
    assert.ok(
      warnings.some((w) => w.includes('malformed frame')),
      'bad connections were closed with a logged warning',
    );
    // Each huge declared length came with 256 KiB the server must not have kept.
    const grown = process.memoryUsage().arrayBuffers - memoryBefore;
    assert.ok(grown < 64 * 1024 * 1024, `external memory grew by ${grown} bytes`);
  });

  it('a connection declaring a huge frame is closed before its bytes are buffered', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        const head = Buffer.alloc(9);
        head.writeUInt32BE(0xffff_fff0, 0);
        head[4] = FrameType.Get;
        socket.write(Buffer.concat([hello, head]));
      });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 2_000);
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.resume();
    });
    assert.ok(closed, 'the server closed the connection on the declared length alone');
  });
});

describe(`tcp client fuzz (FUZZ_SEED=${seed})`, { timeout: fuzzTimeout(60_000) }, () => {
  let fake: Server;
  let port: number;
  let answer: (request: Buffer) => Buffer = () => Buffer.alloc(0);
  const sockets = new Set<Socket>();

  before(async () => {
    // A fake peer that answers each chunk it reads with whatever the test chose.
    fake = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('data', (chunk) => {
        if (!socket.destroyed) socket.write(answer(chunk));
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const address = fake.address();
    assert.ok(address !== null && typeof address === 'object');
    port = address.port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  it('bad answers fail calls with a CacheError, never a crash or a hang', async () => {
    const r = rng(seed ^ 0x5eed);
    const transport = tcpTransport({ ...limits, requestTimeoutMs: 100, minBackoffMs: 0 });
    try {
      const client = transport.client(`http://127.0.0.1:${port}`);
      const started = Date.now();
      let failures = 0;
      for (let i = 0; i < 150 * fuzzScale() && Date.now() - started < TIME_BUDGET_MS / 2; i++) {
        const kind = int(r, 4);
        answer = (request) => {
          // The id of the chunk's first request, to make answers that almost fit.
          const at = request.subarray(0, hello.length).equals(hello) ? hello.length + 5 : 5;
          const id = request.length >= at + 4 ? request.readUInt32BE(at) : 1;
          const body = randomBytes(r, int(r, 40));
          const frame = Buffer.alloc(10 + body.length);
          frame.writeUInt32BE(6 + body.length, 0);
          frame[4] = FrameType.Response;
          frame.writeUInt32BE(id, 5);
          frame[9] = int(r, 12);
          body.copy(frame, 10);
          if (kind === 0) return randomBytes(r, 1 + int(r, 64));
          if (kind === 1) frame.writeUInt32BE(0xffff_fff0, 0);
          if (kind === 2) return frame.subarray(0, int(r, frame.length));
          return frame;
        };
        try {
          await client.get('fuzz', `k${i}`);
        } catch (err) {
          assert.ok(isCacheError(err), `a CacheError, got ${String(err)}`);
          failures++;
        }
      }
      assert.ok(failures > 0, 'garbage answers failed calls');
    } finally {
      await transport.close();
    }
  });
});
