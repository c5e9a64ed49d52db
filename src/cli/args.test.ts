// args.test.ts: flag parsing of `peercache node`, `peercache gateway` and `peercache demo`,
// and log-line formatting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type GatewayConfig,
  type NodeConfig,
  parseDemoArgs,
  parseDuration,
  parseGatewayArgs,
  parseGroup,
  parseNodeArgs,
  parseSize,
  UsageError,
} from './args.js';
import { formatLogLine } from './format.js';

const SELF = 'http://127.0.0.1:8001';

function config(argv: string[], env: Record<string, string> = {}): NodeConfig {
  const parsed = parseNodeArgs(argv, env);
  assert.equal(parsed.help, false);
  return (parsed as { config: NodeConfig }).config;
}

function gateway(argv: string[], env: Record<string, string> = {}): GatewayConfig {
  const parsed = parseGatewayArgs(argv, env);
  assert.equal(parsed.help, false);
  return (parsed as { config: GatewayConfig }).config;
}

function usage(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `not a UsageError: ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.message.includes('\n'), false);
    return true;
  });
}

describe('parseSize', () => {
  test('reads units of 1024 and 1000, and plain bytes', () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['1048576', 1048576],
      ['64MiB', 64 * 1024 * 1024],
      ['512KiB', 512 * 1024],
      ['1GiB', 1024 ** 3],
      ['100MB', 100_000_000],
      ['10KB', 10_000],
      ['2GB', 2_000_000_000],
      ['10k', 10 * 1024],
      ['3M', 3 * 1024 ** 2],
      ['1.5KiB', 1536],
      ['7B', 7],
      ['64mib', 64 * 1024 * 1024],
      [' 8 MiB ', 8 * 1024 * 1024],
    ];
    for (const [s, want] of cases) assert.equal(parseSize(s), want, s);
  });

  test('rejects anything else', () => {
    for (const s of ['', 'MiB', '-1', '1XB', '1 MiB extra', '0x10', '1e3', '1,000']) {
      usage(() => parseSize(s), /bad size/);
    }
    usage(() => parseSize('99999999999GiB'), /too large/);
  });
});

describe('parseGroup', () => {
  test('NAME and NAME:SIZE, split at the last colon', () => {
    assert.deepEqual(parseGroup('scores'), { name: 'scores', cacheBytes: 64 * 1024 * 1024 });
    assert.deepEqual(parseGroup('users:1MiB'), { name: 'users', cacheBytes: 1024 * 1024 });
    assert.deepEqual(parseGroup('a:b:2KiB'), { name: 'a:b', cacheBytes: 2048 });
    usage(() => parseGroup(':1MiB'), /empty name/);
    usage(() => parseGroup('x:'), /bad size/);
  });
});

describe('parseNodeArgs', () => {
  test('defaults: one group scores of 64 MiB, the demo table, level info, no API', () => {
    assert.deepEqual(config(['--self', SELF]), {
      self: SELF,
      listen: undefined,
      peers: [],
      api: undefined,
      groups: [{ name: 'scores', cacheBytes: 64 * 1024 * 1024 }],
      loader: { kind: 'scores' },
      ring: 'balanced',
      replicas: undefined,
      basePath: undefined,
      etcd: undefined,
      dns: undefined,
      transport: 'tcp',
      tls: undefined,
      apiTls: false,
      peerSecret: undefined,
      apiToken: undefined,
      secretFlags: [],
      logLevel: 'info',
      peerTimeoutMs: undefined,
      peerHealth: true,
      limits: { peer: {}, api: {} },
      drainMs: 5_000,
      workers: 1,
    });
  });

  test('--drain-ms: a duration or 0', () => {
    assert.equal(config(['--self', SELF, '--drain-ms', '1500']).drainMs, 1_500);
    assert.equal(config(['--self', SELF, '--drain-ms', '2s']).drainMs, 2_000);
    assert.equal(config(['--self', SELF, '--drain-ms', '0']).drainMs, 0);
    for (const bad of ['-1', 'soon', '', '1m']) {
      usage(() => config(['--self', SELF, `--drain-ms=${bad}`]), /--drain-ms must be a duration/);
    }
  });

  test('--workers: a count or auto, with room for a peer port each', () => {
    assert.equal(config(['--self', SELF, '--workers', '3']).workers, 3);
    const parsed = parseNodeArgs(['--self', SELF, '--workers', 'auto'], {}, () => 6);
    assert.equal((parsed as { config: NodeConfig }).config.workers, 6);
    for (const bad of ['0', 'all', '-2', '1.5', '1025']) {
      usage(
        () => config(['--self', SELF, `--workers=${bad}`]),
        /--workers must be auto or a whole number/,
      );
    }
    usage(
      () => config(['--self', 'http://127.0.0.1:65535', '--workers', '2']),
      /--self needs a fixed port with room for 2 workers/,
    );
    usage(
      () => config(['--self', SELF, '--listen', '0.0.0.0:0', '--workers', '2']),
      /--listen needs a fixed port/,
    );
    usage(
      () => config(['--self', SELF, '--workers', '2', '--dns', 'cache.internal']),
      /--workers with --dns: .* use --dns-srv/,
    );
    assert.equal(
      config(['--self', SELF, '--workers', '2', '--dns-srv', '_peer._tcp.cache.internal']).workers,
      2,
    );
    assert.equal(config(['--self', SELF, '--listen', '0.0.0.0:0']).workers, 1);
  });

  test('every flag', () => {
    const c = config([
      '--self',
      SELF,
      '--listen',
      '0.0.0.0:8001',
      '--peers',
      `${SELF}, http://127.0.0.1:8002,,http://[::1]:8003`,
      '--api',
      '127.0.0.1:9999',
      '--group',
      'scores:1MiB',
      '--group=users',
      '--loader',
      './my-loader.mjs',
      '--replicas',
      '100',
      '--transport',
      'http',
      '--base-path',
      '/cache/',
      '--log-level',
      'debug',
    ]);
    assert.equal(c.listen, '0.0.0.0:8001');
    assert.deepEqual(c.peers, [SELF, 'http://127.0.0.1:8002', 'http://[::1]:8003']);
    assert.deepEqual(c.api, { host: '127.0.0.1', port: 9999 });
    assert.deepEqual(c.groups, [
      { name: 'scores', cacheBytes: 1024 * 1024 },
      { name: 'users', cacheBytes: 64 * 1024 * 1024 },
    ]);
    assert.deepEqual(c.loader, { kind: 'module', module: './my-loader.mjs' });
    assert.equal(c.replicas, 100);
    assert.equal(c.basePath, '/cache/');
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(config(['--self', SELF, '--origin', 'http://db:8080/v1']).loader, {
      kind: 'origin',
      url: 'http://db:8080/v1',
    });
    assert.deepEqual(config(['--self', SELF, '--api', '[::1]:9000']).api, {
      host: '::1',
      port: 9000,
    });
  });

  test('--ring: balanced by default with tcp, golang with http and grpc, any kind by name', () => {
    assert.equal(config(['--self', SELF]).ring, 'balanced');
    assert.equal(config(['--self', SELF, '--transport', 'http']).ring, 'golang');
    assert.equal(config(['--self', SELF, '--transport', 'grpc']).ring, 'golang');
    for (const ring of ['golang', 'mailgun', 'groupcache-go', 'balanced'] as const) {
      assert.equal(config(['--self', SELF, '--ring', ring]).ring, ring);
    }
    const c = config(['--self', SELF, '--ring', 'groupcache-go', '--replicas', '512']);
    assert.equal(c.replicas, 512);
    usage(
      () => parseNodeArgs(['--self', SELF, '--ring', 'maglev']),
      /--ring must be golang, mailgun, groupcache-go, balanced, got "maglev"/,
    );
    usage(
      () => parseNodeArgs(['--self', SELF, '--replicas', '100']),
      /--replicas is for the Go rings/,
    );
    usage(
      () => parseGatewayArgs(['--peers', SELF, '--api', '127.0.0.1:1', '--ring', 'chord']),
      /--ring must be/,
    );
    assert.equal(
      gateway(['--peers', SELF, '--api', '127.0.0.1:1', '--transport', 'http']).ring,
      'golang',
    );
    assert.equal(
      gateway(['--peers', SELF, '--api', '127.0.0.1:1', '--ring', 'mailgun']).ring,
      'mailgun',
    );
  });

  test('--help wins', () => {
    assert.deepEqual(parseNodeArgs(['--help']), { help: true });
    assert.deepEqual(parseNodeArgs(['-h', '--self', SELF]), { help: true });
  });

  test('bad command lines are UsageErrors with one-line messages', () => {
    const cases: [string[], RegExp][] = [
      [[], /--self URL is required/],
      [['--self'], /--self needs a value/],
      [['--self', '--peers', SELF], /--self needs a value/],
      [['--self', SELF, '--bogus'], /unknown flag --bogus/],
      [['--self', SELF, 'extra'], /unexpected argument "extra"/],
      [['--self', SELF, '--help=yes'], /--help takes no value/],
      [['--self', 'not a url'], /--self/],
      [['--self', `${SELF}/`], /--self/],
      [['--self', 'ftp://x:1'], /--self/],
      [['--self', SELF, '--peers', 'http://a:1,nope'], /--peers/],
      [['--self', SELF, '--listen', 'nope'], /--listen must look like HOST:PORT/],
      [['--self', SELF, '--api', '127.0.0.1'], /--api must look like HOST:PORT/],
      [['--self', SELF, '--api', '127.0.0.1:99999'], /--api/],
      [['--self', SELF, '--group', 'a:12XB'], /bad size "12XB"/],
      [['--self', SELF, '--group', 'a', '--group', 'a:1K'], /--group a is given twice/],
      [['--self', SELF, '--loader', 'x.mjs', '--origin', 'http://o'], /not both/],
      [['--self', SELF, '--origin', 'db:8080'], /--origin/],
      [['--self', SELF, '--origin', 'http://db/?x=1'], /--origin/],
      [['--self', SELF, '--replicas', '0'], /--replicas/],
      [['--self', SELF, '--replicas', '2.5'], /--replicas/],
      [['--self', SELF, '--base-path', 'cache'], /--base-path/],
      [['--self', SELF, '--log-level', 'loud'], /--log-level must be one of/],
    ];
    for (const [argv, message] of cases) usage(() => parseNodeArgs(argv), message);
  });
});

describe('parseNodeArgs: transport and security', () => {
  const TLS_SELF = 'https://127.0.0.1:8001';

  test('--transport: tcp by default, grpc or http; --base-path stays an http flag', () => {
    assert.equal(config(['--self', SELF]).transport, 'tcp');
    assert.equal(config(['--self', SELF, '--transport', 'grpc']).transport, 'grpc');
    assert.equal(config(['--self', SELF, '--transport=http']).transport, 'http');
    assert.equal(config(['--self', SELF, '--transport', 'tcp']).transport, 'tcp');
    usage(() => parseNodeArgs(['--self', SELF, '--transport', 'quic']), /--transport must be/);
    usage(() => parseNodeArgs(['--self', SELF, '--transport', '']), /--transport must be/);
    usage(
      () => parseNodeArgs(['--self', SELF, '--transport', 'grpc', '--base-path', '/x/']),
      /--base-path is for the http transport only/,
    );
    usage(
      () => parseNodeArgs(['--self', SELF, '--base-path', '/x/']),
      /--base-path is for the http transport only/,
    );
  });

  test('--tls-* files, https:// URLs and --api-tls', () => {
    const c = config([
      '--self',
      TLS_SELF,
      '--peers',
      `${TLS_SELF},https://127.0.0.1:8002`,
      '--tls-cert',
      'node.crt',
      '--tls-key',
      'node.key',
      '--tls-ca',
      'ca.crt',
      '--tls-client-auth',
      '--api',
      '127.0.0.1:9999',
      '--api-tls',
    ]);
    assert.deepEqual(c.tls, {
      certFile: 'node.crt',
      keyFile: 'node.key',
      caFile: 'ca.crt',
      clientAuth: true,
    });
    assert.equal(c.apiTls, true);
    const plain = config(['--self', TLS_SELF, '--tls-cert', 'c', '--tls-key', 'k']);
    assert.deepEqual(plain.tls, {
      certFile: 'c',
      keyFile: 'k',
      caFile: undefined,
      clientAuth: false,
    });
    assert.equal(plain.apiTls, false);
  });

  test('TLS flags that do not go together are UsageErrors', () => {
    const cert = ['--tls-cert', 'c', '--tls-key', 'k'];
    const cases: [string[], RegExp][] = [
      [['--self', TLS_SELF, '--tls-cert', 'c'], /--tls-cert and --tls-key go together/],
      [['--self', TLS_SELF, '--tls-key', 'k'], /--tls-cert and --tls-key go together/],
      [['--self', SELF, '--tls-ca', 'ca'], /--tls-ca needs --tls-cert and --tls-key/],
      [['--self', SELF, '--tls-client-auth'], /--tls-client-auth needs --tls-cert/],
      [['--self', TLS_SELF, ...cert, '--tls-client-auth'], /--tls-client-auth needs --tls-ca/],
      [['--self', SELF, ...cert], /--self must be an https:\/\/ URL with --tls-cert/],
      [['--self', TLS_SELF], /is https:\/\/: give --tls-cert and --tls-key/],
      [
        ['--self', TLS_SELF, ...cert, '--peers', 'http://127.0.0.1:8002'],
        /--peers must all use the scheme of --self \(https:\/\/\)/,
      ],
      [['--self', SELF, '--peers', 'https://127.0.0.1:8002'], /--peers must all use the scheme/],
      [['--self', TLS_SELF, '--tls-cert', '', '--tls-key', 'k'], /--tls-cert needs a file/],
      [['--self', TLS_SELF, ...cert, '--api-tls'], /--api-tls needs --api/],
      [['--self', SELF, '--api', '127.0.0.1:1', '--api-tls'], /--api-tls serves the API with/],
      [['--self', SELF, '--tls-client-auth=yes'], /--tls-client-auth takes no value/],
    ];
    for (const [argv, message] of cases) usage(() => parseNodeArgs(argv), message);
  });

  test('--peer-secret and --api-token: the flag wins over the environment', () => {
    const env = { PEERCACHE_PEER_SECRET: 'from-env', PEERCACHE_API_TOKEN: 'token-env' };
    const fromEnv = config(['--self', SELF, '--api', '127.0.0.1:1'], env);
    assert.equal(fromEnv.peerSecret, 'from-env');
    assert.equal(fromEnv.apiToken, 'token-env');
    assert.deepEqual(fromEnv.secretFlags, []);
    const fromFlags = config(
      ['--self', SELF, '--api', '127.0.0.1:1', '--peer-secret', 's3cr3t', '--api-token', 't0k'],
      env,
    );
    assert.equal(fromFlags.peerSecret, 's3cr3t');
    assert.equal(fromFlags.apiToken, 't0k');
    assert.deepEqual(fromFlags.secretFlags, ['--peer-secret', '--api-token']);
    // Without --api the token variable is not used (a node without an API has no token).
    assert.equal(config(['--self', SELF], env).apiToken, undefined);
    assert.equal(config(['--self', SELF]).peerSecret, undefined);
  });

  test('unusable secrets are UsageErrors', () => {
    const api = ['--self', SELF, '--api', '127.0.0.1:1'];
    usage(() => parseNodeArgs([...api, '--peer-secret', '']), /--peer-secret is empty/);
    usage(() => parseNodeArgs([...api, '--peer-secret', 'has space']), /--peer-secret must be/);
    usage(() => parseNodeArgs([...api, '--api-token', 'caf\u00e9']), /--api-token must be/);
    usage(() => parseNodeArgs(['--self', SELF, '--api-token', 't']), /--api-token needs --api/);
    usage(
      () => parseNodeArgs(api, { PEERCACHE_PEER_SECRET: '' }),
      /PEERCACHE_PEER_SECRET is empty/,
    );
    usage(() => parseNodeArgs(api, { PEERCACHE_API_TOKEN: 'a\tb' }), /PEERCACHE_API_TOKEN must be/);
    usage(() => parseNodeArgs(['--self', SELF, '--peer-secret']), /--peer-secret needs a value/);
  });
});

describe('parseNodeArgs: etcd', () => {
  test('--etcd and the flags that go with it', () => {
    const c = config(
      [
        '--self',
        SELF,
        '--peers',
        SELF,
        '--etcd',
        'http://127.0.0.1:2379, https://etcd-2:2379,',
        '--service',
        'users',
        '--lease-ttl',
        '3',
        '--etcd-prefix',
        '/caches',
        '--etcd-username',
        'root',
        '--fail-fast',
      ],
      { PEERCACHE_ETCD_PASSWORD: 'pw' },
    );
    assert.deepEqual(c.peers, [SELF]);
    assert.deepEqual(c.etcd, {
      endpoints: ['http://127.0.0.1:2379', 'https://etcd-2:2379'],
      service: 'users',
      prefix: '/caches',
      leaseTtlSeconds: 3,
      username: 'root',
      password: 'pw',
      tls: undefined,
      failFast: true,
    });
    assert.deepEqual(c.secretFlags, []);
    const minimal = config(['--self', SELF, '--etcd', 'http://e:2379']).etcd;
    assert.deepEqual(minimal, {
      endpoints: ['http://e:2379'],
      service: undefined,
      prefix: undefined,
      leaseTtlSeconds: undefined,
      username: undefined,
      password: undefined,
      tls: undefined,
      failFast: false,
    });
    const withFlag = config([
      '--self',
      SELF,
      '--etcd',
      'https://e:2379',
      '--etcd-username',
      'u',
      '--etcd-password',
      'p',
      '--etcd-ca',
      'ca.pem',
      '--etcd-cert',
      'c.pem',
      '--etcd-key',
      'k.pem',
    ]);
    assert.equal(withFlag.etcd?.password, 'p');
    assert.deepEqual(withFlag.etcd?.tls, { caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem' });
    assert.deepEqual(withFlag.secretFlags, ['--etcd-password']);
  });

  test('malformed --etcd values and stray etcd flags are UsageErrors', () => {
    const etcd = ['--self', SELF, '--etcd', 'http://e:2379'];
    const cases: [string[], RegExp][] = [
      [['--self', SELF, '--etcd', ''], /--etcd needs at least one URL/],
      [['--self', SELF, '--etcd', ' , '], /--etcd needs at least one URL/],
      [['--self', SELF, '--etcd', 'e:2379'], /--etcd: etcd endpoint "e:2379"/],
      [['--self', SELF, '--etcd', '127.0.0.1:2379'], /--etcd: etcd endpoint/],
      [['--self', SELF, '--etcd', 'ftp://e:2379'], /unsupported scheme/],
      [['--self', SELF, '--etcd', 'http://e:2379/v3'], /has a path or query/],
      [['--self', SELF, '--etcd', 'http://u:p@e:2379'], /holds credentials/],
      [['--self', SELF, '--etcd', 'http://e:2379,nope'], /"nope"/],
      [[...etcd, '--service', ''], /--service must be a non-empty name/],
      [[...etcd, '--service', 'a/b'], /--service must be a non-empty name without "\/"/],
      [[...etcd, '--lease-ttl', '0'], /--lease-ttl must be a whole number >= 1/],
      [[...etcd, '--lease-ttl', '1.5'], /--lease-ttl must be a whole number/],
      [[...etcd, '--lease-ttl', '10s'], /--lease-ttl must be a whole number/],
      [[...etcd, '--etcd-username', 'u'], /--etcd-username needs --etcd-password or PEERCACHE/],
      [[...etcd, '--etcd-password', 'p'], /--etcd-password needs --etcd-username/],
      [[...etcd, '--etcd-username', ''], /--etcd-username is empty/],
      [[...etcd, '--etcd-username', 'u', '--etcd-password', ''], /--etcd-password is empty/],
      [[...etcd, '--etcd-ca', 'ca.pem'], /need https:\/\/ endpoints, got http:\/\/e:2379/],
      [
        ['--self', SELF, '--etcd', 'https://e:2379', '--etcd-cert', 'c.pem'],
        /--etcd-cert and --etcd-key go together/,
      ],
      [['--self', SELF, '--service', 'users'], /--service needs --etcd/],
      [['--self', SELF, '--lease-ttl', '5'], /--lease-ttl needs --etcd/],
      [['--self', SELF, '--etcd-prefix', '/p'], /--etcd-prefix needs --etcd/],
      [['--self', SELF, '--fail-fast'], /--fail-fast needs --etcd/],
      [['--self', SELF, '--etcd-key', 'k'], /--etcd-key needs --etcd/],
    ];
    for (const [argv, message] of cases) usage(() => parseNodeArgs(argv), message);
    usage(
      () => parseNodeArgs([...etcd, '--etcd-username', 'u'], { PEERCACHE_ETCD_PASSWORD: '' }),
      /PEERCACHE_ETCD_PASSWORD is empty/,
    );
  });
});

describe('parseGatewayArgs', () => {
  test('defaults: group scores, http, no etcd flags beyond --etcd', () => {
    assert.deepEqual(gateway(['--etcd', 'http://e:2379', '--api', '127.0.0.1:9999']), {
      peers: [],
      etcd: {
        endpoints: ['http://e:2379'],
        service: undefined,
        prefix: undefined,
        leaseTtlSeconds: undefined,
        username: undefined,
        password: undefined,
        tls: undefined,
        failFast: false,
      },
      dns: undefined,
      api: { host: '127.0.0.1', port: 9999 },
      groups: ['scores'],
      ring: 'balanced',
      replicas: undefined,
      basePath: undefined,
      transport: 'tcp',
      tls: undefined,
      apiTls: false,
      peerSecret: undefined,
      apiToken: undefined,
      secretFlags: [],
      logLevel: 'info',
      peerTimeoutMs: undefined,
      peerHealth: true,
      limits: { peer: {}, api: {} },
    });
  });

  test('every flag', () => {
    const c = gateway(
      [
        '--peers',
        'https://127.0.0.1:8001,https://127.0.0.1:8002',
        '--etcd',
        'http://e:2379',
        '--service',
        'users',
        '--etcd-prefix',
        '/p',
        '--fail-fast',
        '--api',
        ':9999',
        '--group',
        'users:1MiB',
        '--group',
        'orders',
        '--replicas',
        '7',
        '--transport',
        'grpc',
        '--tls-ca',
        'ca.crt',
        '--tls-cert',
        'client.crt',
        '--tls-key',
        'client.key',
        '--api-tls',
        '--peer-secret',
        'shh',
        '--log-level',
        'warn',
      ],
      { PEERCACHE_API_TOKEN: 'tok' },
    );
    assert.deepEqual(c.peers, ['https://127.0.0.1:8001', 'https://127.0.0.1:8002']);
    assert.equal(c.etcd?.service, 'users');
    assert.equal(c.etcd?.prefix, '/p');
    assert.equal(c.etcd?.failFast, true);
    assert.deepEqual(c.api, { host: '0.0.0.0', port: 9999 });
    assert.deepEqual(c.groups, ['users', 'orders']);
    assert.equal(c.replicas, 7);
    assert.equal(c.transport, 'grpc');
    assert.deepEqual(c.tls, {
      certFile: 'client.crt',
      keyFile: 'client.key',
      caFile: 'ca.crt',
      clientAuth: false,
    });
    assert.equal(c.apiTls, true);
    assert.equal(c.peerSecret, 'shh');
    assert.equal(c.apiToken, 'tok');
    assert.deepEqual(c.secretFlags, ['--peer-secret']);
    assert.equal(c.logLevel, 'warn');
    // A CA alone is enough to reach https:// nodes.
    const caOnly = gateway(['--peers', 'https://n:1', '--api', '127.0.0.1:1', '--tls-ca', 'ca']);
    assert.equal(caOnly.tls?.caFile, 'ca');
    assert.deepEqual(parseGatewayArgs(['--help']), { help: true });
  });

  test('bad command lines are UsageErrors', () => {
    const api = ['--api', '127.0.0.1:9999'];
    const etcd = ['--etcd', 'http://e:2379', ...api];
    const cases: [string[], RegExp][] = [
      [api, /a gateway needs --etcd URL or --peers/],
      [['--etcd', 'http://e:2379'], /--api HOST:PORT is required/],
      [['--peers', 'http://n:1', '--api', 'x'], /--api must look like HOST:PORT/],
      [['--etcd', 'nope', ...api], /--etcd: etcd endpoint "nope"/],
      [['--peers', 'n:1', ...api], /--peers/],
      [[...etcd, '--self', 'http://n:1'], /unknown flag --self/],
      [[...etcd, '--lease-ttl', '3'], /unknown flag --lease-ttl/],
      [[...etcd, '--loader', 'x.mjs'], /unknown flag --loader/],
      [[...etcd, '--listen', ':1'], /unknown flag --listen/],
      [[...etcd, '--group', 'a', '--group', 'a:1K'], /--group a is given twice/],
      [[...etcd, '--tls-client-auth', '--tls-ca', 'ca'], /a gateway serves no peers/],
      [[...etcd, '--tls-cert', 'c'], /--tls-cert and --tls-key go together/],
      [[...etcd, '--api-tls'], /--api-tls serves the API with --tls-cert/],
      [[...etcd, '--transport', 'grpc', '--base-path', '/x/'], /http transport only/],
      [[...etcd, '--replicas', '0'], /--replicas/],
      [[...etcd, '--peer-secret', 'a b'], /--peer-secret must be/],
      [['--peers', 'http://n:1', ...api, '--service', 's'], /--service needs --etcd/],
      [[...etcd, 'extra'], /unexpected argument "extra"/],
    ];
    for (const [argv, message] of cases) usage(() => parseGatewayArgs(argv), message);
  });
});

describe('limit flags', () => {
  test('the peer server and the API each get theirs; the timeouts go to both', () => {
    const c = config([
      '--self',
      SELF,
      '--api',
      '127.0.0.1:9999',
      '--max-connections',
      '500',
      '--api-max-connections',
      '200',
      '--max-inflight',
      '128MiB',
      '--api-max-inflight',
      '0',
      '--read-timeout',
      '5000',
      '--idle-timeout',
      '60000',
    ]);
    assert.deepEqual(c.limits, {
      peer: {
        maxConnections: 500,
        maxInflightBytes: 128 * 1024 * 1024,
        readTimeoutMs: 5000,
        idleTimeoutMs: 60000,
      },
      api: { maxConnections: 200, maxInflightBytes: 0, readTimeoutMs: 5000, idleTimeoutMs: 60000 },
    });
    const g = gateway(['--peers', SELF, '--api', '127.0.0.1:9999', '--api-max-connections', '7']);
    assert.deepEqual(g.limits, { peer: {}, api: { maxConnections: 7 } });
  });

  test('bad limits are UsageErrors', () => {
    usage(() => config(['--self', SELF, '--max-connections', '0']), /--max-connections.*>= 1/);
    usage(() => config(['--self', SELF, '--read-timeout', '1.5']), /--read-timeout/);
    usage(() => config(['--self', SELF, '--max-inflight', 'lots']), /--max-inflight.*bad size/);
    usage(
      () => config(['--self', SELF, '--max-inflight', '0']),
      /--max-inflight must be at least 1 byte/,
    );
    usage(() => config(['--self', SELF, '--api-max-connections', '5']), /needs --api/);
    usage(
      () => gateway(['--peers', SELF, '--api', '127.0.0.1:1', '--max-connections', '5']),
      /max-connections/,
    );
  });
});

describe('parseDemoArgs', () => {
  test('defaults and flags', () => {
    assert.deepEqual(parseDemoArgs([]), {
      help: false,
      config: { api: { host: '127.0.0.1', port: 9999 }, basePort: undefined, logLevel: 'debug' },
    });
    assert.deepEqual(
      parseDemoArgs(['--api', '127.0.0.1:7000', '--base-port', '7001', '--log-level', 'warn']),
      {
        help: false,
        config: { api: { host: '127.0.0.1', port: 7000 }, basePort: 7001, logLevel: 'warn' },
      },
    );
    assert.deepEqual(parseDemoArgs(['--help']), { help: true });
  });

  test('rejects bad values', () => {
    usage(() => parseDemoArgs(['--base-port', '65534']), /--base-port/);
    usage(() => parseDemoArgs(['--base-port', 'x']), /--base-port/);
    usage(() => parseDemoArgs(['--api', 'x']), /--api/);
    usage(() => parseDemoArgs(['--api', '127.0.0.1:0']), /fixed port/);
    usage(() => parseDemoArgs(['--self', SELF]), /unknown flag --self/);
  });
});

describe('--peer-timeout and --peer-health', () => {
  test('parseDuration reads milliseconds, ms and s', () => {
    assert.equal(parseDuration('--x', '750'), 750);
    assert.equal(parseDuration('--x', '250ms'), 250);
    assert.equal(parseDuration('--x', '2s'), 2_000);
    assert.equal(parseDuration('--x', '1.5s'), 1_500);
    for (const bad of ['', '0', '0ms', '-1', '2m', 'soon', '1e3', '0.4']) {
      usage(() => parseDuration('--x', bad), /--x must be a duration/);
    }
  });

  test('a node and a gateway take both', () => {
    const node = config(['--self', SELF, '--peer-timeout', '2s', '--peer-health', 'off']);
    assert.equal(node.peerTimeoutMs, 2_000);
    assert.equal(node.peerHealth, false);
    const gw = gateway(['--peers', SELF, '--api', '127.0.0.1:1', '--peer-timeout', '300ms']);
    assert.equal(gw.peerTimeoutMs, 300);
    assert.equal(gw.peerHealth, true);
  });

  test('rejects bad values', () => {
    usage(() => config(['--self', SELF, '--peer-timeout', '0']), /--peer-timeout must be/);
    usage(() => config(['--self', SELF, '--peer-timeout']), /--peer-timeout needs a value/);
    usage(
      () => config(['--self', SELF, '--peer-health', 'maybe']),
      /--peer-health must be on or off/,
    );
  });
});

describe('formatLogLine', () => {
  test('renders pino JSON as time, level, message and fields', () => {
    const line = JSON.stringify({
      level: 30,
      time: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
      pid: 1,
      group: 'scores',
      key: 'Tom Jones',
      bytes: 3,
      members: ['a', 'b'],
      msg: 'loaded',
    });
    assert.equal(
      formatLogLine(line),
      '03:04:05.678 INFO  loaded group=scores key="Tom Jones" bytes=3 members=["a","b"]',
    );
    assert.equal(formatLogLine('ready http://x:1'), 'ready http://x:1');
    assert.equal(formatLogLine('{not json'), '{not json');
  });
});
