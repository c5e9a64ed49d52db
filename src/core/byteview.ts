// byteview.ts: ByteView, the immutable value type every cache read returns.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * ViewSlots reach into a view's storage, for the package alone (through
 * `byteview-internal.ts`, which no package entry exports): make a view of a
 * range without copying, and read its bytes. Nothing outside the package can
 * write to a view's bytes.
 * @internal
 */
export interface ViewSlots {
  make(buf: Uint8Array, off: number, len: number): ByteView;
  bytes(v: ByteView): Uint8Array;
}

/** @internal Set once by ByteView's static block. */
export let viewSlots: ViewSlots;

/** The intrinsic setter and length getter, immune to what a Uint8Array subclass overrides. */
const setBytes = Uint8Array.prototype.set;
const byteLengthOf = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  'byteLength',
)?.get as (this: Uint8Array) => number;
const typedLength = (a: Uint8Array): number => byteLengthOf.call(a);

/** clampIndex resolves a slice index as `subarray` does: negative from the end, clamped to [0, len]. */
function clampIndex(i: number, len: number): number {
  const n = Math.trunc(i) || 0;
  return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
}

/**
 * ByteView is an immutable view of bytes. A value enters the cache once, as a
 * copy, and every reader gets a view of it: nothing a caller does to the bytes it
 * passed in or got out can change what the cache holds. Strings are stored as
 * their UTF-8 bytes; `toString()` decodes them (once per view, then cached; every
 * cache hit is a view of its own, of the same stored bytes).
 *
 * A view is a range of a larger buffer: its own, or a block that a cache's
 * {@link ValueArena} shares between many values. Bytes in such a buffer are
 * written once and never again, so a view stays valid however long it is kept.
 */
export class ByteView {
  readonly #buf: Uint8Array;
  readonly #off: number;
  readonly #len: number;
  #string: string | undefined;

  private constructor(buf: Uint8Array, off: number, len: number, str: string | undefined) {
    this.#buf = buf;
    this.#off = off;
    this.#len = len;
    this.#string = str;
  }

  /** ByteView.from copies `value` (bytes) or encodes it (a string) into a new view. */
  static from(value: string | Uint8Array | ByteView): ByteView {
    if (value instanceof ByteView) return value;
    if (typeof value === 'string') {
      const bytes = encoder.encode(value);
      return new ByteView(bytes, 0, bytes.byteLength, value);
    }
    // Not value.slice(): on a Buffer that shares memory instead of copying.
    const copy: Uint8Array = Uint8Array.prototype.slice.call(value);
    return new ByteView(copy, 0, copy.byteLength, undefined);
  }

  /** ByteView.empty is a view of no bytes. */
  static readonly empty: ByteView = new ByteView(new Uint8Array(0), 0, 0, '');

  static {
    viewSlots = {
      make: (buf, off, len) => new ByteView(buf, off, len, undefined),
      bytes: (v) => v.#bytes(),
    };
  }

  /** length is the number of bytes in the view. */
  get length(): number {
    return this.#len;
  }

  /** byteSlice returns a copy of the bytes, which the caller may change freely. */
  byteSlice(): Uint8Array {
    // A plain Uint8Array whatever the storage (slice() of a Buffer would be a Buffer).
    const out = new Uint8Array(this.#len);
    out.set(this.#bytes());
    return out;
  }

  /** toString returns the bytes decoded as UTF-8. */
  toString(): string {
    if (this.#string === undefined) this.#string = decoder.decode(this.#bytes());
    return this.#string;
  }

  /** at returns the byte at index `i`; negative indexes count from the end. Throws RangeError when out of range. */
  at(i: number): number {
    const j = i < 0 ? i + this.#len : i;
    if (!(j >= 0 && j < this.#len)) {
      throw new RangeError(`index ${i} out of range [0, ${this.#len})`);
    }
    return this.#buf[this.#off + j] as number;
  }

  /** slice returns a view of bytes [from, to), sharing memory with this one; negative indexes count from the end. */
  slice(from: number, to: number = this.#len): ByteView {
    const a = clampIndex(from, this.#len);
    const b = Math.max(a, clampIndex(to, this.#len));
    return new ByteView(this.#buf, this.#off + a, b - a, undefined);
  }

  /** sliceFrom returns a view of the bytes from `from` to the end. */
  sliceFrom(from: number): ByteView {
    return this.slice(from);
  }

  /**
   * copy copies as many bytes as fit into `dest` and returns how many it copied.
   * Throws TypeError when `dest` is not a Uint8Array.
   */
  copy(dest: Uint8Array): number {
    if (!(dest instanceof Uint8Array)) throw new TypeError('dest must be a Uint8Array');
    // The intrinsic, not dest.set: a subclass overriding set would be handed the stored bytes.
    const n = Math.min(typedLength(dest), this.#len);
    setBytes.call(dest, this.#buf.subarray(this.#off, this.#off + n));
    return n;
  }

  /** equal tells whether `other` holds the same bytes. */
  equal(other: ByteView): boolean {
    return other === this || this.equalBytes(other.#bytes());
  }

  /** equalString tells whether the bytes are the UTF-8 encoding of `s`. */
  equalString(s: string): boolean {
    if (this.#string !== undefined) return this.#string === s;
    return this.equalBytes(encoder.encode(s));
  }

  /** equalBytes tells whether the bytes equal `b`. */
  equalBytes(b: Uint8Array): boolean {
    if (this.#len !== typedLength(b)) return false;
    const a = this.#buf;
    return Buffer.from(a.buffer, a.byteOffset + this.#off, this.#len).equals(b);
  }

  /** #bytes is the stored bytes without a copy: never handed outside the package. */
  #bytes(): Uint8Array {
    const buf = this.#buf;
    if (this.#off === 0 && this.#len === buf.byteLength) return buf;
    return buf.subarray(this.#off, this.#off + this.#len);
  }
}
