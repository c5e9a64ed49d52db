// limits.ts: the default size limits of keys and values, one place for the groups, every
// transport, the API server and the origin loader.

/** DEFAULT_MAX_KEY_BYTES is the default limit on a key's size: 4096 bytes of UTF-8. */
export const DEFAULT_MAX_KEY_BYTES = 4096;

/** DEFAULT_MAX_VALUE_BYTES is the default limit on a value's size: 64 MiB. */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;
