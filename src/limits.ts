// limits.ts: the size limits of keys and values, one place for the groups, every
// transport, the API server and the origin loader: the defaults, the ceiling of the
// wire, and how a request is held to the limits of the group it is for.
import { TooLargeError } from './errors.js';

/** DEFAULT_MAX_KEY_BYTES is the default limit on a key's size: 4096 bytes of UTF-8. */
export const DEFAULT_MAX_KEY_BYTES = 4096;

/** DEFAULT_MAX_VALUE_BYTES is the default limit on a group's values: 64 MiB. */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;

/**
 * DEFAULT_WIRE_MAX_VALUE_BYTES is the default ceiling of a value on every peer
 * transport: 256 MiB, four times a group's default limit. Each request is held
 * to the limit of the group it is for (`maxValueBytes`); the ceiling bounds
 * what a frame, a message or a body may carry whatever a group allows, so that
 * a group that allows values up to it works remotely as it does locally. A
 * group that allows more needs its transport's `maxValueBytes` raised too.
 */
export const DEFAULT_WIRE_MAX_VALUE_BYTES = 256 * 1024 * 1024;

/**
 * MAX_BATCH_KEYS is the most keys one batch get (a peer's `getMany` request) may carry:
 * servers refuse a larger batch, and clients split a longer list into batches of at most it.
 */
export const MAX_BATCH_KEYS = 1000;

/**
 * MAX_BATCH_KEY_BYTES is the most bytes of keys (UTF-8, summed) one batch get may carry:
 * servers refuse a larger batch, and clients split a list of longer keys to stay within it.
 */
export const MAX_BATCH_KEY_BYTES = 1024 * 1024;

/** SizeLimits are a largest key (UTF-8 bytes) and a largest value (bytes). */
export interface SizeLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

/**
 * servedLimits are the limits a request for `group` is held to: the group's
 * own (when it tells them), never past the transport's `ceiling`.
 */
export function servedLimits(
  group: Partial<SizeLimits> | undefined,
  ceiling: SizeLimits,
): SizeLimits {
  return {
    maxKeyBytes: Math.min(ceiling.maxKeyBytes, group?.maxKeyBytes ?? ceiling.maxKeyBytes),
    maxValueBytes: Math.min(ceiling.maxValueBytes, group?.maxValueBytes ?? ceiling.maxValueBytes),
  };
}

/**
 * acceptedValueBytes is the largest value a client takes in an answer: the
 * caller's `maxValueBytes` (its group's limit), never past the transport's ceiling.
 */
export function acceptedValueBytes(
  ceiling: number,
  options: { maxValueBytes?: number | undefined } | undefined,
): number {
  return Math.min(ceiling, options?.maxValueBytes ?? ceiling);
}

/**
 * checkPeerValue throws TooLargeError when a value sent to or got from the peer `url`
 * is over `limit` bytes: the check every transport's client makes.
 */
export function checkPeerValue(url: string, bytes: number, limit: number): void {
  if (bytes > limit) {
    throw new TooLargeError(`peer ${url}: value of ${bytes} bytes is over the limit of ${limit}`);
  }
}
