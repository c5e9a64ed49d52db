// outbox.test.ts: frames queued in one turn leave together, a full batch leaves at
// once, order is kept, and end() writes what is queued before half-closing.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { Outbox } from './outbox.js';

/** A socket that records its writes (joined per call) and whether it was ended. */
class RecordingSocket extends EventEmitter {
  writes: Buffer[] = [];
  ended = false;
  destroyed = false;
  paused = false;
  #corked: Buffer[] | undefined;
  write(chunk: Uint8Array): boolean {
    if (this.#corked !== undefined) this.#corked.push(Buffer.from(chunk));
    else this.writes.push(Buffer.from(chunk));
    return true;
  }
  cork(): void {
    this.#corked = [];
  }
  uncork(): void {
    this.writes.push(Buffer.concat(this.#corked ?? []));
    this.#corked = undefined;
  }
  end(): void {
    this.ended = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

const frame = (i: number) => Buffer.from([i]);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('frames of one turn leave in one write at the end of the turn', async () => {
  const socket = new RecordingSocket();
  const out = new Outbox(socket as unknown as Socket);
  for (let i = 0; i < 5; i++) out.push(frame(i));
  assert.equal(socket.writes.length, 0);
  await turn();
  assert.deepEqual(socket.writes, [Buffer.from([0, 1, 2, 3, 4])]);
});

test('a batch of 16 frames leaves at once; the rest at the end of the turn, in order', async () => {
  const socket = new RecordingSocket();
  const out = new Outbox(socket as unknown as Socket);
  for (let i = 0; i < 40; i++) out.push(frame(i));
  assert.equal(socket.writes.length, 2, 'two full batches written without waiting');
  assert.equal(socket.writes[0]?.length, 16);
  await turn();
  assert.equal(socket.writes.length, 3);
  assert.deepEqual(
    Buffer.concat(socket.writes),
    Buffer.from(Array.from({ length: 40 }, (_, i) => i)),
  );
});

test('a frame with a large tail keeps its tail next to it', async () => {
  const socket = new RecordingSocket();
  const out = new Outbox(socket as unknown as Socket);
  const tail = Buffer.alloc(70 * 1024, 7);
  out.push(frame(1), tail);
  out.push(frame(2));
  await turn();
  const all = Buffer.concat(socket.writes);
  assert.equal(all.length, 2 + tail.length);
  assert.equal(all[0], 1);
  assert.equal(all[1 + tail.length], 2);
});

test('end writes what is queued, then half-closes', async () => {
  const socket = new RecordingSocket();
  const out = new Outbox(socket as unknown as Socket);
  out.push(frame(9));
  out.end();
  assert.equal(socket.ended, false, 'the queued frame goes first, at the end of the turn');
  await turn();
  assert.deepEqual(socket.writes, [Buffer.from([9])]);
  assert.equal(socket.ended, true);
  const idle = new RecordingSocket();
  new Outbox(idle as unknown as Socket).end();
  assert.equal(idle.ended, true, 'nothing queued: ends at once');
});

test('backpressure hears when a write fills the socket and when it drains', async () => {
  const socket = new RecordingSocket();
  const heard: string[] = [];
  const out = new Outbox(socket as unknown as Socket, {
    full: () => heard.push('full'),
    drained: () => heard.push('drained'),
  });
  socket.write = (chunk: Uint8Array) => {
    socket.writes.push(Buffer.from(chunk));
    return false;
  };
  out.push(frame(1));
  await turn();
  assert.deepEqual(heard, ['full']);
  socket.emit('drain');
  assert.deepEqual(heard, ['full', 'drained']);
});
