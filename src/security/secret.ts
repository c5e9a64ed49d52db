// secret.ts: bearer secrets (the peer secret, the API token): sending them, and checking them
// in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/** AUTHORIZATION is the header (HTTP) or metadata key (gRPC) that carries a bearer secret. */
export const AUTHORIZATION = 'authorization';

/** WWW_AUTHENTICATE is the challenge sent with a 401 answer. */
export const WWW_AUTHENTICATE = 'Bearer realm="peercache"';

// Visible ASCII only: the secret travels in a header, and is compared byte for byte.
const secretSyntax = /^[\x21-\x7e]+$/;
const bearerSyntax = /^Bearer +([^ ]+) *$/i;

/**
 * checkSecret returns `secret` when it is usable as a bearer secret (a
 * non-empty string of visible ASCII: no spaces or control characters), or
 * undefined when it is undefined. Throws InvalidArgumentError otherwise, naming `what`.
 */
export function checkSecret(what: string, secret: unknown): string | undefined {
  if (secret === undefined) return undefined;
  if (typeof secret !== 'string' || !secretSyntax.test(secret)) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string of visible ASCII characters (no spaces)`,
    );
  }
  return secret;
}

/** bearer is the `Authorization` value that presents `secret`. */
export function bearer(secret: string): string {
  return `Bearer ${secret}`;
}

/**
 * SecretCheck tells whether an `Authorization` value presents the expected
 * secret. A missing value, one repeated (an array of more than one), or one of
 * another scheme never matches.
 */
export type SecretCheck = (authorization: string | readonly unknown[] | undefined) => boolean;

/**
 * secretCheck builds the {@link SecretCheck} for `secret`. It compares SHA-256
 * digests with `crypto.timingSafeEqual`, so the time taken does not depend on
 * how much of the secret a guess got right, nor on the secret's length.
 */
export function secretCheck(secret: string): SecretCheck {
  const expected = digest(secret);
  return (authorization) => {
    const value = Array.isArray(authorization)
      ? authorization.length === 1
        ? authorization[0]
        : undefined
      : authorization;
    if (typeof value !== 'string') return false;
    const presented = bearerSyntax.exec(value)?.[1];
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), expected);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
