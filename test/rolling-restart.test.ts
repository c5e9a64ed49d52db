// rolling-restart.test.ts: three `peercache node` processes under a steady load of gets,
// each restarted in turn (SIGTERM, then started again at the same address), with a static
// member list and with etcd: no get fails, and each key is loaded once per ownership change.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultRing } from '../src/cli/args.js';
import { createRing } from '../src/ring/owner-ring.js';
import { etcdBinary, startEtcd, suiteCleanup } from './support/etcd.js';
import { type PeercacheNode, startPeercacheNode } from './support/peercache.js';
import { cleanupAfter, freePorts, type ProcessRegistry, waitFor } from './support/process.js';
import { testValue } from './support/values.js';

/** Keys the load asks for, over and over: each owned by one of the three nodes. */
const KEYS = Array.from({ length: 120 }, (_, i) => `roll-${i}`);
/** Gets a second, spread over the nodes that answer /readyz 200. */
const RATE = 150;
/** The nodes' --drain-ms: well over the balancer's 100 ms polls of /readyz. */
const DRAIN_MS = 1_000;

interface Failure {
  key: string;
  via: string;
  why: string;
}

/**
 * Balancer sends the steady load as a load balancer would: only to nodes whose /readyz
 * answered 200 at its last poll (every 100 ms).
 */
class Balancer {
  readonly failures: Failure[] = [];
  sent = 0;
  answered = 0;
  #ready = new Set<string>();
  #running = true;
  #inFlight = new Set<Promise<void>>();
  readonly #apis: string[];
  #polling: Promise<void>;
  #sending: Promise<void> | undefined;

  constructor(apis: string[]) {
    this.#apis = apis;
    this.#polling = this.#poll();
  }

  async #poll(): Promise<void> {
    while (this.#running) {
      await Promise.all(
        this.#apis.map(async (api) => {
          const ok = await fetch(`${api}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
            (r) => r.status === 200,
            () => false,
          );
          if (ok) this.#ready.add(api);
          else this.#ready.delete(api);
        }),
      );
      await sleep(100);
    }
  }

  /** start sends RATE gets a second, on schedule, key after key. */
  start(): void {
    this.#sending = (async () => {
      const begin = Date.now();
      for (let i = 0; this.#running; i++) {
        const ready = [...this.#ready];
        if (ready.length > 0 && this.#inFlight.size < 200) {
          const via = ready[i % ready.length] as string;
          const get = this.#get(via, KEYS[i % KEYS.length] as string).finally(() =>
            this.#inFlight.delete(get),
          );
          this.#inFlight.add(get);
        }
        await sleep(Math.max(0, begin + ((i + 1) * 1000) / RATE - Date.now()));
      }
    })();
  }

  async #get(via: string, key: string): Promise<void> {
    this.sent++;
    try {
      const res = await fetch(`${via}/api?${new URLSearchParams({ key })}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) this.failures.push({ key, via, why: `${res.status} ${body}` });
      else if (!body.equals(testValue(key) ?? new Uint8Array(0))) {
        this.failures.push({ key, via, why: 'wrong value' });
      }
    } catch (err) {
      this.failures.push({ key, via, why: String(err) });
    }
    this.answered++;
  }

  /** passes waits until `count` more gets have been answered than when it was called. */
  async passes(count: number): Promise<void> {
    const mark = this.answered;
    await waitFor(() => this.answered >= mark + count, {
      timeoutMs: 20_000,
      message: `${count} gets answered`,
    });
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#sending;
    await this.#polling;
    await Promise.all(this.#inFlight);
  }
}

interface PeersView {
  peers: string[];
  departed: string[];
  peerHealthy: Record<string, boolean>;
}

async function peersOf(node: PeercacheNode): Promise<PeersView> {
  const res = await fetch(`${node.apiUrl}/peers`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as PeersView;
}

/** inUse tells whether `node` routes to `url`: on its ring, healthy, not leaving. */
async function inUse(node: PeercacheNode, url: string): Promise<boolean> {
  const view = await peersOf(node);
  return view.peers.includes(url) && !view.departed.includes(url) && view.peerHealthy[url] === true;
}

/**
 * rollingRestart runs the three nodes under load, restarts each in turn, and checks
 * the gets and the loads. `membership` gives the flags of each node's membership.
 */
async function rollingRestart(
  t: TestContext,
  membership: (urls: string[]) => string[],
): Promise<void> {
  const registry: ProcessRegistry = cleanupAfter(t);
  const ports = await freePorts(6);
  const urls = ports.slice(0, 3).map((p) => `http://127.0.0.1:${p}`);
  const apiPorts = ports.slice(3);
  const start = (i: number) =>
    startPeercacheNode({
      self: urls[i] as string,
      apiPort: apiPorts[i] as number,
      transport: 'tcp',
      registry,
      extraArgs: ['--drain-ms', String(DRAIN_MS), ...membership(urls)],
    });
  const nodes = await Promise.all([0, 1, 2].map(start));
  const lives: PeercacheNode[] = [...nodes];
  for (const node of nodes) {
    for (const url of urls.filter((u) => u !== node.url)) {
      await waitFor(() => inUse(node, url), {
        timeoutMs: 10_000,
        message: `${node.url} routes to ${url}`,
      });
    }
  }
  const balancer = new Balancer(nodes.map((n) => n.apiUrl));
  balancer.start();
  try {
    await balancer.passes(KEYS.length);
    for (let i = 0; i < 3; i++) {
      const old = nodes[i] as PeercacheNode;
      const exit = await old.process.stop('SIGTERM', 20_000);
      assert.deepEqual(exit, { code: 0, signal: null }, `${old.url} shut down cleanly`);
      const again = await start(i);
      nodes[i] = again;
      lives.push(again);
      for (const other of nodes) {
        if (other === again) continue;
        await waitFor(() => inUse(other, again.url), {
          timeoutMs: 10_000,
          message: `${other.url} routes to ${again.url} again`,
        });
      }
      // Every key asked at least once more with the node back.
      await balancer.passes(KEYS.length);
    }
  } finally {
    await balancer.stop();
    await Promise.all(nodes.map((n) => n.process.stop('SIGTERM', 20_000)));
  }

  assert.ok(balancer.answered > 4 * KEYS.length, `only ${balancer.answered} gets`);
  assert.deepEqual(
    balancer.failures.slice(0, 10),
    [],
    `${balancer.failures.length} of ${balancer.sent} gets failed`,
  );

  // Each key's owner was restarted once: its keys moved to the next owner as it left
  // and back as it returned, two ownership changes, so at most three loads each.
  // The nodes' ring: the CLI's default for tcp.
  const ring = createRing({ kind: defaultRing('tcp') });
  ring.set([...new Set(urls)]);
  const counts = lives.map((n) => n.loads());
  const loads = new Map(KEYS.map((k) => [k, counts.reduce((s, c) => s + (c[k] ?? 0), 0)]));
  const over = KEYS.filter((k) => (loads.get(k) ?? 0) > 3).map((k) => {
    const where = lives.flatMap((n) =>
      n
        .logs()
        .filter((l) => l.msg === 'loaded' && l.key === k)
        .map((l) => `${n.url} (pid ${n.process.pid}) at ${l.time}`),
    );
    return `${k} (owner ${ring.get(k)}): ${loads.get(k)} loads: ${where.join(', ')}`;
  });
  const trouble = lives.flatMap((n) =>
    n
      .logs()
      .filter((l) => l.level >= 40)
      .map((l) => `${n.url} (pid ${n.process.pid}) at ${l.time}: ${l.msg} ${String(l.peer ?? '')}`),
  );
  assert.deepEqual(
    over,
    [],
    `a key loaded more than once per ownership change; warnings: ${trouble.slice(0, 20).join('; ')}`,
  );
  const never = KEYS.filter((k) => (loads.get(k) ?? 0) === 0);
  assert.deepEqual(never, [], 'keys never loaded');
  const total = [...loads.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(
    `${balancer.answered} gets, 0 failed; ${total} loads of ${KEYS.length} keys (at most ${3 * KEYS.length})`,
  );
}

const binary = await etcdBinary();
const etcdSkip = typeof binary === 'string' ? false : binary.skip;

describe('rolling restarts under load', { timeout: 120_000 }, () => {
  const cleanup = suiteCleanup();

  it('static member list: no failed get, each key loaded once per ownership change', async (t) => {
    await rollingRestart(t, (urls) => ['--peers', urls.join(',')]);
  });

  it('etcd: no failed get, each key loaded once per ownership change', {
    skip: etcdSkip,
  }, async (t) => {
    const etcd = await startEtcd({ cleanup });
    await rollingRestart(t, () => [
      '--etcd',
      etcd.endpoint,
      '--service',
      'rolling',
      '--lease-ttl',
      '5',
    ]);
  });
});
