// serve-get-many.ts: how a transport server answers a peer's batch get: each key served by
// the group as a single get would be, at once, so the owner's loadMany sees them together.
import { defaultMaxListeners, setMaxListeners } from 'node:events';
import type { CallOptions, PeerGetManyResult, PeerServedGroup, PeerValue } from '../core/peers.js';
import { type CacheError, isCacheError, TooLargeError, toCacheError } from '../errors.js';
import { MAX_BATCH_KEY_BYTES, MAX_BATCH_KEYS } from '../limits.js';

/** BatchLimits bound what one batch get may ask (see {@link checkBatch}). */
export interface BatchLimits {
  /** Most keys in one batch. Default {@link MAX_BATCH_KEYS}. */
  maxKeys?: number | undefined;
  /** Most bytes of keys (UTF-8, summed) in one batch. Default {@link MAX_BATCH_KEY_BYTES}. */
  maxKeyBytes?: number | undefined;
}

/** AnswerLimits bound what {@link serveGetMany} answers. */
export interface AnswerLimits {
  /** Largest value answered for one key; a larger one is that key's TooLargeError. Default none. */
  maxValueBytes?: number | undefined;
}

/**
 * checkBatch returns the TooLargeError of a batch over `limits` (too many keys, too many
 * bytes of keys), or undefined for one within them. A server checks the batch as it
 * arrives, once, before it looks at any key, and refuses one over the limits whole, with
 * its wire's code for TOO_LARGE; {@link serveGetMany} then serves what it let in.
 */
export function checkBatch(
  keys: readonly string[],
  limits?: BatchLimits,
): TooLargeError | undefined {
  const maxKeys = limits?.maxKeys ?? MAX_BATCH_KEYS;
  if (keys.length > maxKeys) {
    return new TooLargeError(`batch of ${keys.length} keys is over the limit of ${maxKeys}`);
  }
  const maxBytes = limits?.maxKeyBytes ?? MAX_BATCH_KEY_BYTES;
  let bytes = 0;
  for (const key of keys) bytes += Buffer.byteLength(key);
  if (bytes > maxBytes) {
    return new TooLargeError(`batch of ${bytes} bytes of keys is over the limit of ${maxBytes}`);
  }
  return undefined;
}

/**
 * serveGetMany answers a peer's batch get of `keys` from `group`: every key is asked of
 * the group's `getForPeer` in the same turn (so the keys it must load reach its
 * `loadMany` together), and the answer maps each key to its value or to its own error
 * (a bad key, NOT_FOUND, its loader's failure, a value over `limits.maxValueBytes`):
 * one key's failure never fails the others. A value given without bytes (a served group's
 * own bug, not a key's answer) rejects the batch whole, cached or loaded. The batch is the server's to have held to
 * its limits first (see {@link checkBatch}): it is served as given. Values are copies,
 * the caller's to keep until written out. `options` (signal, deadline, traceparent)
 * go to every key's get.
 */
export async function serveGetMany(
  group: PeerServedGroup,
  keys: readonly string[],
  options: CallOptions,
  limits?: AnswerLimits,
): Promise<PeerGetManyResult> {
  const maxValueBytes = limits?.maxValueBytes ?? Number.POSITIVE_INFINITY;
  // Every key's load listens to the request's one signal: that many listeners are expected.
  const signal = options.signal;
  if (signal !== undefined) setMaxListeners(defaultMaxListeners + keys.length, signal);
  const check = (found: PeerValue): PeerValue | CacheError => {
    const bytes = found.value.byteLength;
    if (bytes <= maxValueBytes) return found;
    return new TooLargeError(`value of ${bytes} bytes is over the limit of ${maxValueBytes}`);
  };
  const failed = (key: string) => (err: unknown) => toCacheError(err, `get ${group.name}/${key}`);
  // A cached key is answered at once, without a promise; only loads are waited for.
  const outcomes = keys.map((key): PeerValue | CacheError | Promise<PeerValue | CacheError> => {
    let found: ReturnType<PeerServedGroup['getForPeer']>;
    try {
      found = group.getForPeer(key, options);
    } catch (err) {
      return failed(key)(err);
    }
    // A value that breaks the check (a served group of the seam's own that gives no bytes)
    // fails the batch whole, whether it was cached or loaded: as a rejection that the wait
    // below observes with the others, not a throw that would leave them unobserved.
    if (isThenable(found)) return Promise.resolve(found).then(check, failed(key));
    try {
      return check(found);
    } catch (err) {
      return Promise.reject(err);
    }
  });
  // Every load is waited for at once, so no key's rejection is left unobserved.
  const settled = outcomes.some((o) => o instanceof Promise)
    ? await Promise.all(outcomes)
    : (outcomes as (PeerValue | CacheError)[]);
  const result: PeerGetManyResult = new Map();
  // A key asked twice is answered once, with its first outcome.
  keys.forEach((key, i) => {
    if (!result.has(key)) result.set(key, settled[i] as PeerValue | CacheError);
  });
  return result;
}

/**
 * oldestGeneration is the one generation a batch answer carries for all its values (see
 * `PeerValue.generation`): the oldest they were found under, so that an asker keeps none
 * of them as newer than it is (a clear that landed while some loaded makes the earlier
 * ones older). 0, sent as none, when any was found before the group's first clear, or
 * when there is no value.
 */
export function oldestGeneration(outcomes: Iterable<PeerValue | CacheError>): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const outcome of outcomes) {
    if (!isCacheError(outcome)) oldest = Math.min(oldest, outcome.generation ?? 0);
  }
  return Number.isFinite(oldest) ? oldest : 0;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
