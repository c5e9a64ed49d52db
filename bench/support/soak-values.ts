// soak-values.ts: the soak benchmark's keys and values: every value names its key and how it
// was made (loaded, or the n-th set), so a client can check any answer it gets byte for byte.
import { crc32 } from 'node:zlib';

/** SOAK_MIN_VALUE_BYTES is the size of the smallest value. */
export const SOAK_MIN_VALUE_BYTES = 256;
/** SOAK_MAX_VALUE_BYTES is the size of the largest value. */
export const SOAK_MAX_VALUE_BYTES = 2048;

const SPAN = SOAK_MAX_VALUE_BYTES - SOAK_MIN_VALUE_BYTES + 1;
const encoder = new TextEncoder();

/** soakKey is the i-th key of the key space. */
export function soakKey(i: number): string {
  return `soak-${i}`;
}

/** value writes `header` then a filler of bytes derived from the position, up to `size` bytes. */
function value(header: string, size: number): Uint8Array {
  const head = encoder.encode(header);
  const out = new Uint8Array(Math.max(size, head.length));
  out.set(head);
  for (let i = head.length; i < out.length; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

/**
 * loadedValue is what the soak loader returns for `key`: `<key>|load|` and a filler,
 * 256 to 2048 bytes long (by a hash of the key), so the cache holds values of many sizes.
 */
export function loadedValue(key: string): Uint8Array {
  return value(`${key}|load|`, SOAK_MIN_VALUE_BYTES + (crc32(key) % SPAN));
}

/** setValue is the value of the `n`-th set of the run, to `key`: `<key>|set n|` and a filler. */
export function setValue(key: string, n: number): Uint8Array {
  return value(`${key}|set ${n}|`, SOAK_MIN_VALUE_BYTES + ((n * 7919) % SPAN));
}

const decoder = new TextDecoder();

/**
 * isSoakValue says whether `body` is a value `key` may hold: its loaded value, or
 * the value of some set to it, complete and unchanged. A value of another key, a
 * truncated or altered one is not.
 */
export function isSoakValue(key: string, body: Uint8Array): boolean {
  const loaded = loadedValue(key);
  if (Buffer.compare(body, loaded) === 0) return true;
  const head = decoder.decode(body.subarray(0, key.length + 32));
  const set = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|set (\\d+)\\|`).exec(
    head,
  );
  if (set === null) return false;
  return Buffer.compare(body, setValue(key, Number(set[1]))) === 0;
}
