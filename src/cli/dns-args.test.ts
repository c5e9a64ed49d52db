// dns-args.test.ts: the `--dns` flags of `peercache node` and `peercache gateway`: what
// they parse to, and each bad value or combination refused with a message naming the flag.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseGatewayArgs, parseNodeArgs, UsageError } from './args.js';

const SELF = 'http://127.0.0.1:8001';

function dnsOf(argv: string[]) {
  const parsed = parseNodeArgs(['--self', SELF, ...argv]);
  assert.equal(parsed.help, false);
  return parsed.help ? undefined : parsed.config.dns;
}

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof UsageError && message.test(err.message));
}

describe('--dns flags', () => {
  test('A/AAAA with the port of --self, or --dns-port; servers and interval', () => {
    assert.deepEqual(dnsOf(['--dns', 'cache.default.svc.cluster.local']), {
      name: 'cache.default.svc.cluster.local',
      srv: false,
      port: undefined,
      servers: undefined,
      intervalMs: undefined,
    });
    assert.deepEqual(
      dnsOf([
        '--dns',
        'cache',
        '--dns-port',
        '9001',
        '--dns-server',
        '127.0.0.1:5353, [::1]:53',
        '--dns-interval',
        '250ms',
      ]),
      {
        name: 'cache',
        srv: false,
        port: 9001,
        servers: ['127.0.0.1:5353', '[::1]:53'],
        intervalMs: 250,
      },
    );
    assert.equal(dnsOf([]), undefined);
  });

  test('SRV: the port comes from the records', () => {
    assert.deepEqual(dnsOf(['--dns-srv', '_peer._tcp.cache', '--dns-interval', '2s']), {
      name: '_peer._tcp.cache',
      srv: true,
      port: undefined,
      servers: undefined,
      intervalMs: 2000,
    });
  });

  test('a gateway needs --dns-port with --dns, and --dns alone finds its nodes', () => {
    const parsed = parseGatewayArgs([
      '--dns',
      'cache',
      '--dns-port',
      '8001',
      '--api',
      '127.0.0.1:0',
    ]);
    assert.equal(parsed.help ? undefined : parsed.config.dns?.port, 8001);
    refused(
      () => parseGatewayArgs(['--dns', 'cache', '--api', '127.0.0.1:0']),
      /--dns needs --dns-port/,
    );
    const srv = parseGatewayArgs(['--dns-srv', '_p._tcp.cache', '--api', '127.0.0.1:0']);
    assert.equal(srv.help ? undefined : srv.config.dns?.srv, true);
  });

  test('bad values and combinations are refused, naming the flag', () => {
    const node = (argv: string[]) => () => parseNodeArgs(['--self', SELF, ...argv]);
    refused(node(['--dns', 'not a name']), /--dns .* is not a DNS name/);
    refused(node(['--dns', 'a', '--dns-srv', '_p._tcp.a']), /--dns or --dns-srv, not both/);
    refused(node(['--dns', 'a', '--etcd', 'http://127.0.0.1:2379']), /--etcd or --dns, not both/);
    refused(node(['--dns-srv', '_p._tcp.a', '--dns-port', '8001']), /SRV records carry the port/);
    refused(node(['--dns', 'a', '--dns-port', '0']), /--dns-port/);
    refused(node(['--dns', 'a', '--dns-port', '65536']), /--dns-port/);
    refused(node(['--dns', 'a', '--dns-server', 'dns.example']), /dns server "dns.example"/);
    refused(node(['--dns', 'a', '--dns-server', ',']), /--dns-server needs an address/);
    refused(node(['--dns', 'a', '--dns-interval', 'soon']), /--dns-interval must be a duration/);
    refused(node(['--dns-port', '8001']), /--dns-port needs --dns or --dns-srv/);
    refused(node(['--dns-server', '127.0.0.1']), /--dns-server needs --dns/);
    refused(node(['--dns-interval', '1s']), /--dns-interval needs --dns/);
  });
});
