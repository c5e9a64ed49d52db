// frame.test.ts: the tcp framing: status bytes, encoders, and the reader's splitting and limits.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  codeOf,
  encodeCancel,
  encodeError,
  encodeHello,
  encodeRequest,
  encodeTrace,
  FrameReader,
  FrameType,
  LENGTH_BYTES,
  MAX_HELLO_FRAME,
  MAX_MESSAGE_BYTES,
  MAX_TRACEPARENT_BYTES,
  statusOf,
} from './frame.js';

/** collect returns a reader with limit `max` and the frames it delivered (copied). */
function collect(max = 1024) {
  const frames: Buffer[] = [];
  const reader = new FrameReader(max, (buf, start, end) =>
    frames.push(Buffer.from(buf.subarray(start, end))),
  );
  return { reader, frames };
}

describe('tcp frames', () => {
  it('status bytes map to error codes and back, 0 being OK', () => {
    for (const code of ['NOT_FOUND', 'TOO_LARGE', 'UNAVAILABLE', 'INTERNAL'] as const) {
      const status = statusOf(code);
      assert.ok(status >= 1 && status <= 9);
      assert.equal(codeOf(status), code);
    }
    assert.equal(codeOf(0), undefined);
    assert.equal(codeOf(10), undefined);
  });

  it('a request carries its type, id, time left, group, key and value', () => {
    const value = Uint8Array.from([1, 2, 3]);
    const frame = encodeRequest(FrameType.Set, 42, 1500, 'g', 1, 'ключ', 8, value, 1234.5);
    assert.equal(frame.readUInt32BE(0), frame.length - LENGTH_BYTES);
    assert.equal(frame[4], FrameType.Set);
    assert.equal(frame.readUInt32BE(5), 42);
    assert.equal(frame.readUInt32BE(9), 1500);
    assert.equal(frame.readUInt16BE(13), 1);
    assert.equal(frame.readUInt16BE(15), 8);
    assert.equal(frame.readDoubleBE(17), 1234.5);
    assert.equal(frame.toString('utf8', 25, 26), 'g');
    assert.equal(frame.toString('utf8', 26, 34), 'ключ');
    assert.deepEqual([...frame.subarray(34)], [1, 2, 3]);
  });

  it('an error answer cuts its message to the limit', () => {
    const frame = encodeError(7, 'INTERNAL', 'x'.repeat(MAX_MESSAGE_BYTES * 2));
    assert.equal(frame.length, LENGTH_BYTES + 5 + 1 + MAX_MESSAGE_BYTES);
    assert.equal(frame[9], statusOf('INTERNAL'));
  });

  it('the reader splits frames however the bytes arrive', () => {
    const frames = [
      encodeCancel(1),
      encodeRequest(FrameType.Get, 2, 0, 'g', 1, 'k', 1),
      encodeCancel(3),
    ];
    const stream = Buffer.concat(frames);
    for (let step = 1; step <= stream.length; step++) {
      const { reader, frames: got } = collect();
      for (let at = 0; at < stream.length; at += step) {
        assert.equal(reader.push(stream.subarray(at, at + step)), undefined);
      }
      assert.deepEqual(
        got,
        frames.map((f) => f.subarray(LENGTH_BYTES)),
        `in pieces of ${step}`,
      );
      assert.equal(reader.buffered, 0);
    }
  });

  it('the reader keeps nothing of a chunk: pieces read into one reused buffer give the same frames', () => {
    const frames = [
      encodeRequest(FrameType.Get, 1, 0, 'group', 5, 'a key', 5),
      encodeCancel(2),
      encodeRequest(FrameType.Get, 3, 0, 'group', 5, 'another key', 11),
    ];
    const stream = Buffer.concat(frames);
    const reused = Buffer.alloc(stream.length);
    for (let step = 1; step <= stream.length; step++) {
      const { reader, frames: got } = collect();
      for (let at = 0; at < stream.length; at += step) {
        const n = stream.copy(reused, 0, at, at + step);
        assert.equal(reader.push(reused.subarray(0, n)), undefined);
        // The next read overwrites the buffer: a piece of a frame held by reference is lost.
        reused.fill(0xee);
      }
      assert.deepEqual(
        got,
        frames.map((f) => f.subarray(LENGTH_BYTES)),
        `in pieces of ${step}`,
      );
    }
  });

  it('a declared length over the limit, or under a header, fails before anything is buffered', () => {
    for (const length of [1025, 0xffff_ffff, 4, 0]) {
      const { reader, frames } = collect(1024);
      const head = Buffer.alloc(LENGTH_BYTES + 8);
      head.writeUInt32BE(length, 0);
      assert.match(reader.push(head) ?? '', /bad frame length/);
      assert.equal(reader.buffered, 0);
      assert.equal(frames.length, 0);
      // A failed reader takes nothing more.
      assert.notEqual(reader.push(encodeCancel(1)), undefined);
    }
  });

  it('an incomplete frame holds only the bytes that arrived, not its declared length', () => {
    const { reader, frames } = collect(1 << 20);
    const head = Buffer.alloc(LENGTH_BYTES + 5);
    head.writeUInt32BE(1 << 20, 0);
    reader.push(head);
    assert.equal(reader.buffered, head.length);
    reader.push(Buffer.alloc(1000));
    assert.equal(reader.buffered, head.length + 1000);
    assert.equal(frames.length, 0);
  });

  it('a limit raised by a frame handler applies to the frames after it in the same chunk', () => {
    for (const split of [false, true]) {
      const frames: number[] = [];
      const reader: FrameReader = new FrameReader(MAX_HELLO_FRAME, (_buf, start, end) => {
        frames.push(end - start);
        reader.maxFrame = 1 << 20;
      });
      const hello = encodeHello('s');
      const big = encodeRequest(FrameType.Set, 1, 0, 'g', 1, 'k', 1, new Uint8Array(5000));
      const bytes = Buffer.concat([hello, big]);
      // Split, the HELLO is gathered from two chunks and the large frame starts in the second.
      const chunks = split ? [bytes.subarray(0, 5), bytes.subarray(5)] : [bytes];
      for (const chunk of chunks) assert.equal(reader.push(chunk), undefined);
      assert.deepEqual(frames, [hello.length - LENGTH_BYTES, big.length - LENGTH_BYTES]);
    }
    const strict = new FrameReader(MAX_HELLO_FRAME, () => {});
    const big = encodeRequest(FrameType.Set, 1, 0, 'g', 1, 'k', 1, new Uint8Array(5000));
    assert.match(strict.push(big) ?? '', /bad frame length/);
    assert.equal(strict.expecting, 0);
  });

  it('expecting is the size of the frame being gathered, once its length prefix is in', () => {
    const { reader } = collect(1 << 20);
    reader.push(Buffer.from([0, 0]));
    assert.equal(reader.expecting, 0);
    reader.push(Buffer.from([0, 100, 2]));
    assert.equal(reader.expecting, LENGTH_BYTES + 100);
    reader.push(Buffer.alloc(99));
    assert.equal(reader.expecting, 0);
    assert.equal(reader.buffered, 0);
  });

  it('a TRACE frame carries the trace context of its request id as ASCII, or is not made', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const frame = encodeTrace(42, tp) as Buffer;
    const { reader, frames } = collect();
    reader.push(frame);
    assert.equal(frames.length, 1);
    const [f] = frames as [Buffer];
    assert.equal(f[0], FrameType.Trace);
    assert.equal(f.readUInt32BE(1), 42);
    assert.equal(f.toString('latin1', 5), tp);
    assert.equal(encodeTrace(1, 'x'.repeat(MAX_TRACEPARENT_BYTES + 1)), undefined);
    assert.equal(encodeTrace(1, 'trace context with spaces'), undefined);
    assert.equal(encodeTrace(1, 'naïve'), undefined);
  });
});
