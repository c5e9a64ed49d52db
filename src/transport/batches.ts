// batches.ts: how a transport client sends a getMany: keys it would refuse answered at once
// with their error, the rest split into batches within the servers' limits, the answers merged.
import type { PeerGetManyResult } from '../core/peers.js';
import { type CacheError, InternalError } from '../errors.js';
import { MAX_BATCH_KEY_BYTES, MAX_BATCH_KEYS } from '../limits.js';

/**
 * splitBatch cuts `keys` into batches of at most {@link MAX_BATCH_KEYS} keys and
 * {@link MAX_BATCH_KEY_BYTES} bytes of keys, in order (a key is never cut: each is far
 * smaller than the byte limit).
 */
export function splitBatch(keys: readonly string[]): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    const n = Buffer.byteLength(key);
    if (batch.length > 0 && (batch.length >= MAX_BATCH_KEYS || bytes + n > MAX_BATCH_KEY_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(key);
    bytes += n;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * askInBatches answers a client's getMany: each key `refuse` finds fault with (an empty
 * key, one over the limit) maps to that error without being sent, a key asked twice is
 * sent once, and the rest go to `send` in batches (see {@link splitBatch}), all at once.
 * It rejects with the first batch's failure when one fails as a whole.
 */
export async function askInBatches(
  keys: readonly string[],
  refuse: (key: string) => CacheError | undefined,
  send: (batch: string[]) => Promise<PeerGetManyResult>,
): Promise<PeerGetManyResult> {
  const refused = new Map<string, CacheError>();
  const sent = new Set<string>();
  for (const key of keys) {
    if (sent.has(key) || refused.has(key)) continue;
    const bad = refuse(key);
    if (bad !== undefined) refused.set(key, bad);
    else sent.add(key);
  }
  const answers =
    sent.size === 0 ? [] : await Promise.all(splitBatch([...sent]).map((batch) => send(batch)));
  const answered: PeerGetManyResult =
    answers.length === 1 ? (answers[0] as PeerGetManyResult) : new Map();
  if (answers.length > 1)
    for (const answer of answers) for (const [k, v] of answer) answered.set(k, v);
  const result: PeerGetManyResult = new Map();
  for (const key of keys) {
    if (result.has(key)) continue;
    const outcome =
      refused.get(key) ??
      answered.get(key) ??
      new InternalError(`get of ${key}: the peer's answer left the key out`);
    result.set(key, outcome);
  }
  return result;
}
