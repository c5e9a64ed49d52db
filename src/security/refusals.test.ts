// refusals.test.ts: RefusalLog: one line per reason per interval, with the count held back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../core/logger.js';
import { certificateReason, RefusalLog } from './refusals.js';

function capture(): { logger: Logger; lines: { msg: string; fields: Record<string, unknown> }[] } {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const none = () => {};
  const logger = {
    debug: none,
    info: none,
    error: none,
    warn: (fields: Record<string, unknown>, msg: string) => lines.push({ msg, fields }),
  } as unknown as Logger;
  return { logger, lines };
}

describe('RefusalLog', () => {
  it('logs a reason once per interval, then again with the count held back', () => {
    let now = 0;
    const { logger, lines } = capture();
    const log = new RefusalLog(logger, 'peer', { intervalMs: 1_000, now: () => now });
    log.secret('10.0.0.2:4000');
    log.secret('10.0.0.3:4000');
    log.secret('10.0.0.2:4001');
    // Another reason has its own allowance.
    log.secret('10.0.0.2:4002', 'API token');
    assert.deepEqual(
      lines.map((l) => [l.msg, l.fields.remote, l.fields.refusedSinceLastLog]),
      [
        ['peer request refused: missing or wrong peer secret', '10.0.0.2:4000', 0],
        ['peer request refused: missing or wrong API token', '10.0.0.2:4002', 0],
      ],
    );
    now = 1_000;
    log.secret('10.0.0.4:4000');
    assert.deepEqual(lines[2]?.fields, {
      remote: '10.0.0.4:4000',
      reason: 'missing or wrong peer secret',
      refusedSinceLastLog: 2,
    });
  });

  it('refuses an unauthorized TLS connection with its reason, and lets an authorized one be', () => {
    const { logger, lines } = capture();
    const log = new RefusalLog(logger, 'peer');
    let destroyed = 0;
    const socket = (authorized: boolean, error: string | undefined, cert: object) =>
      ({
        authorized,
        authorizationError: error,
        remoteAddress: '10.0.0.9',
        remotePort: 5000,
        getPeerCertificate: () => cert,
        destroy: () => {
          destroyed++;
        },
      }) as unknown as TLSSocket;
    assert.equal(log.refuseUnauthorized(socket(true, undefined, { subject: {} })), false);
    assert.equal(log.refuseUnauthorized(socket(false, 'CERT_HAS_EXPIRED', { subject: {} })), true);
    assert.equal(log.refuseUnauthorized(socket(false, 'UNABLE_TO_GET_ISSUER_CERT', {})), true);
    assert.equal(destroyed, 2);
    assert.deepEqual(
      lines.map((l) => [l.fields.remote, l.fields.reason]),
      [
        ['10.0.0.9:5000', 'certificate has expired'],
        ['10.0.0.9:5000', 'no client certificate'],
      ],
    );
  });

  it('says unknown verification codes as they are', () => {
    assert.equal(certificateReason('SOMETHING_NEW'), 'SOMETHING_NEW');
  });

  it('survives a logger that throws', () => {
    const logger = {
      warn: () => {
        throw new Error('disk full');
      },
    } as unknown as Logger;
    assert.doesNotThrow(() => new RefusalLog(logger, 'peer').secret(undefined));
  });
});
