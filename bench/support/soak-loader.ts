// soak-loader.ts: the `--loader` module of the soak benchmark's nodes: every key is found,
// at once, as its `loadedValue` (256 to 2048 bytes naming the key).
import { loadedValue } from './soak-values.js';

/** load returns `loadedValue(key)`. */
export default async function load(key: string): Promise<Uint8Array> {
  return loadedValue(key);
}
