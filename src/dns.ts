// dns.ts: the `peercache/dns` entry: membership from DNS records (A/AAAA or SRV, polled).

export {
  createDnsMembership,
  type DnsMembershipOptions,
  type DnsMembershipStatus,
  type DnsResolver,
  type SrvAnswer,
} from './membership/dns/index.js';
