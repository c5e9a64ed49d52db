// wire.ts: facts of the groupcache HTTP wire shared by client and server: its path and headers.

/** DEFAULT_BASE_PATH is the URL path prefix of peer requests, as in golang/groupcache. */
export const DEFAULT_BASE_PATH = '/_groupcache/';

/**
 * STATS_PATH is the path, under the base path, of peercache's stats call:
 * `GET {basePath}_peercache/stats[?group=G&key=K]`, answered with the node's
 * NodeStats as JSON. A golang/groupcache peer takes `_peercache` for a group
 * name and answers 404 `no such group`; a peercache group of that name is
 * shadowed on this one path.
 */
export const STATS_PATH = '_peercache/stats';

/**
 * TIMEOUT_HEADER carries the time the client will still wait for an answer, in
 * whole milliseconds (1 to 8 digits), so the owner stops waiting when the caller
 * does. Go groupcache peers ignore it, as they ignore every unknown header.
 */
export const TIMEOUT_HEADER = 'peercache-timeout';

/**
 * GENERATION_HEADER carries a group's generation (see `Group.clear`), a decimal
 * whole number, on requests and on answers, once the group has been cleared (never
 * while it is 0). Go groupcache peers ignore it.
 */
export const GENERATION_HEADER = 'peercache-generation';

/**
 * CLEAR_PATH is the path prefix, under the base path, of a group's clear notice:
 * `DELETE {basePath}_peercache/clear/{group}` with the generation in
 * {@link GENERATION_HEADER}. A Go peer takes `_peercache` for a group name and answers
 * 404 `no such group`, changing nothing.
 */
export const CLEAR_PATH = '_peercache/clear/';

/** TRACEPARENT is the header of the W3C trace context a request carries, with tracing on. */
export const TRACEPARENT = 'traceparent';

/** MAX_TIMEOUT_HEADER_MS is the largest value {@link TIMEOUT_HEADER} carries (8 digits). */
export const MAX_TIMEOUT_HEADER_MS = 99_999_999;
