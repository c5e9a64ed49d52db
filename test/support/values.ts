// values.ts: the deterministic test values every test loader serves, identical to the
// loader of the Go test peer (test/go/peer/main.go), so mixed clusters agree byte for byte.

const SIZE_KEY = /^size:([0-9]{1,9})$/;
const encoder = new TextEncoder();

/**
 * testValue returns the value a test loader serves for `key`, or `undefined` when the
 * key must not be found (the Go peer answers the error `not found: <key>` then).
 *
 * - `missing...` → not found;
 * - `size:N` (N of 1 to 9 decimal digits) → N bytes, byte i = (i * 31 + 7) & 0xff;
 * - `empty...` → zero bytes;
 * - anything else → the UTF-8 bytes of `value of <key>`.
 */
export function testValue(key: string): Uint8Array | undefined {
  if (key.startsWith('missing')) return undefined;
  const size = SIZE_KEY.exec(key);
  if (size) {
    const out = new Uint8Array(Number(size[1]));
    for (let i = 0; i < out.length; i++) out[i] = (i * 31 + 7) & 0xff;
    return out;
  }
  if (key.startsWith('empty')) return new Uint8Array(0);
  return encoder.encode(`value of ${key}`);
}

/**
 * testErrorText returns the error text the Go peer's loader gives for a key that
 * {@link testValue} does not find.
 */
export function testErrorText(key: string): string {
  return `not found: ${key}`;
}
