// target.ts: the checks of a request's group and key shared by the gRPC server's unary
// methods and its Exchange stream, answered with the status a failure is owed.
import { status as Status } from '@grpc/grpc-js';
import { peerLeaving } from '../../core/leave.js';
import type { Logger } from '../../core/logger.js';
import type { GroupLookup, PeerServedGroup } from '../../core/peers.js';
import { httpStatus, toCacheError } from '../../errors.js';
import { type SizeLimits, servedLimits } from '../../limits.js';
import { grpcStatus, NO_SUCH_GROUP_STATUS } from './status.js';

// Error details travel in a trailer or a StreamError: keep them short.
const detailsLimit = 1024;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Refusal is the status a request is answered with when its group or key is unusable. */
export interface Refusal {
  code: Status;
  details: string;
}

/** Target is a usable request's group and the limits that hold for it. */
export interface Target {
  group: PeerServedGroup;
  limits: SizeLimits;
}

/**
 * findGroup looks up the group a request names, with its limits within the
 * server's `ceiling`, or the refusal owed: FAILED_PRECONDITION for a group not
 * served here (see {@link NO_SUCH_GROUP_STATUS}).
 */
export function findGroup(
  groups: GroupLookup,
  ceiling: SizeLimits,
  name: string,
): Target | Refusal {
  const group = groups.getGroup(name);
  if (group === undefined) {
    return { code: NO_SUCH_GROUP_STATUS, details: `no such group: ${clean(name)}` };
  }
  return { group, limits: servedLimits(group, ceiling) };
}

/**
 * checkKey returns the refusal owed to `key` as the HTTP server refuses it (an
 * empty key is INVALID_ARGUMENT, one over `maxKeyBytes` UTF-8 bytes is
 * RESOURCE_EXHAUSTED), or undefined for a usable key.
 */
export function checkKey(key: string, maxKeyBytes: number): Refusal | undefined {
  if (key === '') return { code: Status.INVALID_ARGUMENT, details: 'bad request: empty key' };
  // A key of at most maxKeyBytes/3 UTF-16 units cannot be over the limit: no need to count.
  if (key.length * 3 > maxKeyBytes && Buffer.byteLength(key) > maxKeyBytes) {
    return {
      code: Status.RESOURCE_EXHAUSTED,
      details: `key is over the limit of ${maxKeyBytes} bytes`,
    };
  }
  return undefined;
}

/** isRefusal tells a refusal from a target. */
export function isRefusal(found: Target | Refusal): found is Refusal {
  return (found as Partial<Refusal>).code !== undefined;
}

/** clean makes text safe for a status trailer: well-formed Unicode, bounded length. */
export function clean(text: string): string {
  const short = text.length > detailsLimit ? `${text.slice(0, detailsLimit)}…` : text;
  return short.replace(loneSurrogate, '\uFFFD');
}

/**
 * refusalOf is the status a request that failed with `err` is answered with
 * (the `grpcStatus` table); a server fault (5xx in HTTP's terms) is logged,
 * unless it is this node leaving, which answers so by design.
 */
export function refusalOf(err: unknown, logger: Logger, method: string): Refusal {
  const cacheError = toCacheError(err);
  if (httpStatus[cacheError.code] >= 500 && !peerLeaving(cacheError)) {
    try {
      logger.warn(
        { err: err instanceof Error ? err.message : String(err), method },
        'peer request failed',
      );
    } catch {
      // A failing logger must not take the server down with it.
    }
  }
  return { code: grpcStatus[cacheError.code], details: clean(cacheError.message) };
}
