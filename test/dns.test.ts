// dns.test.ts: DNS membership against a real DNS server (dnsmasq on a loopback port):
// `peercache node --dns` processes (and a gateway) join and leave each other's rings as
// A records appear and vanish, keep their ring through a DNS outage, and follow SRV
// records with the port each record names.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from './support/cli.js';
import { type DnsServer, dnsmasqBinary, startDnsServer } from './support/dnsmasq.js';
import { type PeercacheNode, startPeercacheNode } from './support/peercache.js';
import { cleanupAfter, freePorts, startProcess, waitFor } from './support/process.js';

const binary = await dnsmasqBinary();
const skip = typeof binary === 'string' ? false : binary.skip;

/** A short poll, so each change shows within a few hundred ms of real time. */
const INTERVAL = '100ms';
const NAME = 'cache.test';

interface PeersBody {
  peers: string[];
  source: string;
  membership?: { failedLookups?: number; lastError?: string | null };
}

/** Api is anything with an API to ask: a node, or a gateway. */
type Api = Pick<PeercacheNode, 'apiUrl' | 'url'>;

async function peersOf(node: Api): Promise<PeersBody> {
  const res = await fetch(`${node.apiUrl}/peers`);
  return (await res.json()) as PeersBody;
}

/** ringIs waits until `node`'s ring is exactly `want` (from DNS). */
async function ringIs(node: Api, want: readonly string[]): Promise<void> {
  const sorted = [...want].sort();
  await waitFor(
    async () => {
      const p = await peersOf(node);
      return p.source === 'dns' && JSON.stringify(p.peers) === JSON.stringify(sorted);
    },
    { timeoutMs: 10_000, message: `${node.url}'s ring to be ${sorted.join(', ')}` },
  );
}

/** freeOnAll finds a port free on each of `hosts` (the nodes of one name share a port). */
async function freeOnAll(hosts: readonly string[]): Promise<number> {
  for (;;) {
    const [port] = await freePorts(1, hosts[0]);
    const free = await Promise.all(
      hosts.slice(1).map((h) =>
        freePorts(1, h).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (free.every(Boolean) && port !== undefined) return port;
  }
}

describe('DNS membership with a real DNS server', { skip }, () => {
  const registry = cleanupAfter();
  let dns: DnsServer;

  before(async () => {
    dns = await startDnsServer(binary as string, registry);
  });
  after(async () => {
    await registry.stopAll();
    await dns?.close();
  });

  const start = (self: string, extra: string[]) =>
    startPeercacheNode({
      self,
      registry,
      transport: 'tcp',
      extraArgs: ['--dns-server', dns.address, '--dns-interval', INTERVAL, ...extra],
    });

  it('nodes join and leave the ring as A records appear and vanish; an outage keeps the ring', async () => {
    const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const port = await freeOnAll(hosts);
    const [u2, u3, u4] = hosts.map((h) => `http://${h}:${port}`) as [string, string, string];
    await dns.setHosts([
      ['127.0.0.2', NAME],
      ['127.0.0.3', NAME],
    ]);
    const [n2, n3] = await Promise.all([start(u2, ['--dns', NAME]), start(u3, ['--dns', NAME])]);
    await ringIs(n2, [u2, u3]);
    await ringIs(n3, [u2, u3]);

    // A third node starts: it is on its own ring at once (self is always a member) and
    // joins the others' once its record appears.
    const n4 = await start(u4, ['--dns', NAME]);
    await ringIs(n4, [u2, u3, u4]);
    assert.deepEqual((await peersOf(n2)).peers, [u2, u3]);
    await dns.setHosts([
      ['127.0.0.2', NAME],
      ['127.0.0.3', NAME],
      ['127.0.0.4', NAME],
    ]);
    await ringIs(n2, [u2, u3, u4]);
    await ringIs(n3, [u2, u3, u4]);

    // The cluster serves: a get through any node answers.
    for (const key of ['a', 'b', 'c', 'd']) assert.equal((await n2.get(key)).status, 200);

    // A gateway follows the same name (with the port: it has no --self) and routes gets.
    const [gatewayPort] = await freePorts(1);
    const gateway = { url: 'gateway', apiUrl: `http://127.0.0.1:${gatewayPort}` };
    const gatewayArgs = ['gateway', '--api', `127.0.0.1:${gatewayPort}`, '--transport', 'tcp'];
    const dnsArgs = ['--dns', NAME, '--dns-port', String(port), '--dns-server', dns.address];
    await startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        ...gatewayArgs,
        ...dnsArgs,
        '--dns-interval',
        INTERVAL,
      ],
      { cwd: REPO_ROOT, readyLine: `ready ${gateway.apiUrl}`, timeoutMs: 60_000, registry },
    );
    await ringIs(gateway, [u2, u3, u4]);
    const viaGateway = await fetch(`${gateway.apiUrl}/api?key=a`);
    assert.equal(viaGateway.status, 200);
    assert.equal(await viaGateway.text(), (await n3.get('a')).text);

    // A record vanishes: the others drop that node in one step; it keeps itself.
    await dns.setHosts([
      ['127.0.0.2', NAME],
      ['127.0.0.4', NAME],
    ]);
    await ringIs(n2, [u2, u4]);
    await ringIs(n4, [u2, u4]);
    await ringIs(n3, [u2, u3, u4]);
    await ringIs(gateway, [u2, u4]);

    // DNS goes down: lookups fail, the rings stay as they were, one warning each.
    await dns.stop();
    await waitFor(async () => ((await peersOf(n2)).membership?.failedLookups ?? 0) >= 5, {
      timeoutMs: 10_000,
      message: 'five failed lookups on n2',
    });
    assert.deepEqual((await peersOf(n2)).peers, [u2, u4]);
    assert.deepEqual((await peersOf(n4)).peers, [u2, u4]);
    assert.equal(
      n2.logs().filter((l) => l.msg === 'dns lookup failed: keeping the last member set').length,
      1,
    );
    for (const key of ['a', 'b', 'c', 'd']) assert.equal((await n2.get(key)).status, 200);

    // DNS is back with n3 listed again: the rings follow.
    await dns.setHosts([
      ['127.0.0.2', NAME],
      ['127.0.0.3', NAME],
      ['127.0.0.4', NAME],
    ]);
    await dns.start();
    await ringIs(n2, [u2, u3, u4]);
    assert.equal(n2.logs().filter((l) => l.msg === 'dns lookup answered again').length, 1);
    await Promise.all([n2.stop(), n3.stop(), n4.stop()]);
  });

  it('SRV records give each member its port', async () => {
    const host = '127.0.0.5';
    const [p1, p2, p3] = await freePorts(3, host);
    const urls = [p1, p2, p3].map((p) => `http://${host}:${p}`) as [string, string, string];
    const srv = `_peer._tcp.${NAME}`;
    await dns.setHosts([[host, `n.${NAME}`]]);
    await dns.setSrv([
      { name: srv, target: `n.${NAME}`, port: p1! },
      { name: srv, target: `n.${NAME}`, port: p2! },
    ]);
    const [a, b] = await Promise.all([
      start(urls[0], ['--dns-srv', srv]),
      start(urls[1], ['--dns-srv', srv]),
    ]);
    await ringIs(a, [urls[0], urls[1]]);
    await ringIs(b, [urls[0], urls[1]]);

    const c = await start(urls[2], ['--dns-srv', srv]);
    await dns.setSrv([
      { name: srv, target: `n.${NAME}`, port: p1! },
      { name: srv, target: `n.${NAME}`, port: p3! },
    ]);
    await ringIs(a, [urls[0], urls[2]]);
    await ringIs(c, [urls[0], urls[2]]);
    await ringIs(b, [urls[0], urls[1], urls[2]]);
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });
});
