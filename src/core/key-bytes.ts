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
 * into a reused buffer and returns their hash. A short ASCII key is read once, four
 * characters to a word that is stored and hashed in the same pass (reading the string
 * is most of the cost of a lookup); a long or non-ASCII one is encoded. The hash is
 * murmur3's over 4-byte words, seeded: a cache seeds it at random so that nobody can
 * choose keys that share a bucket.
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
    this.wellFormed = true;
    if (n <= ENCODE_ABOVE && LITTLE_ENDIAN) {
      // One pass: four characters make a word, written and hashed at once. A unit of 0x80 or
      // more (not ASCII) leaves `units` at 0x80 or more, and the key is encoded below instead.
      const words = this.words;
      let units = 0;
      let h = seed ^ n;
      let w = 0;
      let i = 0;
      for (; i + 4 <= n; i += 4) {
        const c0 = key.charCodeAt(i);
        const c1 = key.charCodeAt(i + 1);
        const c2 = key.charCodeAt(i + 2);
        const c3 = key.charCodeAt(i + 3);
        units |= c0 | c1 | c2 | c3;
        const word = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
        words[w++] = word;
        h = mixWord(h, word);
      }
      if (i < n) {
        let word = 0;
        for (let shift = 0; i < n; i++, shift += 8) {
          const c = key.charCodeAt(i);
          units |= c;
          word |= c << shift;
        }
        words[w] = word;
        h = mixWord(h, word);
      }
      if (units < 0x80) {
        this.length = n;
        return finish(h);
      }
    }
    // Long keys (the encoder's copy is faster than a loop over them), keys that are not ASCII,
    // and every key where an Int32Array keeps its high byte first.
    const length = encoder.encodeInto(key, this.bytes).written;
    // As many bytes as units: ASCII, and so well-formed.
    if (length !== n) this.wellFormed = key.isWellFormed();
    return this.#padAndHash(length, seed);
  }

  /** #padAndHash zero-pads the `length` bytes loaded to a whole word and hashes them. */
  #padAndHash(length: number, seed: number): number {
    const bytes = this.bytes;
    bytes[length] = 0;
    bytes[length + 1] = 0;
    bytes[length + 2] = 0;
    this.length = length;
    return hashWords(this.words, length, seed);
  }
}

/**
 * Keys of more characters than this are encoded by TextEncoder, whose fixed cost per call
 * (about 50 ns here) is below a loop's over them.
 */
const ENCODE_ABOVE = 32;

/** True where an Int32Array keeps its low byte first, so four ASCII characters make a word in one step. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** mixWord is one word of murmur3's body. */
function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** finish is murmur3's final mix. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** hashWords is murmur3 (x86, 32-bit) of the first `length` bytes of `words`, zero-padded. */
function hashWords(words: Int32Array, length: number, seed: number): number {
  let h = seed ^ length;
  const count = (length + 3) >> 2;
  for (let i = 0; i < count; i++) h = mixWord(h, words[i] as number);
  return finish(h);
}
