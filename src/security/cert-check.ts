// cert-check.ts: checks a node's own certificate before it is used (validity dates, the key,
// the extended key usages the configuration needs, the CA), so a bad one is refused at start.
import type { X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/** The extended key usage OIDs the checks know. */
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_USAGE = '2.5.29.37.0';
const DAY_MS = 24 * 60 * 60 * 1000;

/** DEFAULT_WARN_WITHIN_DAYS is how close to its end a certificate's validity is warned about: 14 days. */
export const DEFAULT_WARN_WITHIN_DAYS = 14;

/**
 * CertificateProblemCode names what is wrong with a certificate. Stable:
 * switch on it, not on the message.
 *
 * - `EXPIRED`, `NOT_YET_VALID`, `KEY_MISMATCH`: the certificate cannot work;
 *   it is refused.
 * - `EXPIRES_SOON`, `NO_SERVER_AUTH`, `NO_CLIENT_AUTH`, `NOT_FROM_CA`: it works
 *   now, or for some peers only; it is warned about.
 */
export type CertificateProblemCode =
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'KEY_MISMATCH'
  | 'EXPIRES_SOON'
  | 'NO_SERVER_AUTH'
  | 'NO_CLIENT_AUTH'
  | 'NOT_FROM_CA';

/** CertificateProblem is one finding of {@link checkCertificate}. */
export interface CertificateProblem {
  /** code says what is wrong. */
  code: CertificateProblemCode;
  /** fatal is true when the certificate cannot work at all (it is refused). */
  fatal: boolean;
  /** message says it for an operator, naming the certificate and the dates or usages. */
  message: string;
}

/** CertificateCheckOptions are what {@link checkCertificate} checks against. */
export interface CertificateCheckOptions {
  /** serverAuth: the certificate serves TLS, so it needs the serverAuth usage. Default false. */
  serverAuth?: boolean | undefined;
  /** clientAuth: the certificate is presented to peers that ask for one (mutual TLS). Default false. */
  clientAuth?: boolean | undefined;
  /** warnWithinDays: warn when the certificate ends within this many days. Default 14. */
  warnWithinDays?: number | undefined;
  /** now is the time to check at, ms since the epoch. Default `Date.now()`. */
  now?: number | undefined;
}

/**
 * CertificateError is a certificate refused before use: expired, not yet
 * valid, or not matching its key. Its code is INVALID_ARGUMENT; `problems`
 * lists what is wrong (fatal ones first).
 */
export class CertificateError extends InvalidArgumentError {
  /** problems are the findings that refused the certificate. */
  readonly problems: readonly CertificateProblem[];

  constructor(problems: readonly CertificateProblem[]) {
    super(`tls: certificate refused: ${problems.map((p) => p.message).join('; ')}`);
    this.problems = problems;
  }
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** parseCertificates parses every PEM certificate in `bundle`, in order. */
function parseCertificates(bundle: Buffer | string): X509Certificate[] {
  const text = typeof bundle === 'string' ? bundle : bundle.toString('latin1');
  // node:crypto is loaded on the first check, not with the core entry that exports this.
  const { X509Certificate } = process.getBuiltinModule('node:crypto');
  return (text.match(pemCertificate) ?? []).map((block) => new X509Certificate(block));
}

/**
 * checkCertificate checks a node's own certificate chain `cert` (PEM, leaf
 * first) with its `key` and, when given, the `ca` bundle peers check it
 * against; it returns the problems found, fatal ones first (empty when none).
 * Throws InvalidArgumentError when `cert` holds no certificate or `key` is no key.
 */
export function checkCertificate(
  tls: { cert: Buffer | string; key: Buffer | string; ca?: Buffer | string | undefined },
  options: CertificateCheckOptions = {},
): CertificateProblem[] {
  const chain = parseCertificates(tls.cert);
  const leaf = chain[0];
  if (leaf === undefined) throw new InvalidArgumentError('tls.cert holds no PEM certificate');
  const now = options.now ?? Date.now();
  const warnWithinDays = options.warnWithinDays ?? DEFAULT_WARN_WITHIN_DAYS;
  const name = `certificate ${JSON.stringify(leaf.subject.replaceAll('\n', ', '))}`;
  const problems: CertificateProblem[] = [];
  const add = (code: CertificateProblemCode, fatal: boolean, message: string) =>
    problems.push({ code, fatal, message: `${name} ${message}` });

  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  if (now > to) {
    add('EXPIRED', true, `has expired: it was valid until ${leaf.validTo}`);
  } else if (now < from) {
    add('NOT_YET_VALID', true, `is not yet valid: it is valid from ${leaf.validFrom}`);
  }
  if (!leaf.checkPrivateKey(process.getBuiltinModule('node:crypto').createPrivateKey(tls.key))) {
    add('KEY_MISMATCH', true, 'does not match tls.key (the key belongs to another certificate)');
  }
  if (now <= to && to - now < warnWithinDays * DAY_MS) {
    const days = Math.max(0, Math.floor((to - now) / DAY_MS));
    const span = days === 1 ? '1 day' : `${days} days`;
    add('EXPIRES_SOON', false, `expires in ${span}, on ${leaf.validTo}: renew it`);
  }
  // No extendedKeyUsage extension at all allows every use.
  const usages: string[] = leaf.keyUsage ?? [];
  const allows = (oid: string) =>
    usages.length === 0 || usages.includes(oid) || usages.includes(ANY_USAGE);
  if (options.serverAuth === true && !allows(SERVER_AUTH)) {
    add(
      'NO_SERVER_AUTH',
      false,
      'lacks the serverAuth extended key usage: peers will refuse it when this node serves them',
    );
  }
  if (options.clientAuth === true && !allows(CLIENT_AUTH)) {
    add(
      'NO_CLIENT_AUTH',
      false,
      'lacks the clientAuth extended key usage: peers that require client certificates will refuse it',
    );
  }
  if (tls.ca !== undefined && !chainsTo(chain, parseCertificates(tls.ca))) {
    add('NOT_FROM_CA', false, 'was not issued by tls.ca: peers that trust only tls.ca refuse it');
  }
  problems.sort((a, b) => Number(b.fatal) - Number(a.fatal));
  return problems;
}

/**
 * chainsTo tells whether `chain[0]` leads to one of `roots`: each step is a
 * certificate of the chain or a root that issued (and signed) the one before.
 */
function chainsTo(chain: X509Certificate[], roots: X509Certificate[]): boolean {
  const issuedBy = (child: X509Certificate, parent: X509Certificate) =>
    child.checkIssued(parent) && child.verify(parent.publicKey);
  let current = chain[0];
  // Bounded by the chain's length: certificates that issue each other in a cycle end too.
  for (let step = 0; current !== undefined && step <= chain.length; step++) {
    const at = current;
    if (roots.some((root) => at.fingerprint256 === root.fingerprint256 || issuedBy(at, root))) {
      return true;
    }
    current = chain.slice(1).find((c) => c !== at && issuedBy(at, c));
  }
  return false;
}
