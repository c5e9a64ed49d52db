// key-index.ts: KeyIndex, a chained hash table from keys' hashes to a cache's slots,
// in typed arrays (no object per key), and hashKey, the hash it is keyed by.

const encoder = new TextEncoder();
const FNV_PRIME = 0x01000193;

/**
 * hashKey hashes the UTF-8 bytes of `key` from `seed` (FNV-1a, then murmur3's final
 * mix so that the low bits pick buckets well). An ASCII key is hashed from its
 * UTF-16 units, which are its bytes; any other key is encoded first. A cache seeds
 * it at random so that nobody can choose keys that share a bucket.
 */
export function hashKey(key: string, seed: number): number {
  let h = seed;
  const n = key.length;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return hashBytes(encoder.encode(key), seed);
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return mix(h);
}

function hashBytes(bytes: Uint8Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
  return mix(h);
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * KeyIndex maps hashes to slots: numbers from 1 below a capacity, each holding at
 * most one key, which the owner compares itself (the index knows hashes only).
 * Slot 0 means none. Buckets are a power of two, at least the capacity, so chains
 * stay short: per slot, the index costs its hash and the next slot of its chain
 * (8 bytes), plus 4 to 8 bytes of bucket heads.
 */
export class KeyIndex {
  #heads: Int32Array;
  #mask: number;
  #chain: Int32Array;
  #hashes: Int32Array;

  /** The index takes slots below `capacity`; {@link KeyIndex.grow} raises it. */
  constructor(capacity: number) {
    this.#chain = new Int32Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#heads = new Int32Array(bucketsFor(capacity));
    this.#mask = this.#heads.length - 1;
  }

  /** first is the first slot of the chain where `hash` would be, 0 when none. */
  first(hash: number): number {
    return this.#heads[hash & this.#mask] as number;
  }

  /** next is the slot after `slot` in its chain, 0 when none. */
  next(slot: number): number {
    return this.#chain[slot] as number;
  }

  /** hashOf is the hash `slot` was inserted with. */
  hashOf(slot: number): number {
    return this.#hashes[slot] as number;
  }

  /** insert puts `slot`, not in the index, under `hash`. */
  insert(slot: number, hash: number): void {
    const b = hash & this.#mask;
    this.#hashes[slot] = hash;
    this.#chain[slot] = this.#heads[b] as number;
    this.#heads[b] = slot;
  }

  /** remove takes `slot`, which is in the index, out of it. */
  remove(slot: number): void {
    const b = (this.#hashes[slot] as number) & this.#mask;
    const chain = this.#chain;
    let s = this.#heads[b] as number;
    if (s === slot) {
      this.#heads[b] = chain[slot] as number;
    } else {
      while (chain[s] !== slot) s = chain[s] as number;
      chain[s] = chain[slot] as number;
    }
    chain[slot] = 0;
  }

  /** grow lets the index take slots below `capacity` (larger than before), keeping its contents. */
  grow(capacity: number): void {
    const chain = new Int32Array(capacity);
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const buckets = bucketsFor(capacity);
    if (buckets === this.#heads.length) {
      chain.set(this.#chain);
      this.#chain = chain;
      return;
    }
    // More buckets: every chain is rebuilt from the old ones.
    const oldHeads = this.#heads;
    const oldChain = this.#chain;
    this.#heads = new Int32Array(buckets);
    this.#mask = buckets - 1;
    this.#chain = chain;
    for (let b = 0; b < oldHeads.length; b++) {
      for (let s = oldHeads[b] as number; s !== 0; ) {
        const next = oldChain[s] as number;
        this.insert(s, hashes[s] as number);
        s = next;
      }
    }
  }
}

/** bucketsFor is the power of two at or above `capacity` (at least 16). */
function bucketsFor(capacity: number): number {
  let n = 16;
  while (n < capacity) n *= 2;
  return n;
}
