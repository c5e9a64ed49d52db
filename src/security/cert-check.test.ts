// cert-check.test.ts: a node's own certificate checked before use: dates, key, usages, CA.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTestCerts } from '../../test/support/certs.js';
import { CertificateError, checkCertificate } from './cert-check.js';
import { resolveTls } from './tls.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

const DAY = 24 * 60 * 60 * 1000;
const codes = (problems: { code: string }[]) => problems.map((p) => p.code);

describe('checkCertificate', () => {
  it('finds nothing wrong with a good serving and client certificate from the CA', () => {
    const problems = checkCertificate(
      { ...certs.node, ca: certs.ca },
      { serverAuth: true, clientAuth: true },
    );
    assert.deepEqual(problems, []);
  });

  it('finds an expired certificate fatal, and says until when it was valid', () => {
    const [problem, ...rest] = checkCertificate(certs.expired);
    assert.equal(problem?.code, 'EXPIRED');
    assert.equal(problem?.fatal, true);
    assert.match(problem?.message ?? '', /CN=expired.* has expired: it was valid until .*GMT/);
    assert.deepEqual(rest, []);
  });

  it('finds a certificate not yet valid fatal, by the clock it is given', () => {
    const problems = checkCertificate(certs.node, { now: Date.now() - 2 * DAY });
    assert.deepEqual(codes(problems), ['NOT_YET_VALID']);
    assert.equal(problems[0]?.fatal, true);
  });

  it('finds a key that does not match the certificate fatal', () => {
    const problems = checkCertificate(certs.mismatched);
    assert.deepEqual(codes(problems), ['KEY_MISMATCH']);
    assert.match(problems[0]?.message ?? '', /does not match tls.key/);
  });

  it('warns of a certificate that ends within the window, and not before', () => {
    const soon = checkCertificate(certs.expiringSoon);
    assert.deepEqual(codes(soon), ['EXPIRES_SOON']);
    assert.equal(soon[0]?.fatal, false);
    assert.match(soon[0]?.message ?? '', /expires in 1 day, on .*: renew it/);
    assert.deepEqual(checkCertificate(certs.expiringSoon, { warnWithinDays: 1 }), []);
    // The 30-day certificate enters the 14-day window 16 days from now.
    assert.deepEqual(checkCertificate(certs.node, { now: Date.now() + 15 * DAY }), []);
    assert.deepEqual(codes(checkCertificate(certs.node, { now: Date.now() + 17 * DAY })), [
      'EXPIRES_SOON',
    ]);
  });

  it('warns of a usage the configuration needs and the certificate lacks', () => {
    assert.deepEqual(codes(checkCertificate(certs.client, { serverAuth: true })), [
      'NO_SERVER_AUTH',
    ]);
    assert.deepEqual(codes(checkCertificate(certs.serverOnly, { clientAuth: true })), [
      'NO_CLIENT_AUTH',
    ]);
    // Usages nobody needs are not asked for.
    assert.deepEqual(checkCertificate(certs.serverOnly, { serverAuth: true }), []);
  });

  it('warns of a certificate another CA issued', () => {
    const problems = checkCertificate({ ...certs.rogueNode, ca: certs.ca });
    assert.deepEqual(codes(problems), ['NOT_FROM_CA']);
    assert.deepEqual(checkCertificate({ ...certs.rogueNode, ca: certs.rogueCa }), []);
  });

  it('puts fatal problems first', () => {
    const problems = checkCertificate({ ...certs.expired, ca: certs.rogueCa });
    assert.deepEqual(codes(problems), ['EXPIRED', 'NOT_FROM_CA']);
  });
});

describe('resolveTls checks the certificate', () => {
  it('refuses an expired certificate with a CertificateError', () => {
    assert.throws(
      () => resolveTls({ ...certs.expired, ca: certs.ca }),
      (err: unknown) =>
        err instanceof CertificateError &&
        err.code === 'INVALID_ARGUMENT' &&
        err.problems[0]?.code === 'EXPIRED' &&
        /^tls: certificate refused: certificate "CN=expired" has expired/.test(err.message),
    );
  });

  it('refuses a key that does not match', () => {
    assert.throws(
      () => resolveTls(certs.mismatched),
      (err: unknown) => err instanceof CertificateError && err.problems[0]?.code === 'KEY_MISMATCH',
    );
  });

  it('returns lesser problems as warnings, by what the options need', () => {
    assert.deepEqual(resolveTls({ ...certs.node, ca: certs.ca, clientAuth: true })?.warnings, []);
    const soon = resolveTls(certs.expiringSoon);
    assert.deepEqual(codes([...(soon?.warnings ?? [])]), ['EXPIRES_SOON']);
    const serverOnly = resolveTls({ ...certs.serverOnly, ca: certs.ca, clientAuth: true });
    assert.deepEqual(codes([...(serverOnly?.warnings ?? [])]), ['NO_CLIENT_AUTH']);
    assert.deepEqual(codes([...(resolveTls(certs.client)?.warnings ?? [])]), ['NO_SERVER_AUTH']);
  });
});
