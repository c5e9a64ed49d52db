// address.ts: validation of peer base URLs (the ring identities of nodes) and of
// `host:port` listen addresses.
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

/** parseHostPort parses `host:port` (`[::1]:8080` for IPv6, `:8080` for every interface). */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new InvalidArgumentError(`address must look like HOST:PORT, got ${JSON.stringify(s)}`);
  }
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string)), port };
}

/** PeerEndpoint is where a peer base URL points, as {@link peerEndpoint} reads it. */
export interface PeerEndpoint {
  /** The URL parsed. */
  readonly parsed: URL;
  /** Whether it is `https:` (dialled with TLS). */
  readonly secure: boolean;
  /** The host without an IPv6 address's brackets, as a socket dials it. */
  readonly host: string;
  /** The port: the URL's, else 443 for `https:` and 80 for `http:`. */
  readonly port: number;
}

/**
 * peerEndpoint reads a peer base URL as a transport's client dials it,
 * `http(s)://host[:port][/path]` (a path is the HTTP transport's to use). Throws
 * InvalidArgumentError for a string that is not a URL or a URL of another scheme.
 */
export function peerEndpoint(baseUrl: string): PeerEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch (err) {
    throw new InvalidArgumentError(`peer base URL is not a URL: ${JSON.stringify(baseUrl)}`, {
      cause: err,
    });
  }
  const secure = parsed.protocol === 'https:';
  if (!secure && parsed.protocol !== 'http:') {
    throw new InvalidArgumentError(`peer base URL must be http(s): ${JSON.stringify(baseUrl)}`);
  }
  return {
    parsed,
    secure,
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port),
  };
}

/** hostPortOf is the host (without IPv6 brackets) and port a peer base URL names ({@link peerEndpoint}). */
export function hostPortOf(baseUrl: string): { host: string; port: number } {
  const { host, port } = peerEndpoint(baseUrl);
  return { host, port };
}
