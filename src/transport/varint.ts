// varint.ts: protobuf varints, sized and written, for the transports' hand-written encoders.

/**
 * varintSize is the length of `n` as a varint: `n` is a whole number from 0 to
 * 2^53-1 (a length, an id, a uint32), 1 byte below 2^7 and one more for each
 * 7 bits above.
 */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/**
 * writeVarint writes `n` (a whole number from 0 to 2^53-1) as a varint at `at`
 * of `out`, which has room for {@link varintSize}(n) bytes there, and returns
 * the offset past it.
 */
export function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/**
 * int64Size is the length of an int64 or uint64 `value` as protobuf writes it:
 * its 64 bits, two's complement, as an unsigned varint, so a negative int64
 * takes ten bytes.
 */
export function int64Size(value: bigint): number {
  const n = BigInt.asUintN(64, value);
  const hi = Number(n >> 32n);
  if (hi === 0) return varintSize(Number(n));
  // 7 bits a byte of the 32 low bits and those of `hi`.
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

/**
 * writeInt64 writes an int64 or uint64 `value` as {@link int64Size} sizes it,
 * at `at` of `out`, and returns the offset past it.
 */
export function writeInt64(out: Uint8Array, at: number, value: bigint): number {
  // Two 32-bit halves shifted as numbers: a BigInt operation per byte would allocate.
  const n = BigInt.asUintN(64, value);
  let lo = Number(n & 0xffffffffn);
  let hi = Number(n >> 32n);
  while (hi > 0 || lo >= 0x80) {
    out[at++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[at++] = lo;
  return at;
}
