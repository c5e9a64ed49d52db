// dns-args.ts: the `--dns` flags of `peercache node` and `peercache gateway`: membership
// from the A/AAAA or SRV records of a DNS name.
import { checkDnsName, checkDnsServer } from '../membership/dns/options.js';
import { checked, parseDuration, UsageError, wholeNumber } from './flags.js';

/** DnsFlags are the `--dns` flags: membership from DNS. */
export interface DnsFlags {
  /** `--dns NAME` (A/AAAA records) or `--dns-srv NAME` (SRV records). */
  name: string;
  /** srv is true with `--dns-srv`. */
  srv: boolean;
  /** `--dns-port`: the members' peer port (A/AAAA); default the port of `--self`. */
  port: number | undefined;
  /** `--dns-server HOST[:PORT],...`; default the system's resolvers. */
  servers: string[] | undefined;
  /** `--dns-interval`: the time between lookups, in ms; default the membership's (5 s). */
  intervalMs: number | undefined;
}

/** DnsValues are the parsed values of the DNS flags, as util.parseArgs returns them. */
export interface DnsValues {
  dns?: string | undefined;
  'dns-srv'?: string | undefined;
  'dns-port'?: string | undefined;
  'dns-server'?: string | undefined;
  'dns-interval'?: string | undefined;
  etcd?: string | undefined;
}

/** DNS_OPTIONS are the util.parseArgs options of the DNS flags. */
export const DNS_OPTIONS = {
  dns: { type: 'string' },
  'dns-srv': { type: 'string' },
  'dns-port': { type: 'string' },
  'dns-server': { type: 'string' },
  'dns-interval': { type: 'string' },
} as const;

/**
 * parseDns reads `--dns` or `--dns-srv` and the flags that go with them;
 * undefined without either (then none of the others may be given). `portRequired`
 * says that `--dns` needs `--dns-port` (a gateway has no `--self` to take it from).
 * Throws UsageError on a bad name, port, server or interval, or a bad combination.
 */
export function parseDns(values: DnsValues, portRequired: boolean): DnsFlags | undefined {
  const a = values.dns;
  const srv = values['dns-srv'];
  if (a === undefined && srv === undefined) {
    const stray = (['dns-port', 'dns-server', 'dns-interval'] as const).find(
      (k) => values[k] !== undefined,
    );
    if (stray !== undefined) throw new UsageError(`--${stray} needs --dns or --dns-srv`);
    return undefined;
  }
  if (a !== undefined && srv !== undefined)
    throw new UsageError('give --dns or --dns-srv, not both');
  if (values.etcd !== undefined) throw new UsageError('give --etcd or --dns, not both');
  const flag = srv !== undefined ? '--dns-srv' : '--dns';
  const name = checked(() => checkDnsName(a ?? srv, flag));
  let port: number | undefined;
  const rawPort = values['dns-port'];
  if (srv !== undefined && rawPort !== undefined) {
    throw new UsageError('--dns-port is for --dns: SRV records carry the port');
  }
  if (rawPort !== undefined) {
    port = wholeNumber('--dns-port', rawPort, 1);
    if (port > 65535) throw new UsageError(`--dns-port must be a port up to 65535, got ${rawPort}`);
  } else if (a !== undefined && portRequired) {
    throw new UsageError("--dns needs --dns-port (the nodes' peer port)");
  }
  const rawServers = values['dns-server'];
  let servers: string[] | undefined;
  if (rawServers !== undefined) {
    servers = rawServers
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (servers.length === 0)
      throw new UsageError('--dns-server needs an address, e.g. 10.96.0.10');
    servers = servers.map((s) => checked(() => checkDnsServer(s)));
  }
  const interval = values['dns-interval'];
  return {
    name,
    srv: srv !== undefined,
    port,
    servers,
    intervalMs: interval === undefined ? undefined : parseDuration('--dns-interval', interval),
  };
}
