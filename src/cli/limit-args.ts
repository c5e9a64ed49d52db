// limit-args.ts: the flags of the servers' limits (connections, timeouts, request bytes in
// flight), parsed into the ServerLimitOptions of the peer server and of the API.
import type { ServerLimitOptions } from '../util/server-limits.js';
import { UsageError, wholeNumber } from './flags.js';

/** ServerLimitFlags are the limits given on the command line; absent ones keep their defaults. */
export interface ServerLimitFlags {
  /** The peer server's: `--max-connections`, `--max-inflight`, `--read-timeout`, `--idle-timeout`. */
  peer: ServerLimitOptions;
  /** The API's: `--api-max-connections`, `--api-max-inflight`, `--read-timeout`, `--idle-timeout`. */
  api: ServerLimitOptions;
}

/** LIMIT_OPTIONS are the util.parseArgs options of the limit flags. */
export const LIMIT_OPTIONS = {
  'max-connections': { type: 'string' },
  'api-max-connections': { type: 'string' },
  'max-inflight': { type: 'string' },
  'api-max-inflight': { type: 'string' },
  'read-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
} as const;

/** API_LIMIT_OPTIONS are the limit flags of a command with an API and no peer server (a gateway). */
export const API_LIMIT_OPTIONS = {
  'api-max-connections': { type: 'string' },
  'api-max-inflight': { type: 'string' },
  'read-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
} as const;

/** LimitValues are the parsed values of the limit flags, as util.parseArgs returns them. */
export interface LimitValues {
  'max-connections'?: string | undefined;
  'api-max-connections'?: string | undefined;
  'max-inflight'?: string | undefined;
  'api-max-inflight'?: string | undefined;
  'read-timeout'?: string | undefined;
  'idle-timeout'?: string | undefined;
}

/**
 * parseLimits reads the limit flags: connection counts and timeouts (in ms) are
 * whole numbers >= 1, byte caps are sizes (`256MiB`, plain bytes; 0 allowed).
 * `parseSize` reads sizes (passed in, to keep one size syntax). The timeouts
 * apply to both servers. Throws UsageError on a bad value, or for an API flag
 * given without `--api`.
 */
export function parseLimits(
  values: LimitValues,
  hasApi: boolean,
  parseSize: (s: string) => number,
): ServerLimitFlags {
  const count = (flag: keyof LimitValues) => {
    const raw = values[flag];
    return raw === undefined ? undefined : wholeNumber(`--${flag}`, raw, 1);
  };
  const size = (flag: keyof LimitValues) => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    let bytes: number;
    try {
      bytes = parseSize(raw);
    } catch (err) {
      throw new UsageError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
    }
    // A peer server with no budget would refuse every set from its peers (and the tcp
    // transport takes none); an API with none is read-only, which is allowed.
    if (flag === 'max-inflight' && bytes < 1) {
      throw new UsageError(`--${flag} must be at least 1 byte, got ${raw}`);
    }
    return bytes;
  };
  if (!hasApi) {
    const stray = (['api-max-connections', 'api-max-inflight'] as const).find(
      (f) => values[f] !== undefined,
    );
    if (stray !== undefined) throw new UsageError(`--${stray} needs --api`);
  }
  const timeouts = {
    readTimeoutMs: count('read-timeout'),
    idleTimeoutMs: count('idle-timeout'),
  };
  return {
    peer: defined({
      maxConnections: count('max-connections'),
      maxInflightBytes: size('max-inflight'),
      ...timeouts,
    }),
    api: defined({
      maxConnections: count('api-max-connections'),
      maxInflightBytes: size('api-max-inflight'),
      ...timeouts,
    }),
  };
}

/** defined drops the limits left at their defaults, so option objects compare and print cleanly. */
function defined(limits: ServerLimitOptions): ServerLimitOptions {
  return Object.fromEntries(
    Object.entries(limits).filter(([, v]) => v !== undefined),
  ) as ServerLimitOptions;
}
