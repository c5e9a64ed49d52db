// reasons.test.ts: `peercache node` and `gateway` processes that an operator can act on: a
// certificate that cannot work refuses the start, one that soon will not is warned about, and the
// API says which peer refused what (a peer secret, TLS) instead of blaming its own client.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultRing } from '../../src/cli/args.js';
import { createRing } from '../../src/ring/owner-ring.js';
import { makeTestCerts } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import {
  cleanupAfter,
  freePorts,
  type ManagedProcess,
  startProcess,
  waitFor,
} from '../support/process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const LOADER = 'test/fixtures/values-loader.ts';
const ENV = { PEERCACHE_PEER_SECRET: undefined, PEERCACHE_API_TOKEN: undefined };

/** run runs the CLI to its end without the secrets this shell may have set. */
const run = (args: string[]) => runCli(args, ENV);

function startNode(
  self: string,
  args: string[],
  registry: ReturnType<typeof cleanupAfter>,
): Promise<ManagedProcess> {
  return startProcess(
    process.execPath,
    [...CLI, 'node', '--self', self, '--loader', LOADER, ...args],
    {
      cwd: ROOT,
      env: ENV,
      readyLine: `ready ${self}`,
      timeoutMs: 60_000,
      registry,
    },
  );
}

async function startGateway(
  args: string[],
  registry: ReturnType<typeof cleanupAfter>,
): Promise<{ api: string; proc: ManagedProcess }> {
  const [port] = await freePorts(1);
  const api = `http://127.0.0.1:${port}`;
  const proc = await startProcess(
    process.execPath,
    [...CLI, 'gateway', '--api', `127.0.0.1:${port}`, ...args],
    { cwd: ROOT, env: ENV, readyLine: `ready ${api}`, timeoutMs: 60_000, registry },
  );
  return { api, proc };
}

/** warnings are the warning lines (pino level 40) a process logged whose message matches. */
function warnings(proc: ManagedProcess, pattern: RegExp): Record<string, unknown>[] {
  return proc.stderr
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === 40 && pattern.test(String(l.msg)));
}

/** keyOwnedBy finds a key the ring of `members` gives to `owner`. */
function keyOwnedBy(members: string[], owner: string): string {
  const ring = createRing({ kind: defaultRing('tcp') });
  ring.set(members);
  let key = 'k0';
  for (let i = 1; ring.get(key) !== owner; i++) key = `k${i}`;
  return key;
}

describe('peercache with certificates and secrets that do not fit', { timeout: 120_000 }, () => {
  const registry = cleanupAfter();
  const certs = makeTestCerts();
  after(() => certs.cleanup());
  const tlsOf = (pair: { certFile: string; keyFile: string }) => [
    '--tls-cert',
    pair.certFile,
    '--tls-key',
    pair.keyFile,
    '--tls-ca',
    certs.caFile,
  ];

  test('an expired certificate, or a key of another, refuses the start with exit 1 and why', async () => {
    const [port] = await freePorts(1);
    const self = `https://127.0.0.1:${port}`;
    const [expired, mismatched, gateway] = await Promise.all([
      run(['node', '--self', self, ...tlsOf(certs.expired)]),
      run(['node', '--self', self, ...tlsOf(certs.mismatched)]),
      run(['gateway', '--peers', self, '--api', '127.0.0.1:0', ...tlsOf(certs.expired)]),
    ]);
    for (const refused of [expired, gateway]) {
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /^peercache: cannot start: tls: certificate refused: certificate "CN=expired" has expired: it was valid until .*GMT$/m,
      );
      assert.equal(refused.stdout, '');
    }
    assert.equal(mismatched.code, 1);
    assert.match(
      mismatched.stderr,
      /^peercache: cannot start: tls: certificate refused: certificate "CN=node" does not match tls.key/m,
    );
  });

  test('a certificate that expires soon, or lacks a usage, starts with a warning', async () => {
    const [port] = await freePorts(1);
    const self = `https://127.0.0.1:${port}`;
    const node = await startNode(self, ['--peers', self, ...tlsOf(certs.expiringSoon)], registry);
    const [soon] = warnings(node, /^peer TLS: /);
    assert.match(
      String(soon?.msg),
      /certificate "CN=expiring-soon" expires in \d+ days?, on .*: renew it/,
    );
    assert.equal(soon?.code, 'EXPIRES_SOON');
    // A gateway presents its certificate as a client: without clientAuth usage, it is warned.
    const gateway = await startGateway(['--peers', self, ...tlsOf(certs.serverOnly)], registry);
    const [usage] = warnings(gateway.proc, /^peer TLS: /);
    assert.equal(usage?.code, 'NO_CLIENT_AUTH');
    assert.match(String(usage?.msg), /lacks the clientAuth extended key usage/);
  });

  test('peer secrets that differ: the API answers 502 naming the peer, which logs the refusal', async () => {
    const [portA, portB, api] = await freePorts(3);
    const a = `http://127.0.0.1:${portA}`;
    const b = `http://127.0.0.1:${portB}`;
    const peers = ['--peers', `${a},${b}`];
    const [, procB] = await Promise.all([
      startNode(
        a,
        [...peers, '--peer-secret', 'secret-of-a', '--api', `127.0.0.1:${api}`],
        registry,
      ),
      startNode(b, [...peers, '--peer-secret', 'secret-of-b'], registry),
    ]);
    const key = keyOwnedBy([a, b], b);
    const res = await fetch(`http://127.0.0.1:${api}/api?key=${key}`);
    const body = await res.text();
    assert.equal(res.status, 502, body);
    assert.ok(body.includes(b), `names the peer: ${body}`);
    assert.match(body, /refused this node's peer secret/);
    await waitFor(() => warnings(procB, /missing or wrong peer secret/).length > 0, {
      message: 'B logs the refusal',
    });
    const [line] = warnings(procB, /missing or wrong peer secret/);
    assert.equal(line?.msg, 'peer request refused: missing or wrong peer secret');
    assert.match(String(line?.remote), /127\.0\.0\.1:\d+$/);
  });

  test('a gateway whose owner refuses its TLS: 503 naming the owner and the reason', async () => {
    const [port] = await freePorts(1);
    const owner = `https://127.0.0.1:${port}`;
    const proc = await startNode(
      owner,
      ['--peers', owner, ...tlsOf(certs.node), '--tls-client-auth'],
      registry,
    );
    // The gateway trusts the CA but has no client certificate to show.
    const gateway = await startGateway(['--peers', owner, '--tls-ca', certs.caFile], registry);
    const res = await fetch(`${gateway.api}/api?key=some-key`);
    const body = await res.text();
    assert.equal(res.status, 503, body);
    assert.ok(body.includes(owner), `names the owner: ${body}`);
    assert.match(body, /refuses this node's client certificate/);
    await waitFor(() => warnings(proc, /client certificate not accepted/).length > 0, {
      message: 'the owner logs the refusal',
    });
    assert.equal(
      warnings(proc, /client certificate not accepted/)[0]?.reason,
      'no client certificate',
    );
  });
});
