// refusals.ts: RefusalLog, how a server logs the peers it refuses (a wrong peer secret, a failed
// TLS handshake, a client certificate it does not accept) with the reason, once per interval.
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../core/logger.js';
import { LogThrottle, type LogThrottleOptions } from '../util/log-throttle.js';

/**
 * certificateReasons says in words the verification codes a client
 * certificate is refused with most often; other codes are logged as they are.
 */
const certificateReasons: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  INVALID_PURPOSE: 'unsuitable certificate purpose (no clientAuth extended key usage)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the certificate: not issued by tls.ca',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to verify the certificate: its issuer is not in tls.ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    'unable to verify the certificate: its issuer is not in tls.ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate not in tls.ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain, not in tls.ca',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
};

/**
 * CLOSED_AFTER_HANDSHAKE is what a TLS client can say when a peer closes the
 * connection without a word right after the handshake: that is how a server
 * refuses a client certificate (with TLS 1.3 the client learns nothing more),
 * and the server's log says why.
 */
export const CLOSED_AFTER_HANDSHAKE =
  "the peer closed the TLS connection without a word, as it does when it refuses this node's client certificate: its log says why";

/** certificateReason says why a client certificate was refused, from its verification code. */
export function certificateReason(code: string | undefined | null): string {
  if (code === undefined || code === null) return 'no client certificate';
  return certificateReasons[code] ?? code;
}

/** Where a refused connection came from, as `address:port`, when known. */
function remoteOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }) {
  return socket.remoteAddress === undefined
    ? undefined
    : `${socket.remoteAddress}:${socket.remotePort}`;
}

/**
 * RefusalLog logs, on the refusing side, each kind of refusal of a server
 * (`server` names it: `peer`, `api`) with its reason and the address it came
 * from: one line per reason per interval (10 s by default), with the number
 * held back since the last line, so a flood of refusals cannot flood the log.
 * A failing logger changes nothing.
 */
export class RefusalLog {
  readonly #logger: Logger;
  readonly #server: string;
  readonly #throttle: LogThrottle;

  constructor(logger: Logger, server: string, options?: LogThrottleOptions) {
    this.#logger = logger;
    this.#server = server;
    this.#throttle = new LogThrottle(options);
  }

  /**
   * secret logs a request from `remote` refused for a missing or wrong secret;
   * `what` names it. Default `what`: `peer secret`.
   */
  secret(remote: string | undefined, what = 'peer secret'): void {
    this.#log(
      `secret:${what}`,
      { remote, reason: `missing or wrong ${what}` },
      `${this.#server} request refused: missing or wrong ${what}`,
    );
  }

  /**
   * handshake logs a TLS handshake that failed (a server's `tlsClientError`):
   * the client did not trust this node's certificate, spoke no TLS, timed out.
   */
  handshake(err: Error & { code?: string | undefined }, socket: TLSSocket): void {
    // A Node client that does not trust the certificate closes without an alert.
    const reason =
      err.code === 'ECONNRESET'
        ? `${err.message}: the client closed the connection during the handshake (does it trust this node's certificate? its log says)`
        : err.message;
    this.#log(
      `tls:${err.code ?? err.message}`,
      { remote: remoteOf(socket), reason, code: err.code },
      `${this.#server} TLS handshake failed`,
    );
  }

  /**
   * refuseUnauthorized checks the client certificate of a connection that has
   * completed its handshake on a server that asks for one without letting
   * Node refuse it (`requestCert: true, rejectUnauthorized: false`): Node's own
   * refusal closes the connection without a word of why. A connection whose
   * certificate is missing or does not verify is logged and destroyed before
   * anything is read from it; refuseUnauthorized then returns true.
   */
  refuseUnauthorized(socket: TLSSocket): boolean {
    if (socket.authorized) return false;
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    const code = presented ? (socket.authorizationError as unknown as string) : undefined;
    this.#log(
      `cert:${code}`,
      { remote: remoteOf(socket), reason: certificateReason(code), code },
      `${this.#server} connection refused: client certificate not accepted`,
    );
    socket.destroy();
    return true;
  }

  #log(subject: string, fields: Record<string, unknown>, message: string): void {
    const held = this.#throttle.take(subject);
    if (held === undefined) return;
    try {
      this.#logger.warn({ ...fields, refusedSinceLastLog: held }, message);
    } catch {
      // A failing logger must not take the server down with it.
    }
  }
}
