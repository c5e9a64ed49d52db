// value-loader.ts: the `--loader` module of the remote benchmark's owner nodes: every key
// loads as the same 100 bytes at once, so only the transport is measured.

/** VALUE_BYTES is the size of every value the loader returns. */
export const VALUE_BYTES = 100;

const value = new Uint8Array(VALUE_BYTES).fill(0x61);

/** load returns a fresh copy of the 100-byte value for any key. */
export default async function load(_key: string): Promise<Uint8Array> {
  return value.slice();
}
