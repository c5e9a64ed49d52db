// key-bytes.ts: KeyBytes, the scratch space where a cache puts a key's UTF-8 bytes once
// per lookup, to hash them and compare them with stored keys a word at a time.

const encoder = new TextEncoder();

/** KeyWords is a key's UTF-8 bytes as {@link KeyBytes} holds them, for a reader. */
export interface KeyWords {
  /** The bytes, zero-padded to a multiple of 4. */
  readonly bytes: Uint8Array;
  /** The same memory as int32s. */
  readonly words: Int32Array;
  /** How many of the bytes are the key's. */
  readonly length: number;
}

/**
 * KeyBytes holds one key at a time: {@link KeyBytes.load} writes its UTF-8 bytes
 * into a reused buffer and returns their hash. An ASCII key is copied unit by unit
 * (one pass over the string, which is most of the cost of a lookup); any other is
 * encoded. The hash is murmur3's over 4-byte words, seeded: a cache seeds it at
 * random so that nobody can choose keys that share a bucket.
 */
export class KeyBytes implements KeyWords {
  bytes = new Uint8Array(256);
  words = new Int32Array(this.bytes.buffer);
  length = 0;
  /** False when the key loaded last is not well-formed UTF-16 (a lone surrogate): its UTF-8 is another key's too. */
  wellFormed = true;

  /** load puts the UTF-8 bytes of `key` in {@link KeyBytes.bytes} and returns their hash from `seed`. */
  load(key: string, seed: number): number {
    const n = key.length;
    if (n * 3 + 4 > this.bytes.length) {
      // Whole words: the same memory is read as int32s.
      this.bytes = new Uint8Array((n * 3 + 7) & ~3);
      this.words = new Int32Array(this.bytes.buffer);
    }
    const bytes = this.bytes;
    let units = 0;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      bytes[i] = c;
      units |= c;
    }
    let length = n;
    this.wellFormed = true;
    if (units >= 0x80) {
      length = encoder.encodeInto(key, bytes).written;
      this.wellFormed = key.isWellFormed();
    }
    bytes[length] = 0;
    bytes[length + 1] = 0;
    bytes[length + 2] = 0;
    this.length = length;
    return hashWords(this.words, length, seed);
  }
}

/** hashWords is murmur3 (x86, 32-bit) of the first `length` bytes of `words`, zero-padded. */
function hashWords(words: Int32Array, length: number, seed: number): number {
  let h = seed ^ length;
  const count = (length + 3) >> 2;
  for (let i = 0; i < count; i++) {
    let k = Math.imul(words[i] as number, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
