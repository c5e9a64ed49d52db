// join-buffer.test.ts: frames joined for a write reuse one buffer only once the socket has
// handed every earlier write to the kernel; over a real connection whose reader stalls,
// every byte arrives as written.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { JOIN_BUFFER_BYTES, JoinBuffer } from './join-buffer.js';

const chunk = (n: number, fill: number) => Buffer.alloc(n, fill);

test('the buffer is reused while nothing is pending; a pending write or a large join is concatenated', () => {
  const socket = { writableLength: 0 };
  const join = new JoinBuffer(socket as unknown as Socket);
  const a = join.join([chunk(3, 1), chunk(2, 2)], 5);
  assert.deepEqual([...a], [1, 1, 1, 2, 2]);
  const b = join.join([chunk(4, 3), chunk(1, 4)], 5);
  assert.deepEqual([...b], [3, 3, 3, 3, 4]);
  assert.equal(b.buffer, a.buffer, 'nothing pending: the same memory');
  socket.writableLength = 5;
  const c = join.join([chunk(1, 5), chunk(1, 6)], 2);
  assert.deepEqual([...c], [5, 6]);
  assert.notEqual(c.buffer, b.buffer, 'a write pending: a buffer of its own');
  assert.deepEqual([...b], [3, 3, 3, 3, 4], 'the pending write’s bytes are left alone');
  socket.writableLength = 0;
  const d = join.join([chunk(2, 9)], 2);
  assert.equal(d.buffer, b.buffer, 'once nothing is pending, the kept buffer again');
  const big = join.join([chunk(20_000, 7), chunk(20_000, 8)], 40_000);
  assert.ok(JOIN_BUFFER_BYTES < 40_000);
  assert.notEqual(big.buffer, b.buffer, 'a join past the kept buffer’s size: its own');
  assert.ok(big.subarray(0, 20_000).every((x) => x === 7));
  assert.ok(big.subarray(20_000).every((x) => x === 8));
  const e = join.join([chunk(2, 1)], 2);
  assert.equal(e.buffer, b.buffer, 'a large join leaves the kept buffer as it was');
});

test('over a real connection whose reader stalls, every joined write arrives intact', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = await accepted;
  peer.pause();
  try {
    // 4 MiB in writes of 16 chunks of 1 KiB, each chunk's bytes its index: far past what
    // the kernel's buffers take while the peer does not read, so writes stay pending.
    const join = new JoinBuffer(client);
    const buffers = new Set<ArrayBufferLike>();
    let pendingSeen = false;
    const writes = 256;
    for (let w = 0; w < writes; w++) {
      const chunks = Array.from({ length: 16 }, (_, i) => chunk(1024, (w * 16 + i) % 251));
      if (client.writableLength > 0) pendingSeen = true;
      const joined = join.join(chunks, 16 * 1024);
      buffers.add(joined.buffer);
      client.write(joined);
    }
    assert.ok(pendingSeen, 'some writes were pending when the next was joined');
    assert.ok(buffers.size > 1, 'a pending write made the next join take a new buffer');
    const received: Buffer[] = [];
    let bytes = 0;
    const all = new Promise<void>((resolve) => {
      peer.on('data', (data: Buffer) => {
        received.push(data);
        bytes += data.length;
        if (bytes === writes * 16 * 1024) resolve();
      });
    });
    peer.resume();
    await all;
    const stream = Buffer.concat(received);
    for (let c = 0; c < writes * 16; c++) {
      const piece = stream.subarray(c * 1024, (c + 1) * 1024);
      assert.ok(
        piece.every((x) => x === c % 251),
        `chunk ${c} arrived as written`,
      );
    }
  } finally {
    client.destroy();
    peer.destroy();
    server.close();
  }
});
