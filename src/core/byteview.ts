// byteview.ts: ByteView, the immutable value type every cache read returns.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * ByteView is an immutable view of bytes. A value enters the cache once, as a
 * copy, and every reader gets a view of it: nothing a caller does to the bytes it
 * passed in or got out can change what the cache holds. Strings are stored as
 * their UTF-8 bytes; `toString()` decodes them (once, then cached).
 */
export class ByteView {
  readonly #bytes: Uint8Array;
  #string: string | undefined;

  private constructor(bytes: Uint8Array, str: string | undefined) {
    this.#bytes = bytes;
    this.#string = str;
  }

  /** ByteView.from copies `value` (bytes) or encodes it (a string) into a new view. */
  static from(value: string | Uint8Array | ByteView): ByteView {
    if (value instanceof ByteView) return value;
    if (typeof value === 'string') return new ByteView(encoder.encode(value), value);
    // Not value.slice(): on a Buffer that shares memory instead of copying.
    return new ByteView(Uint8Array.prototype.slice.call(value), undefined);
  }

  /**
   * ByteView.adopt wraps `bytes` without copying. The caller hands them over and
   * must never write to them again (used for buffers fresh off the network).
   */
  static adopt(bytes: Uint8Array): ByteView {
    return new ByteView(bytes, undefined);
  }

  /** ByteView.empty is a view of no bytes. */
  static readonly empty: ByteView = new ByteView(new Uint8Array(0), '');

  /** length is the number of bytes in the view. */
  get length(): number {
    return this.#bytes.byteLength;
  }

  /** byteSlice returns a copy of the bytes, which the caller may change freely. */
  byteSlice(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.#bytes);
  }

  /** toString returns the bytes decoded as UTF-8. */
  toString(): string {
    if (this.#string === undefined) this.#string = decoder.decode(this.#bytes);
    return this.#string;
  }

  /** at returns the byte at index `i`; negative indexes count from the end. Throws RangeError when out of range. */
  at(i: number): number {
    const b = this.#bytes.at(i);
    if (b === undefined) throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    return b;
  }

  /** slice returns a view of bytes [from, to), sharing memory with this one. */
  slice(from: number, to: number = this.length): ByteView {
    return new ByteView(this.#bytes.subarray(from, to), undefined);
  }

  /** sliceFrom returns a view of the bytes from `from` to the end. */
  sliceFrom(from: number): ByteView {
    return this.slice(from);
  }

  /** copy copies as many bytes as fit into `dest` and returns how many it copied. */
  copy(dest: Uint8Array): number {
    const n = Math.min(dest.byteLength, this.length);
    dest.set(n === this.length ? this.#bytes : this.#bytes.subarray(0, n));
    return n;
  }

  /** equal tells whether `other` holds the same bytes. */
  equal(other: ByteView): boolean {
    return other === this || this.equalBytes(other.#bytes);
  }

  /** equalString tells whether the bytes are the UTF-8 encoding of `s`. */
  equalString(s: string): boolean {
    if (this.#string !== undefined) return this.#string === s;
    return this.equalBytes(encoder.encode(s));
  }

  /** equalBytes tells whether the bytes equal `b`. */
  equalBytes(b: Uint8Array): boolean {
    const a = this.#bytes;
    if (a.byteLength !== b.byteLength) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  }

  /**
   * unsafeBytes returns the stored bytes without copying, for transports that
   * write them to a socket. Callers must not modify them.
   */
  unsafeBytes(): Uint8Array {
    return this.#bytes;
  }
}
