// lookup.ts: one DNS lookup of the member set: the A/AAAA records of a name, or the SRV
// records of a name with their targets' addresses, turned into peer URLs.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ResolvedDnsOptions } from './options.js';

/** SrvAnswer is one SRV record, as node:dns returns it. */
export interface SrvAnswer {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * DnsResolver is the part of node:dns's `Resolver` a lookup uses; tests give a
 * fake one. A name with no records of the type asked rejects with code
 * `ENODATA` or `ENOTFOUND`, as node:dns does.
 */
export interface DnsResolver {
  /** resolve4 returns the A records of `name`. */
  resolve4(name: string): Promise<string[]>;
  /** resolve6 returns the AAAA records of `name`. */
  resolve6(name: string): Promise<string[]>;
  /** resolveSrv returns the SRV records of `name`. */
  resolveSrv(name: string): Promise<SrvAnswer[]>;
  /** cancel ends the queries in flight (they reject with `ECANCELLED`). */
  cancel(): void;
}

/**
 * LookupResult is what one lookup found: the members' peer URLs (sorted, no
 * duplicates), or `empty` when the name has no records (NXDOMAIN, or no data of
 * the types asked).
 */
export type LookupResult = { empty: false; peers: string[] } | { empty: true };

/** isNoRecords says whether a node:dns error means "no such records" rather than a failure. */
export function isNoRecords(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

/**
 * createResolver returns node:dns's Resolver with the timeout of `options` (one
 * retry) on `options.servers`, or on the system's servers.
 */
export function createResolver(
  options: Pick<ResolvedDnsOptions, 'timeoutMs' | 'servers'>,
): DnsResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs, tries: 2 });
  if (options.servers !== undefined) resolver.setServers(options.servers);
  return resolver;
}

/** peerUrl writes the peer URL of an address and port (`[v6]` in brackets). */
export function peerUrl(scheme: string, address: string, port: number): string {
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return `${scheme}://${host}:${port}`;
}

/** orNone turns "no such records" into an empty list; any other error passes through. */
async function orNone<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (err) {
    if (isNoRecords(err)) return [];
    throw err;
  }
}

/** addresses returns the A and/or AAAA records of `name` (an IP literal is its own address). */
async function addresses(resolver: DnsResolver, name: string, family: 0 | 4 | 6) {
  if (isIP(name) !== 0) return [name];
  const [v4, v6] = await Promise.all([
    family === 6 ? [] : orNone(resolver.resolve4(name)),
    family === 4 ? [] : orNone(resolver.resolve6(name)),
  ]);
  return [...v4, ...v6];
}

/**
 * lookupMembers asks DNS for the member set once. With `srv` each SRV target is
 * resolved to its addresses with the record's port (a target with no address is
 * left out); otherwise each A/AAAA address gets `port`. Rejects when a query
 * fails (a timeout, a refused or failing server): the caller keeps its last set.
 */
export async function lookupMembers(
  resolver: DnsResolver,
  o: Pick<ResolvedDnsOptions, 'name' | 'srv' | 'port' | 'scheme' | 'family'>,
): Promise<LookupResult> {
  const urls: string[] = [];
  if (o.srv) {
    const records = await orNone(resolver.resolveSrv(o.name));
    const found = await Promise.all(
      records.map(async (r) => ({ r, addrs: await addresses(resolver, r.name, o.family) })),
    );
    for (const { r, addrs } of found) {
      for (const a of addrs) urls.push(peerUrl(o.scheme, a, r.port));
    }
  } else {
    for (const a of await addresses(resolver, o.name, o.family)) {
      urls.push(peerUrl(o.scheme, a, o.port ?? 0));
    }
  }
  if (urls.length === 0) return { empty: true };
  return { empty: false, peers: [...new Set(urls)].sort() };
}
