// owned-copy.ts: how a peer client copies a value out of a wire buffer, so that it can answer
// it as owned (see PeerValue.owned) and the group need not copy it again.

/**
 * ownedCopy copies `bytes` into memory of their own: for a small value a range of Node's
 * buffer pool, cheaper than an ArrayBuffer each. Nothing else writes to that range, so a
 * client may answer the copy as an owned PeerValue.
 */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  const pooled = Buffer.allocUnsafe(bytes.byteLength);
  pooled.set(bytes);
  return new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.byteLength);
}
