// certs.ts: throwaway certificates for TLS tests, made with the openssl binary in a temp dir.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** KeyPair is a certificate and its private key, as PEM. */
export interface KeyPair {
  cert: Buffer;
  key: Buffer;
  /** The files they were written to, for tests of file loading. */
  certFile: string;
  keyFile: string;
}

/** TestCerts are two unrelated CAs and certificates issued by each. */
export interface TestCerts {
  /** dir holds every file; `cleanup` removes it. */
  dir: string;
  /** ca is the cluster's CA certificate (PEM). */
  ca: Buffer;
  caFile: string;
  /** rogueCa is another CA, trusted by no one. */
  rogueCa: Buffer;
  /**
   * node is a certificate from `ca` for IP 127.0.0.1 and `localhost`, good for
   * serving and as a client certificate (what one node of a cluster has).
   */
  node: KeyPair;
  /** client is a client-only certificate from `ca` (no serverAuth use). */
  client: KeyPair;
  /** rogueNode is like `node` but issued by `rogueCa`. */
  rogueNode: KeyPair;
  /** rogueClient is like `client` but issued by `rogueCa`. */
  rogueClient: KeyPair;
  /** expired is like `node` but expired (its validity ended a day before it began). */
  expired: KeyPair;
  /** expiringSoon is like `node` but valid for two days only. */
  expiringSoon: KeyPair;
  /** serverOnly is like `node` but for serving only (extendedKeyUsage serverAuth, no clientAuth). */
  serverOnly: KeyPair;
  /** mismatched is `node`'s certificate with another key (`client`'s). */
  mismatched: KeyPair;
  /** cleanup deletes the directory, keys included. */
  cleanup(): void;
}

/**
 * makeTestCerts generates {@link TestCerts} (EC P-256, valid for 30 days unless said otherwise)
 * with `openssl` in a fresh temp dir. Throws if openssl is missing or fails.
 */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'peercache-certs-'));
  try {
    const ca = makeCa(dir, 'ca', 'peercache test CA');
    const rogue = makeCa(dir, 'rogue-ca', 'peercache rogue CA');
    const serving =
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth';
    const clientOnly = 'extendedKeyUsage=clientAuth';
    const node = issue(dir, ca, 'node', serving);
    const client = issue(dir, ca, 'client', clientOnly);
    return {
      dir,
      ca: readFileSync(ca.certFile),
      caFile: ca.certFile,
      rogueCa: readFileSync(rogue.certFile),
      node,
      client,
      rogueNode: issue(dir, rogue, 'rogue-node', serving),
      rogueClient: issue(dir, rogue, 'rogue-client', clientOnly),
      expired: issue(dir, ca, 'expired', serving, -1),
      expiringSoon: issue(dir, ca, 'expiring-soon', serving, 2),
      serverOnly: issue(
        dir,
        ca,
        'server-only',
        'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth',
      ),
      mismatched: {
        cert: node.cert,
        key: client.key,
        certFile: node.certFile,
        keyFile: client.keyFile,
      },
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

interface Ca {
  certFile: string;
  keyFile: string;
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function makeCa(dir: string, name: string, cn: string): Ca {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '30',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile };
}

/**
 * issue makes a certificate from `ca` valid for `days` days from now; with
 * `days` negative (openssl takes it), it ended before it began: expired.
 */
function issue(dir: string, ca: Ca, name: string, extensions: string, days = 30): KeyPair {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(
    extFile,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n${extensions}\n`,
  );
  openssl(['req', '-new', ...ecKey, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    String(days),
    '-extfile',
    extFile,
  ]);
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}
