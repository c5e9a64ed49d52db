// wire.ts: facts of the groupcache HTTP wire shared by client and server: its path and headers.

/** DEFAULT_BASE_PATH is the URL path prefix of peer requests, as in golang/groupcache. */
export const DEFAULT_BASE_PATH = '/_groupcache/';

/**
 * TIMEOUT_HEADER carries the time the client will still wait for an answer, in
 * whole milliseconds (1 to 8 digits), so the owner stops waiting when the caller
 * does. Go groupcache peers ignore it, as they ignore every unknown header.
 */
export const TIMEOUT_HEADER = 'peercache-timeout';

/** TRACEPARENT is the header of the W3C trace context a request carries, with tracing on. */
export const TRACEPARENT = 'traceparent';

/** MAX_TIMEOUT_HEADER_MS is the largest value {@link TIMEOUT_HEADER} carries (8 digits). */
export const MAX_TIMEOUT_HEADER_MS = 99_999_999;
