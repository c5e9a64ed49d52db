// byteview-internal.ts: the package's zero-copy access to ByteView storage; no package entry exports it.
import { type ByteView, viewSlots } from './byteview.js';

export { type ViewSlots, viewSlots } from './byteview.js';

/**
 * viewBytes returns the bytes `view` holds, without copying, for code of this
 * package that only reads them (a socket write, a protobuf encoder, the arena's
 * copy). Whatever it returns must never reach a caller: it may be a range of a
 * block the cache shares between many values.
 */
export function viewBytes(view: ByteView): Uint8Array {
  return viewSlots.bytes(view);
}

/**
 * adoptBytes wraps `bytes` in a view without copying. Only for a buffer this
 * package made and keeps no other reference to (a fresh `toBinary` output):
 * writing to it afterwards would change the value.
 */
export function adoptBytes(bytes: Uint8Array): ByteView {
  return viewSlots.make(bytes, 0, bytes.byteLength);
}
