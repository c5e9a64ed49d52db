// varint.test.ts: the varint helpers write what @bufbuild/protobuf writes and reads back,
// and size it exactly, at the 7-bit boundaries, 2^31, 2^53-1 and across the 64-bit range.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { int64Size, varintSize, writeInt64, writeVarint } from './varint.js';

/** Each side of every 7-bit boundary a safe whole number has, 2^31 and 2^53-1. */
const numberEdges = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
for (let bits = 7; bits < 53; bits += 7) numberEdges.push(2 ** bits - 1, 2 ** bits);

/** Each side of every 7-bit boundary of 64 bits, and the ends of int64 and uint64. */
const bigEdges = [0n, 1n, -1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
for (let bits = 7n; bits < 64n; bits += 7n) bigEdges.push(2n ** bits - 1n, 2n ** bits);

/** written is what `write` puts between two guard bytes, which it must leave alone. */
function written(size: number, write: (out: Uint8Array, at: number) => number): Uint8Array {
  const out = new Uint8Array(size + 2).fill(0xee);
  const end = write(out, 1);
  assert.equal(end, 1 + size, 'returns the offset past what it wrote, as sized');
  assert.equal(out[0], 0xee);
  assert.equal(out[size + 1], 0xee);
  return out.subarray(1, 1 + size);
}

function checkNumber(n: number): void {
  const bytes = written(varintSize(n), (out, at) => writeVarint(out, at, n));
  assert.deepEqual(bytes, new BinaryWriter().uint64(n).finish(), `${n}`);
  const reader = new BinaryReader(bytes);
  assert.equal(reader.uint64(), BigInt(n));
  assert.equal(reader.pos, bytes.byteLength);
}

function checkBig(value: bigint): void {
  const bytes = written(int64Size(value), (out, at) => writeInt64(out, at, value));
  const signed = value < 2n ** 63n;
  const theirs = signed ? new BinaryWriter().int64(value) : new BinaryWriter().uint64(value);
  assert.deepEqual(bytes, theirs.finish(), `${value}`);
  const reader = new BinaryReader(bytes);
  assert.equal(signed ? reader.int64() : reader.uint64(), value);
  assert.equal(reader.pos, bytes.byteLength);
}

describe('varint', () => {
  it('takes one byte below 2^7 and one more for each 7 bits above', () => {
    assert.equal(varintSize(0), 1);
    assert.equal(varintSize(127), 1);
    assert.equal(varintSize(128), 2);
    assert.equal(varintSize(2 ** 14 - 1), 2);
    assert.equal(varintSize(2 ** 14), 3);
    assert.equal(varintSize(2 ** 31), 5);
    assert.equal(varintSize(2 ** 49), 8);
    assert.equal(varintSize(2 ** 53 - 1), 8);
  });

  it('writes a safe whole number as protobuf does, and reads back the same, at every boundary', () => {
    for (const n of numberEdges) checkNumber(n);
  });

  it('writes any safe whole number as protobuf does', () => {
    fc.assert(fc.property(fc.maxSafeNat(), checkNumber), { numRuns: 500 });
  });
});

describe('int64 varint', () => {
  it('takes ten bytes for a negative int64 and for uint64s from 2^63', () => {
    assert.equal(int64Size(0n), 1);
    assert.equal(int64Size(127n), 1);
    assert.equal(int64Size(128n), 2);
    assert.equal(int64Size(2n ** 63n - 1n), 9);
    assert.equal(int64Size(-1n), 10);
    assert.equal(int64Size(-(2n ** 63n)), 10);
    assert.equal(int64Size(2n ** 64n - 1n), 10);
  });

  it('writes an int64 or uint64 as protobuf does, and reads back the same, at every boundary', () => {
    for (const value of bigEdges) checkBig(value);
  });

  it('writes any int64 or uint64 as protobuf does', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), checkBig), {
      numRuns: 500,
    });
  });
});
