// fd-limit.ts: the process's limit on open file descriptors, from which servers
// take their default connection limits so that one flood cannot use them all.
import { readFileSync } from 'node:fs';

/** The limit assumed where /proc/self/limits cannot be read. */
const FALLBACK_LIMIT = 1024;

/**
 * openFileLimit returns the soft limit on open files of this process (Linux's
 * `/proc/self/limits`), or 1,024 where it cannot be read; `unlimited` counts as
 * 1,048,576.
 */
export function openFileLimit(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return FALLBACK_LIMIT;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null) return FALLBACK_LIMIT;
  if (m[1] === 'unlimited') return 1 << 20;
  const n = Number(m[1]);
  return Number.isInteger(n) && n > 0 ? n : FALLBACK_LIMIT;
}

/**
 * defaultMaxConnections is a server's default connection limit: `share` of the
 * open-file limit (so a flood on one port leaves descriptors for the others,
 * the API server's among them), at least 16 and at most `cap`.
 */
export function defaultMaxConnections(share: number, cap: number, limit = openFileLimit()): number {
  return Math.max(16, Math.min(cap, Math.floor(limit * share)));
}
