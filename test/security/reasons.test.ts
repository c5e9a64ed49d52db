// reasons.test.ts: refusals an operator can act on, on every transport: the refusing server logs
// why (a client certificate it does not accept, a failed handshake, a wrong peer secret), with
// the peer's address and once per interval; the refused client's error says why as far as it
// can know; a certificate that cannot work is refused when the transport is made.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect, createServer } from 'node:tls';
import type { Logger } from '../../src/core/logger.js';
import { CertificateError } from '../../src/security/cert-check.js';
import type { TlsOptions } from '../../src/security/tls.js';
import { grpcTransport } from '../../src/transport/grpc/index.js';
import { httpTransport } from '../../src/transport/http/index.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import type { PeerServer, PeerTransport } from '../../src/transport/transport.js';
import { makeTestCerts } from '../support/certs.js';
import { GROUP, Owner } from './owner.js';

const certs = makeTestCerts();
after(() => certs.cleanup());

interface Line {
  message: string;
  fields: Record<string, unknown>;
}

/** capture is a logger that keeps its warnings. */
function capture(): { logger: Logger; warnings: Line[] } {
  const warnings: Line[] = [];
  const none = () => {};
  const logger = {
    debug: none,
    info: none,
    error: none,
    warn: (fields: Record<string, unknown>, message: string) => warnings.push({ message, fields }),
  } as unknown as Logger;
  return { logger, warnings };
}

type Options = { tls?: TlsOptions; peerSecret?: string };
const kinds: Record<string, (options: Options) => PeerTransport> = {
  tcp: (o) => tcpTransport(o),
  http: (o) => httpTransport(o),
  grpc: (o) => grpcTransport(o),
};

/** until waits for `ready` to hold, checking on each turn of the event loop, for at most 5 s. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; !ready(); i++) {
    if (i > 500) assert.fail(`${what}: not within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const mutual: TlsOptions = { ...certs.node, ca: certs.ca, clientAuth: true };
const certRefused = 'peer connection refused: client certificate not accepted';

for (const [kind, make] of Object.entries(kinds)) {
  describe(`${kind}: refusals say why`, { timeout: 60_000 }, () => {
    const transports: PeerTransport[] = [];
    const servers: PeerServer[] = [];
    after(async () => {
      await Promise.all(servers.map((s) => s.close(0)));
      await Promise.all(transports.map((t) => t.close()));
    });
    const open = (options: Options) => {
      const t = make(options);
      transports.push(t);
      return t;
    };
    /** serve starts a server with `options` and a capturing logger. */
    const serve = async (options: Options) => {
      const { logger, warnings } = capture();
      const owner = new Owner();
      const server = await open(options).serve(owner.lookup, {
        host: '127.0.0.1',
        port: 0,
        signal: new AbortController().signal,
        logger,
      });
      servers.push(server);
      const of = (message: string) => warnings.filter((w) => w.message === message);
      return { url: `https://127.0.0.1:${server.address.port}`, warnings, of, owner };
    };

    it('a client certificate without clientAuth usage: both sides say so, the server once', async () => {
      const server = await serve({ tls: mutual });
      const client = open({ tls: { ...certs.serverOnly, ca: certs.ca } }).client(server.url);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(client.get(GROUP, 'k'), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'UNAVAILABLE');
          assert.match(err.message, /refuses this node's client certificate: its log says why/);
          return true;
        });
      }
      const lines = server.of(certRefused);
      assert.equal(lines.length, 1, 'two refusals, one line within the interval');
      assert.equal(lines[0]?.fields.code, 'INVALID_PURPOSE');
      assert.match(String(lines[0]?.fields.reason), /no clientAuth extended key usage/);
      assert.match(String(lines[0]?.fields.remote), /^127\.0\.0\.1:\d+$/);
      assert.equal(server.owner.lookups, 0);
    });

    it('a client certificate from another CA: the server logs that it is not from tls.ca', async () => {
      const server = await serve({ tls: mutual });
      const client = open({ tls: { ...certs.rogueClient, ca: certs.ca } }).client(server.url);
      await assert.rejects(client.get(GROUP, 'k'), /refuses this node's client certificate/);
      const [line] = server.of(certRefused);
      assert.match(String(line?.fields.reason), /not issued by tls\.ca/);
    });

    it('an expired client certificate: the server logs that it has expired', async () => {
      const server = await serve({ tls: mutual });
      // The transports refuse to use an expired certificate: a bare TLS client presents one.
      const { port } = new URL(server.url);
      await new Promise<void>((resolve) => {
        const socket = connect({
          host: '127.0.0.1',
          port: Number(port),
          ca: certs.ca,
          ...certs.expired,
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve());
      });
      const [line] = server.of(certRefused);
      assert.equal(line?.fields.code, 'CERT_HAS_EXPIRED');
      assert.equal(line?.fields.reason, 'certificate has expired');
    });

    it('a server certificate the client does not trust: the client says why, the server logs the failure', async () => {
      const server = await serve({ tls: { ...certs.rogueNode } });
      const client = open({ tls: { ca: certs.ca } }).client(server.url);
      await assert.rejects(client.get(GROUP, 'k'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /unable to verify the first certificate/);
        return true;
      });
      // The server hears of the failure when the client's close reaches it.
      await until(() => server.of('peer TLS handshake failed').length > 0, 'the failure logged');
      const lines = server.of('peer TLS handshake failed');
      assert.equal(lines.length, 1);
      assert.match(String(lines[0]?.fields.reason), /does it trust this node's certificate/);
    });

    it("a peer serving an expired certificate: the client's error says it has expired", async () => {
      // The transports refuse to serve an expired certificate: a bare TLS server does.
      const server = createServer({ ...certs.expired }, (socket) => socket.destroy());
      server.on('tlsClientError', () => {});
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as { port: number };
        const client = open({ tls: { ca: certs.ca } }).client(`https://127.0.0.1:${port}`);
        await assert.rejects(client.get(GROUP, 'k'), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'UNAVAILABLE');
          assert.match(err.message, /certificate has expired/);
          assert.ok(err.message.includes(`127.0.0.1:${port}`), 'names the peer');
          return true;
        });
      } finally {
        server.close();
      }
    });

    it('a wrong peer secret: the server logs it with the address, once per interval', async () => {
      const server = await serve({ tls: { ...certs.node }, peerSecret: 'right-secret' });
      const client = open({ tls: { ca: certs.ca }, peerSecret: 'wrong-secret' }).client(server.url);
      for (let i = 0; i < 3; i++) {
        await assert.rejects(client.get(GROUP, `k${i}`), { code: 'UNAUTHENTICATED', remote: true });
      }
      const lines = server.of('peer request refused: missing or wrong peer secret');
      assert.equal(lines.length, 1);
      assert.match(String(lines[0]?.fields.remote), /127\.0\.0\.1:\d+$/);
      assert.equal(server.owner.lookups, 0);
    });

    it('a certificate that expires soon is warned about when the server starts', async () => {
      const server = await serve({ tls: { ...certs.expiringSoon, ca: certs.ca } });
      const [line] = server.warnings.filter((w) => w.message.startsWith('peer TLS: '));
      assert.match(String(line?.message), /CN=expiring-soon" expires in \d+ days?,/);
      assert.equal(line?.fields.code, 'EXPIRES_SOON');
    });

    it('an expired certificate, or a key of another, is refused when the transport is made', () => {
      assert.throws(
        () => make({ tls: { ...certs.expired, ca: certs.ca } }),
        (err: unknown) => err instanceof CertificateError && /has expired/.test(err.message),
      );
      assert.throws(
        () => make({ tls: { ...certs.mismatched, ca: certs.ca } }),
        (err: unknown) =>
          err instanceof CertificateError && /does not match tls\.key/.test(err.message),
      );
    });
  });
}
