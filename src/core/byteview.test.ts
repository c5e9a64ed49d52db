// byteview.test.ts: ByteView is an immutable, comparable view of bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteView } from './byteview.js';
import { adoptBytes, viewBytes } from './byteview-internal.js';

test('from a string: UTF-8 bytes, length in bytes, toString round-trips', () => {
  const v = ByteView.from('héllo');
  assert.equal(v.length, 6);
  assert.equal(v.toString(), 'héllo');
  assert.equal(v.at(0), 0x68);
  assert.equal(v.at(-1), 0x6f);
  assert.throws(() => v.at(6), RangeError);
});

test('from bytes copies; byteSlice returns a copy', () => {
  const src = new Uint8Array([1, 2, 3]);
  const v = ByteView.from(src);
  src[0] = 9;
  assert.equal(v.at(0), 1);
  const out = v.byteSlice();
  out[1] = 9;
  assert.equal(v.at(1), 2);
});

test('slice, sliceFrom and copy', () => {
  const v = ByteView.from('abcdef');
  assert.equal(v.slice(1, 3).toString(), 'bc');
  assert.equal(v.sliceFrom(4).toString(), 'ef');
  const dest = new Uint8Array(4);
  assert.equal(v.copy(dest), 4);
  assert.equal(new TextDecoder().decode(dest), 'abcd');
  const big = new Uint8Array(10);
  assert.equal(v.copy(big), 6);
});

test('equal, equalString, equalBytes', () => {
  const a = ByteView.from('same');
  const b = ByteView.from(new TextEncoder().encode('same'));
  assert.ok(a.equal(b));
  assert.ok(b.equalString('same'));
  assert.ok(!b.equalString('other'));
  assert.ok(a.equalBytes(new TextEncoder().encode('same')));
  assert.ok(!a.equalBytes(new Uint8Array([1])));
  assert.ok(!a.equal(ByteView.from('sama')));
  assert.equal(ByteView.empty.length, 0);
});

test('from a Buffer copies too (Buffer#slice would share memory)', () => {
  const pooled = Buffer.from('abc');
  const v = ByteView.from(pooled);
  pooled[0] = 0x7a;
  assert.equal(v.toString(), 'abc');
  assert.equal(viewBytes(v).buffer === pooled.buffer, false);
});

test('byteSlice is a plain Uint8Array copy, even of a view adopted from a Buffer', () => {
  const pooled = Buffer.from('pooled bytes');
  const v = adoptBytes(pooled.subarray(7));
  const out = v.byteSlice();
  assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
  assert.deepEqual(out, new Uint8Array(Buffer.from('bytes')));
  out[0] = 0;
  assert.equal(v.toString(), 'bytes');
});
