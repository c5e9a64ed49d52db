// tls.ts: the TLS options shared by the peer transports and the API server, checked once.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { InvalidArgumentError } from '../errors.js';
import { CertificateError, type CertificateProblem, checkCertificate } from './cert-check.js';

/**
 * TlsOptions turn on TLS for peers (and, optionally, the API server). Every
 * value is PEM text (a string or a Buffer), not a file name: see
 * {@link readTlsFiles} to load files.
 *
 * - Serving: with `cert` and `key`, the server speaks TLS only (plain
 *   connections fail). Without them it serves in the clear.
 * - Dialling: `https://` peer URLs use TLS, `http://` ones do not. The peer's
 *   certificate must chain to `ca` and name the host of the URL (DNS name or
 *   IP address in subjectAltName). The client presents `cert`/`key` whenever a
 *   server asks for a certificate, so in a mutual-TLS cluster each node's
 *   certificate must allow both uses (extendedKeyUsage serverAuth and
 *   clientAuth, or no extendedKeyUsage at all).
 */
export interface TlsOptions {
  /** cert is this node's certificate chain, leaf first (PEM). Needs `key`. Default: none. */
  cert?: string | Buffer | undefined;
  /** key is the private key of `cert` (PEM, unencrypted). Needs `cert`. Default: none. */
  key?: string | Buffer | undefined;
  /**
   * ca is the certificate authority (one or more PEM certificates) that peer
   * certificates must chain to, on both sides. It replaces the public roots
   * Node trusts by default. Default: Node's bundled public roots.
   */
  ca?: string | Buffer | undefined;
  /**
   * clientAuth makes the server require a client certificate that chains to
   * `ca` (mutual TLS): a client without one, or with one from another CA, is
   * refused during the handshake. Needs `cert`, `key` and `ca`. Default false.
   */
  clientAuth?: boolean | undefined;
}

/**
 * ResolvedTls is a checked {@link TlsOptions}: Buffers, and whether the server
 * side serves TLS at all.
 */
export interface ResolvedTls {
  cert: Buffer | undefined;
  key: Buffer | undefined;
  ca: Buffer | undefined;
  clientAuth: boolean;
  /** serving is true when `cert` and `key` are set: the server speaks TLS. */
  serving: boolean;
  /**
   * warnings are what is wrong with `cert` without making it unusable (it
   * expires soon, lacks a usage the options need, was not issued by `ca`); a
   * server logs them when it starts. Empty without a certificate.
   */
  warnings: readonly CertificateProblem[];
}

/**
 * resolveTls checks `tls` and returns it as Buffers, or undefined when it is
 * undefined. The certificate, key and CA are parsed now (a bad PEM fails here,
 * not at the first peer call), and the certificate is checked
 * ({@link checkCertificate}): one that has expired, is not yet valid or does
 * not match its key is refused with a {@link CertificateError}; lesser problems
 * (it expires within 14 days, lacks the serverAuth usage, or the clientAuth
 * usage under `clientAuth`, or was not issued by `ca`) are returned as
 * `warnings`. Throws InvalidArgumentError on a bad option.
 */
export function resolveTls(tls: TlsOptions | undefined): ResolvedTls | undefined {
  if (tls === undefined) return undefined;
  if (tls === null || typeof tls !== 'object')
    throw new InvalidArgumentError('tls must be an object');
  const cert = pem('tls.cert', tls.cert);
  const key = pem('tls.key', tls.key);
  const ca = pem('tls.ca', tls.ca);
  const clientAuth = tls.clientAuth ?? false;
  if (typeof clientAuth !== 'boolean')
    throw new InvalidArgumentError('tls.clientAuth must be a boolean');
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidArgumentError('tls.cert and tls.key go together: give both or neither');
  }
  if (clientAuth && (cert === undefined || ca === undefined)) {
    throw new InvalidArgumentError(
      'tls.clientAuth needs tls.cert and tls.key (to serve TLS) and tls.ca (to check clients)',
    );
  }
  let warnings: CertificateProblem[] = [];
  try {
    // Node skips CA certificates it cannot parse without a word: parse each one here.
    if (ca !== undefined) checkCertificates('tls.ca', ca);
    if (cert !== undefined && key !== undefined) {
      const problems = checkCertificate(
        { cert, key, ca },
        // The certificate serves peers, and under clientAuth the cluster asks for it too.
        { serverAuth: true, clientAuth },
      );
      const fatal = problems.filter((p) => p.fatal);
      if (fatal.length > 0) throw new CertificateError(fatal);
      warnings = problems;
    }
    createSecureContext({ cert, key, ca });
  } catch (err) {
    if (err instanceof CertificateError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new InvalidArgumentError(`tls: unusable certificate, key or CA: ${message}`, {
      cause: err,
    });
  }
  return { cert, key, ca, clientAuth, serving: cert !== undefined, warnings };
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** checkCertificates throws unless `bundle` holds PEM certificates only, each one well formed. */
function checkCertificates(name: string, bundle: Buffer): void {
  const blocks = bundle.toString('latin1').match(pemCertificate) ?? [];
  if (blocks.length === 0) throw new InvalidArgumentError(`${name} holds no PEM certificate`);
  for (const block of blocks) new X509Certificate(block);
}

function pem(name: string, value: string | Buffer | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    throw new InvalidArgumentError(`${name} must be PEM text (a string or a Buffer)`);
  }
  const bytes = Buffer.from(value);
  if (!bytes.includes('-----BEGIN ')) {
    throw new InvalidArgumentError(`${name} must be PEM text (-----BEGIN ...), not a file name`);
  }
  return bytes;
}

/** TlsFiles names the files of {@link TlsOptions}, as the CLI's `--tls-*` flags do. */
export interface TlsFiles {
  /** certFile is the certificate chain's PEM file (`--tls-cert`). */
  certFile?: string | undefined;
  /** keyFile is the private key's PEM file (`--tls-key`). */
  keyFile?: string | undefined;
  /** caFile is the CA bundle's PEM file (`--tls-ca`). */
  caFile?: string | undefined;
  /** clientAuth requires client certificates (`--tls-client-auth`). Default false. */
  clientAuth?: boolean | undefined;
}

/**
 * readTlsFiles reads the PEM files `files` names into {@link TlsOptions}
 * (checked by {@link resolveTls}). Rejects with the file system's error for a
 * file it cannot read, with InvalidArgumentError for contents that are no usable PEM, and
 * with {@link CertificateError} for a certificate that is expired, not yet
 * valid or not matching its key.
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsOptions> {
  const [cert, key, ca] = await readFiles([files.certFile, files.keyFile, files.caFile]);
  const tls: TlsOptions = {
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(files.clientAuth !== undefined ? { clientAuth: files.clientAuth } : {}),
  };
  resolveTls(tls);
  return tls;
}

/**
 * readFiles reads the files named (undefined for none) at once, and rejects with the error
 * of the first one, in the order given, that could not be read: the same one every time,
 * whichever read failed first.
 */
export async function readFiles(
  paths: readonly (string | undefined)[],
): Promise<(Buffer | undefined)[]> {
  const reads = await Promise.allSettled(
    paths.map((path) => (path === undefined ? undefined : readFile(path))),
  );
  return reads.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}
