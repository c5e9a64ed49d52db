// status.ts: the one table between peercache's error codes and gRPC status codes, both ways.
import { status as Status } from '@grpc/grpc-js';
import { type CacheError, type ErrorCode, errorFromCode, UnavailableError } from '../../errors.js';

/**
 * grpcStatus maps each error code to the gRPC status a server answers with.
 * TOO_LARGE is RESOURCE_EXHAUSTED, the status grpc-js itself gives a message over
 * its size limits, so a value refused by our own check and one refused by the
 * library read the same. A group the server does not have is not in this table:
 * see {@link NO_SUCH_GROUP_STATUS}.
 */
export const grpcStatus: Readonly<Record<ErrorCode, Status>> = {
  NOT_FOUND: Status.NOT_FOUND,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  TOO_LARGE: Status.RESOURCE_EXHAUSTED,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  UNAVAILABLE: Status.UNAVAILABLE,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  CANCELLED: Status.CANCELLED,
  UNAUTHENTICATED: Status.UNAUTHENTICATED,
  INTERNAL: Status.INTERNAL,
};

/**
 * NO_SUCH_GROUP_STATUS is what a server answers for a group it does not serve
 * (HTTP's `404 no such group`): FAILED_PRECONDITION, distinct from a key's
 * NOT_FOUND, so the client can tell a misconfigured peer (fall back to a local
 * load) from a final not-found without reading the message.
 */
export const NO_SUCH_GROUP_STATUS = Status.FAILED_PRECONDITION;

/**
 * GENERATION_METADATA carries a group's generation (see `Group.clear`), a decimal whole
 * number, in a call's metadata and in its answer's initial metadata, once the group has
 * been cleared (never while it is 0).
 */
export const GENERATION_METADATA = 'peercache-generation';

/**
 * CLEAR_METADATA marks a group's clear notice: a `Remove` call with an empty key and this
 * metadata, whose value is the generation. A server that predates it refuses the empty
 * key (INVALID_ARGUMENT) and changes nothing.
 */
export const CLEAR_METADATA = 'peercache-clear';

/**
 * Statuses a client receives, mapped back to error codes. Those absent — and
 * CANCELLED when the caller did not cancel: the peer or the connection dropped
 * the call — are UNAVAILABLE, as HTTP's client treats an unexpected status: the
 * peer failed, the caller falls back.
 */
const fromStatus: Partial<Record<Status, ErrorCode>> = {
  [Status.NOT_FOUND]: 'NOT_FOUND',
  [Status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [Status.RESOURCE_EXHAUSTED]: 'TOO_LARGE',
  [Status.OUT_OF_RANGE]: 'TOO_LARGE',
  [Status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [Status.DEADLINE_EXCEEDED]: 'DEADLINE_EXCEEDED',
  [Status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [Status.PERMISSION_DENIED]: 'UNAUTHENTICATED',
  [Status.INTERNAL]: 'INTERNAL',
  [Status.UNKNOWN]: 'INTERNAL',
  [Status.DATA_LOSS]: 'INTERNAL',
};

/**
 * errorFromStatus turns a failed call's status into a CacheError for the peer
 * at `url`. NOT_FOUND keeps the server's message alone (it is the owner's
 * answer about the key); others say which peer and method failed. The statuses
 * of the table are the peer's answer (`remote`), except DEADLINE_EXCEEDED,
 * which grpc-js also gives when the call's own deadline passes on the way;
 * the rest are UNAVAILABLE and not remote: the caller falls back.
 */
export function errorFromStatus(
  url: string,
  method: string,
  code: Status,
  details: string,
  cause?: unknown,
): CacheError {
  const text = details ? `: ${details}` : '';
  const detail = `peer ${url}: ${method} answered ${Status[code] ?? code}${text}`;
  const ours = fromStatus[code];
  if (ours === undefined) return new UnavailableError(detail, { cause });
  const remote = ours !== 'DEADLINE_EXCEEDED';
  if (ours === 'NOT_FOUND') return errorFromCode(ours, details || 'not found', { cause, remote });
  return errorFromCode(ours, detail, { cause, remote });
}
