// dry-run.test.ts: `peercache node --dry-run` and `peercache gateway --dry-run` as
// processes: a sound config printed as JSON with its secrets redacted (exit 0) without
// binding a port, and an unusable one refused with its reason (exit 2).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { makeTestCerts } from '../support/certs.js';
import { runCli } from '../support/cli.js';

const SECRET = 'a-peer-secret-of-more-than-thirty-two-characters';
const TOKEN = 'an-api-token-of-more-than-thirty-two-characters!';
const NO_SECRETS = { PEERCACHE_PEER_SECRET: undefined, PEERCACHE_API_TOKEN: undefined };

describe('--dry-run', () => {
  const certs = makeTestCerts();
  after(() => certs.cleanup());

  test('a node: the resolved config as JSON, secrets redacted, TLS read and described, no port bound', async () => {
    // The peer port is taken: a dry run binds nothing, so it does not care.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = await runCli(
        [
          'node',
          '--dry-run',
          '--self',
          `https://127.0.0.1:${port}`,
          '--tls-cert',
          certs.node.certFile,
          '--tls-key',
          certs.node.keyFile,
          '--tls-ca',
          certs.caFile,
          '--api',
          '127.0.0.1:0',
          '--api-token',
          TOKEN,
          '--dns',
          'cache.test',
          '--group',
          'users:16MiB',
        ],
        { ...NO_SECRETS, PEERCACHE_PEER_SECRET: SECRET },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!run.stdout.includes(SECRET) && !run.stdout.includes(TOKEN), 'no secret printed');
      const report = JSON.parse(run.stdout);
      assert.equal(report.command, 'node');
      assert.equal(report.membership, 'dns');
      assert.equal(report.config.peerSecret, '[redacted]');
      assert.equal(report.config.apiToken, '[redacted]');
      assert.deepEqual(report.config.groups, [{ name: 'users', cacheBytes: 16 << 20 }]);
      assert.equal(report.config.dns.port, port, "--dns-port defaults to --self's port");
      assert.equal(report.config.dns.intervalMs, 5000);
      assert.match(report.config.tls.certificate.subject, /CN=/);
      assert.ok(Date.parse(report.config.tls.certificate.validTo) > Date.now());
      assert.ok(
        report.warnings.some((w: string) => w.startsWith('--api-token is given as a flag')),
        JSON.stringify(report.warnings),
      );
    } finally {
      taken.close();
    }
  });

  test('a gateway with SRV records and etcd-free membership', async () => {
    const run = await runCli(
      ['gateway', '--dry-run', '--dns-srv', '_peer._tcp.cache.test', '--api', '0.0.0.0:8080'],
      NO_SECRETS,
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.command, 'gateway');
    assert.equal(report.membership, 'dns');
    assert.equal(report.config.dns.srv, true);
    assert.deepEqual(report.warnings, [
      'the API listens beyond loopback with neither TLS nor a token',
    ]);
  });

  test('an unusable config exits 2 with the reason, and prints no config', async () => {
    const cases: [string[], RegExp][] = [
      [
        [
          'node',
          '--self',
          'https://127.0.0.1:8001',
          '--tls-cert',
          '/nonexistent/cert.pem',
          '--tls-key',
          '/nonexistent/key.pem',
        ],
        /ENOENT.*\/nonexistent\/cert\.pem/,
      ],
      [
        [
          'node',
          '--self',
          'https://127.0.0.1:8001',
          '--tls-cert',
          certs.expired.certFile,
          '--tls-key',
          certs.expired.keyFile,
        ],
        /certificate refused/,
      ],
      [
        ['node', '--self', 'http://127.0.0.1:8001', '--loader', './no/such/loader.mjs'],
        /--loader .*no such file/,
      ],
      [['node', '--self', 'http://127.0.0.1:8001', '--dns', 'a b'], /is not a DNS name/],
      [['gateway', '--api', '127.0.0.1:0', '--etcd', 'ftp://x'], /--etcd/],
      [
        ['node', '--self', 'http://127.0.0.1:8001', '--no-such-flag'],
        /unknown flag --no-such-flag/,
      ],
    ];
    for (const [argv, message] of cases) {
      const [command, ...rest] = argv as [string, ...string[]];
      const run = await runCli([command, '--dry-run', ...rest], NO_SECRETS);
      assert.equal(run.code, 2, `${argv.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, message);
    }
  });
});
