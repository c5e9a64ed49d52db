// errors.ts: the one error family of peercache, with stable codes that map to
// HTTP statuses and gRPC codes by a table.

/**
 * ErrorCode lists the stable codes carried by every {@link CacheError}. Code that
 * handles errors should switch on `err.code`, never on the message.
 */
export const ErrorCode = {
  /** The key does not exist at the source (the loader said so). */
  NotFound: 'NOT_FOUND',
  /** The caller passed something unusable: an empty key, a bad option, a malformed request. */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** A key or value is over the configured limit. */
  TooLarge: 'TOO_LARGE',
  /** Something that should exist already does (a duplicate group name). */
  AlreadyExists: 'ALREADY_EXISTS',
  /** A peer or dependency could not be reached, or the node is shutting down. */
  Unavailable: 'UNAVAILABLE',
  /** A deadline passed before the work finished. */
  DeadlineExceeded: 'DEADLINE_EXCEEDED',
  /** The caller gave up (its AbortSignal fired). */
  Cancelled: 'CANCELLED',
  /** The request lacked valid credentials. */
  Unauthenticated: 'UNAUTHENTICATED',
  /** A loader failed, or something broke that is not the caller's fault. */
  Internal: 'INTERNAL',
} as const;

/** ErrorCode values, e.g. `'NOT_FOUND'`. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** CacheErrorOptions are the options of every {@link CacheError}. */
export interface CacheErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /**
   * remote is true when the error is a peer's answer: the request reached the
   * peer and the peer said so (its loader failed, it refused the secret). Peer
   * clients set it on errors they decode from an answer. Default false.
   */
  remote?: boolean | undefined;
}

/**
 * CacheError is the base of every error peercache throws on purpose. `code` is
 * stable; `cause` keeps the underlying error, if any; `remote` tells a peer's
 * answer from a failure on the way to it.
 */
export class CacheError extends Error {
  /** The stable code of this error. */
  readonly code: ErrorCode;
  /** True when the error is a peer's answer rather than a failure to reach it. */
  readonly remote: boolean;

  constructor(code: ErrorCode, message: string, options?: CacheErrorOptions) {
    super(message, options);
    this.code = code;
    this.remote = options?.remote ?? false;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** NotFoundError: the loader reported that the key does not exist. */
export class NotFoundError extends CacheError {
  constructor(message = 'not found', options?: CacheErrorOptions) {
    super(ErrorCode.NotFound, message, options);
  }
}

/** InvalidArgumentError: a bad key, value, option or request. */
export class InvalidArgumentError extends CacheError {
  constructor(message: string, options?: CacheErrorOptions) {
    super(ErrorCode.InvalidArgument, message, options);
  }
}

/** TooLargeError: a key or value over the configured limit. */
export class TooLargeError extends CacheError {
  constructor(message: string, options?: CacheErrorOptions) {
    super(ErrorCode.TooLarge, message, options);
  }
}

/** AlreadyExistsError: e.g. a group name registered twice. */
export class AlreadyExistsError extends CacheError {
  constructor(message: string, options?: CacheErrorOptions) {
    super(ErrorCode.AlreadyExists, message, options);
  }
}

/** UnavailableError: a peer could not be reached, or the node is closing. */
export class UnavailableError extends CacheError {
  constructor(message: string, options?: CacheErrorOptions) {
    super(ErrorCode.Unavailable, message, options);
  }
}

/** DeadlineExceededError: a timeout or deadline passed. */
export class DeadlineExceededError extends CacheError {
  constructor(message = 'deadline exceeded', options?: CacheErrorOptions) {
    super(ErrorCode.DeadlineExceeded, message, options);
  }
}

/** CancelledError: the caller's AbortSignal fired. */
export class CancelledError extends CacheError {
  constructor(message = 'cancelled', options?: CacheErrorOptions) {
    super(ErrorCode.Cancelled, message, options);
  }
}

/** UnauthenticatedError: missing or wrong credentials on a peer or API request. */
export class UnauthenticatedError extends CacheError {
  constructor(message = 'unauthenticated', options?: CacheErrorOptions) {
    super(ErrorCode.Unauthenticated, message, options);
  }
}

/** InternalError: a loader failed or an unexpected fault occurred. */
export class InternalError extends CacheError {
  constructor(message: string, options?: CacheErrorOptions) {
    super(ErrorCode.Internal, message, options);
  }
}

/**
 * ClearIncompleteError: `Group.clear` emptied the group here and on the peers that
 * answered, but `peers` (their URLs) could not be told. The group keeps telling them
 * in the background until each acknowledges or leaves the ring.
 */
export class ClearIncompleteError extends UnavailableError {
  /** peers are the URLs of the peers that have not acknowledged the clear. */
  readonly peers: readonly string[];
  /** generation is the group's generation the clear set. */
  readonly generation: number;

  constructor(
    message: string,
    peers: readonly string[],
    generation: number,
    options?: CacheErrorOptions,
  ) {
    super(message, options);
    this.peers = peers;
    this.generation = generation;
  }
}

const classes: Record<ErrorCode, new (message: string, options?: CacheErrorOptions) => CacheError> =
  {
    NOT_FOUND: NotFoundError,
    INVALID_ARGUMENT: InvalidArgumentError,
    TOO_LARGE: TooLargeError,
    ALREADY_EXISTS: AlreadyExistsError,
    UNAVAILABLE: UnavailableError,
    DEADLINE_EXCEEDED: DeadlineExceededError,
    CANCELLED: CancelledError,
    UNAUTHENTICATED: UnauthenticatedError,
    INTERNAL: InternalError,
  };

/** errorFromCode builds the {@link CacheError} subclass for `code`. */
export function errorFromCode(
  code: ErrorCode,
  message: string,
  options?: CacheErrorOptions,
): CacheError {
  return new classes[code](message, options);
}

/** isCacheError tells whether `err` is a {@link CacheError}, optionally of one code. */
export function isCacheError(err: unknown, code?: ErrorCode): err is CacheError {
  return err instanceof CacheError && (code === undefined || err.code === code);
}

/**
 * httpStatus maps an error code to the HTTP status peercache answers with.
 * Unknown errors (not a CacheError) are 500.
 */
export const httpStatus: Readonly<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
  TOO_LARGE: 413,
  ALREADY_EXISTS: 409,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  CANCELLED: 499,
  UNAUTHENTICATED: 401,
  INTERNAL: 500,
};

/**
 * toCacheError turns anything thrown into a {@link CacheError}: a CacheError is
 * returned as is, an abort becomes Cancelled or DeadlineExceeded, anything else
 * Internal with the original kept as `cause`.
 */
export function toCacheError(err: unknown, context?: string): CacheError {
  if (err instanceof CacheError) return err;
  const prefix = context ? `${context}: ` : '';
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new DeadlineExceededError(`${prefix}${err.message}`, { cause: err });
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new CancelledError(`${prefix}${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(`${prefix}${message}`, { cause: err });
}

/**
 * abortError turns an aborted signal's reason into a {@link CacheError}: a
 * `TimeoutError` reason (as from `AbortSignal.timeout`) becomes DeadlineExceeded,
 * a CacheError reason is kept, anything else is Cancelled.
 */
export function abortError(signal: AbortSignal): CacheError {
  const reason: unknown = signal.reason;
  if (reason instanceof CacheError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new DeadlineExceededError(reason.message, { cause: reason });
  }
  return new CancelledError(reason instanceof Error ? reason.message : 'cancelled', {
    cause: reason,
  });
}

/**
 * peerUnreachable says whether a failed peer call means the peer could not be
 * reached or did not answer (refused or broken connection, timeout, a closed
 * client, anything that is not a CacheError), as opposed to an answer from the
 * peer (`remote` errors, e.g. its loader failed) or a request refused before it
 * was sent (a bad key). Only the first is a reason to load elsewhere or to
 * count against the peer's health.
 */
export function peerUnreachable(err: unknown): boolean {
  if (!(err instanceof CacheError)) return true;
  if (err.remote) return false;
  return err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED' || err.code === 'INTERNAL';
}
