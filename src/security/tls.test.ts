// tls.test.ts: checking TLS options up front, and loading them from PEM files.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTestCerts } from '../../test/support/certs.js';
import { InvalidArgumentError } from '../errors.js';
import { readFiles, readTlsFiles, resolveTls } from './tls.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

describe('resolveTls', () => {
  it('returns undefined for no options, Buffers and the serving flag otherwise', () => {
    assert.equal(resolveTls(undefined), undefined);
    const clientOnly = resolveTls({ ca: certs.ca.toString() });
    assert.deepEqual(clientOnly?.ca, certs.ca);
    assert.equal(clientOnly?.serving, false);
    assert.equal(clientOnly?.clientAuth, false);
    const mutual = resolveTls({ ...certs.node, ca: certs.ca, clientAuth: true });
    assert.equal(mutual?.serving, true);
    assert.equal(mutual?.clientAuth, true);
    assert.deepEqual(mutual?.cert, certs.node.cert);
  });

  it('refuses a certificate without its key, and the reverse', () => {
    assert.throws(() => resolveTls({ cert: certs.node.cert }), /tls.cert and tls.key go together/);
    assert.throws(() => resolveTls({ key: certs.node.key }), /tls.cert and tls.key go together/);
  });

  it('refuses clientAuth without a CA to check clients against, or without serving TLS', () => {
    assert.throws(
      () => resolveTls({ cert: certs.node.cert, key: certs.node.key, clientAuth: true }),
      /tls.clientAuth needs/,
    );
    assert.throws(() => resolveTls({ ca: certs.ca, clientAuth: true }), /tls.clientAuth needs/);
  });

  it('refuses a file name where PEM is expected, garbage PEM, and a key of another certificate', () => {
    assert.throws(() => resolveTls({ ca: certs.caFile }), /PEM text .*not a file name/);
    assert.throws(
      () => resolveTls({ ca: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n' }),
      /unusable certificate, key or CA/,
    );
    assert.throws(() => resolveTls({ ca: '-----BEGIN FOO-----\n' }), /no PEM certificate/);
    assert.throws(
      () => resolveTls({ cert: certs.node.cert, key: certs.client.key }),
      /certificate refused: .* does not match tls.key/,
    );
    assert.throws(
      () => resolveTls({ cert: certs.node.cert, key: '-----BEGIN PRIVATE KEY-----\nnope\n' }),
      /unusable certificate, key or CA/,
    );
    assert.throws(() => resolveTls({ clientAuth: 'yes' as unknown as boolean }), /boolean/);
  });
});

describe('readTlsFiles', () => {
  it('reads the PEM files into TlsOptions', async () => {
    const tls = await readTlsFiles({
      certFile: certs.node.certFile,
      keyFile: certs.node.keyFile,
      caFile: certs.caFile,
      clientAuth: true,
    });
    assert.deepEqual(tls, {
      cert: certs.node.cert,
      key: certs.node.key,
      ca: certs.ca,
      clientAuth: true,
    });
    assert.deepEqual(await readTlsFiles({}), {});
  });

  it('rejects a missing file, and files that do not fit together', async () => {
    await assert.rejects(readTlsFiles({ caFile: `${certs.dir}/nope.pem` }), { code: 'ENOENT' });
    await assert.rejects(readTlsFiles({ certFile: certs.node.certFile }), InvalidArgumentError);
  });
});

describe('readFiles', () => {
  it('rejects with the first unreadable file in the order given, whichever read fails first', async () => {
    // Both reads fail; which of them fails first varies from run to run.
    for (let i = 0; i < 50; i++) {
      await assert.rejects(
        readFiles(['/nonexistent/cert.pem', undefined, '/nonexistent/key.pem']),
        /ENOENT.*\/nonexistent\/cert\.pem/,
      );
    }
  });

  it('reads what exists and leaves undefined where no file is named', async () => {
    const [none, self] = await readFiles([undefined, new URL(import.meta.url).pathname]);
    assert.equal(none, undefined);
    assert.match(String(self), /rejects with the first unreadable file/);
  });
});
