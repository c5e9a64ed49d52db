// args.test.ts: flag parsing of `peercache node` and `peercache demo`, and log-line formatting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type NodeConfig,
  parseDemoArgs,
  parseGroup,
  parseNodeArgs,
  parseSize,
  UsageError,
} from './args.js';
import { formatLogLine } from './format.js';

const SELF = 'http://127.0.0.1:8001';

function config(argv: string[]): NodeConfig {
  const parsed = parseNodeArgs(argv);
  assert.equal(parsed.help, false);
  return (parsed as { config: NodeConfig }).config;
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
      replicas: undefined,
      basePath: undefined,
      logLevel: 'info',
    });
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

describe('parseDemoArgs', () => {
  test('defaults and flags', () => {
    assert.deepEqual(parseDemoArgs([]), {
      help: false,
      config: { api: { host: '127.0.0.1', port: 9999 }, basePort: undefined, logLevel: 'info' },
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
