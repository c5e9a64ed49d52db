// peer-url.ts: validation of peer base URLs, the ring identities of nodes.
import { InvalidArgumentError } from '../errors.js';

/**
 * parsePeerUrl checks that `s` is a peer base URL of the form
 * `http(s)://host[:port]` — no path, query, fragment, credentials or trailing
 * slash — so that every node writes a peer the same way and hashes it the same.
 * It returns `s` unchanged: the ring hashes the string as written.
 */
export function parsePeerUrl(s: unknown, what = 'peer'): string {
  if (typeof s !== 'string' || s === '') {
    throw new InvalidArgumentError(`${what} URL must be a non-empty string`);
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new InvalidArgumentError(
      `${what} URL ${JSON.stringify(s)} is not a URL (want http://host:port)`,
    );
  }
  const bad =
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    u.username !== '' ||
    u.password !== '' ||
    u.search !== '' ||
    u.hash !== '' ||
    u.pathname !== '/' ||
    s.endsWith('/');
  if (bad) {
    throw new InvalidArgumentError(
      `${what} URL ${JSON.stringify(s)} must look like http://host:port (no path or trailing slash)`,
    );
  }
  return s;
}
