// send-queue.test.ts: the client's send queue: nothing written before the connection is made
// or while the socket needs draining, bounds by frames and bytes, withdrawn frames never written.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { SendQueue } from './send-queue.js';

/** A socket that records its writes and reports a full buffer once `room` bytes are taken. */
class FakeSocket extends EventEmitter {
  writes: Buffer[] = [];
  destroyed = false;
  writableNeedDrain = false;
  room = Number.POSITIVE_INFINITY;
  write(chunk: Buffer): boolean {
    this.writes.push(Buffer.from(chunk));
    this.room -= chunk.length;
    if (this.room <= 0) this.writableNeedDrain = true;
    return !this.writableNeedDrain;
  }
  drain(room: number): void {
    this.room = room;
    this.writableNeedDrain = false;
    this.emit('drain');
  }
}

const frame = (byte: number, n = 10) => Buffer.alloc(n, byte);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('nothing is written before open; then the frames of a turn leave in one write', async () => {
  const socket = new FakeSocket();
  const q = new SendQueue(socket as unknown as Socket, { maxRequests: 10, maxBytes: 1000 });
  q.offer(frame(1));
  q.offer(frame(2));
  await turn();
  assert.equal(socket.writes.length, 0);
  q.open();
  assert.deepEqual(socket.writes, [Buffer.concat([frame(1), frame(2)])]);
  assert.equal(q.waiting, 0);
  assert.equal(q.bytes, 0);
});

test('past its bounds a frame is refused; the first is let in whatever its size', () => {
  const socket = new FakeSocket();
  const byCount = new SendQueue(socket as unknown as Socket, { maxRequests: 2, maxBytes: 1000 });
  assert.ok(byCount.offer(frame(1)));
  assert.ok(byCount.offer(frame(2)));
  assert.equal(byCount.offer(frame(3)), undefined);
  const byBytes = new SendQueue(socket as unknown as Socket, { maxRequests: 10, maxBytes: 25 });
  assert.ok(byBytes.offer(frame(1, 100)), 'alone, a frame over the bound is let in');
  assert.equal(byBytes.offer(frame(2, 1)), undefined);
  assert.ok(byBytes.offer(frame(3, 1), false), 'unbounded frames always are');
});

test('a withdrawn frame is never written and frees its room', async () => {
  const socket = new FakeSocket();
  const q = new SendQueue(socket as unknown as Socket, { maxRequests: 2, maxBytes: 1000 });
  const a = q.offer(frame(1));
  q.offer(frame(2));
  assert.ok(a !== undefined);
  assert.equal(q.withdraw(a), true);
  assert.equal(q.withdraw(a), false, 'once');
  assert.ok(q.offer(frame(3)), 'room again');
  q.open();
  assert.deepEqual(socket.writes, [Buffer.concat([frame(2), frame(3)])]);
  const written = q.offer(frame(4));
  await turn();
  assert.ok(written !== undefined);
  assert.equal(q.withdraw(written), false, 'too late once written');
});

test('writing stops while the socket needs draining and goes on at drain', async () => {
  const socket = new FakeSocket();
  socket.room = 150;
  const q = new SendQueue(socket as unknown as Socket, { maxRequests: 100, maxBytes: 1024 * 1024 });
  q.open();
  // Frames over 64 KiB in total are not joined: large ones go one per write.
  for (let i = 0; i < 4; i++) q.offer(frame(i, 100));
  await turn();
  assert.equal(socket.writes.length, 1, 'one write joined the four small frames');
  socket.writes = [];
  const big = 40 * 1024;
  for (let i = 0; i < 4; i++) q.offer(frame(i, big));
  await turn();
  assert.equal(socket.writes.length, 0, 'the socket still needs draining');
  assert.equal(q.waiting, 4);
  socket.drain(big + 1);
  assert.equal(socket.writes.length, 2, 'written until the buffer was full again');
  assert.equal(q.waiting, 2);
  socket.drain(Number.POSITIVE_INFINITY);
  assert.equal(q.waiting, 0);
  assert.deepEqual(
    socket.writes.map((w) => w[0]),
    [0, 1, 2, 3],
  );
});
