// workers.test.ts: `peercache node --workers 2` as a real process with another node: the two
// workers and the other node form one ring, a SIGKILLed worker is started again, and SIGTERM
// to the primary shuts every worker down in order.

import assert from 'node:assert/strict';
import { get } from 'node:http';
import { describe, it } from 'node:test';
import { jsonLogs } from '../support/cli.js';
import { etcdBinary, startEtcd, suiteCleanup } from '../support/etcd.js';
import { startPeercacheNode } from '../support/peercache.js';
import { cleanupAfter, consecutivePorts, freePorts, waitFor } from '../support/process.js';

interface PeersView {
  self: string;
  peers: string[];
  source: string;
  peerHealthy: Record<string, boolean>;
}

/** peersOf reads `GET /peers` on a fresh connection (the primary hands out connections, not requests). */
function peersOf(api: string): Promise<PeersView> {
  return new Promise((resolve, reject) => {
    const req = get(`${api}/peers`, { agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as PeersView);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 2 s')));
    req.on('error', reject);
  });
}

/** alive tells whether a process with `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('peercache node --workers 2', { timeout: 90_000 }, () => {
  it('two workers and another node form one ring; a killed worker is started again; SIGTERM stops all in order', async () => {
    const registry = cleanupAfter();
    const base = await consecutivePorts(2);
    const [otherPort] = (await freePorts(1)) as [number];
    const w0 = `http://127.0.0.1:${base}`;
    const w1 = `http://127.0.0.1:${base + 1}`;
    const other = `http://127.0.0.1:${otherPort}`;
    const members = [w0, w1, other].sort();
    const [primary, peer] = await Promise.all([
      startPeercacheNode({
        self: w0,
        peers: [other],
        transport: 'tcp',
        registry,
        extraArgs: ['--workers', '2', '--drain-ms', '200'],
      }),
      startPeercacheNode({
        self: other,
        peers: members,
        transport: 'tcp',
        registry,
        extraArgs: ['--drain-ms', '200'],
      }),
    ]);

    // The API port is shared: requests land on both workers, each a member of one ring.
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const view = await peersOf(primary.apiUrl);
        assert.deepEqual(view.peers, members);
        seen.add(view.self);
        return seen.size === 2;
      },
      { timeoutMs: 10_000, message: 'both workers answer on the one API port' },
    );
    assert.deepEqual([...seen].sort(), [w0, w1]);
    assert.deepEqual((await peersOf(peer.apiUrl)).peers, members);
    for (const key of ['Tom', 'Jack', 'Sam', 'Peter']) {
      assert.equal((await primary.get(key)).status, 200);
    }

    const started = () =>
      jsonLogs(primary.process).filter((l) => l.msg === 'worker started') as {
        worker: number;
        workerPid: number;
      }[];
    const [first0, first1] = started();
    assert.equal(first0?.worker, 0);
    assert.equal(first1?.worker, 1);
    const killed = first1?.workerPid as number;
    process.kill(killed, 'SIGKILL');
    const restarted = await waitFor(
      () => started().find((l) => l.worker === 1 && l.workerPid !== killed),
      { timeoutMs: 20_000, message: 'worker 1 started again' },
    );
    await waitFor(
      () =>
        jsonLogs(primary.process).some(
          (l) => l.msg === 'worker ready' && l.workerPid === restarted.workerPid,
        ),
      { timeoutMs: 30_000, message: 'the new worker 1 is ready' },
    );
    await waitFor(async () => (await peersOf(peer.apiUrl)).peerHealthy[w1] === true, {
      timeoutMs: 10_000,
      message: 'the other node uses worker 1 again',
    });
    assert.equal(alive(killed), false);

    const exit = await primary.process.stop('SIGTERM', 20_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    const lines = jsonLogs(primary.process);
    const order = lines
      .filter((l) =>
        [
          'shutting down',
          'leaving: peers told',
          'node closed',
          'worker stopped',
          'stopped',
        ].includes(String(l.msg)),
      )
      .map((l) => `${l.worker ?? 'primary'} ${l.msg}`);
    // Each worker leaves before it closes, and the primary stops last.
    for (const w of [0, 1]) {
      const leave = order.indexOf(`${w} leaving: peers told`);
      const closed = order.indexOf(`${w} node closed`);
      const stopped = order.lastIndexOf(`${w} worker stopped`);
      assert.ok(leave >= 0 && leave < closed && closed < stopped, order.join('\n'));
    }
    assert.equal(order.at(-1), 'primary stopped', order.join('\n'));
    assert.equal(alive(first0?.workerPid as number), false);
    assert.equal(alive(restarted.workerPid), false);
    // The other node was told both workers left.
    await waitFor(
      async () => {
        const res = await fetch(`${peer.apiUrl}/peers`);
        const view = (await res.json()) as { departed: string[] };
        return view.departed.includes(w0) && view.departed.includes(w1);
      },
      { timeoutMs: 5_000, message: 'the other node takes both workers off its routing' },
    );
  });
});

const binary = await etcdBinary();
const etcdSkip = typeof binary === 'string' ? false : binary.skip;

describe('peercache node --workers 2 --etcd', { skip: etcdSkip, timeout: 90_000 }, () => {
  const cleanup = suiteCleanup();

  it('each worker registers itself in etcd and leaves it on SIGTERM', async () => {
    const etcd = await startEtcd({ cleanup });
    const registry = cleanupAfter();
    const base = await consecutivePorts(2);
    const w0 = `http://127.0.0.1:${base}`;
    const w1 = `http://127.0.0.1:${base + 1}`;
    const prefix = '/workers-test/peercache/nodes/';
    const node = await startPeercacheNode({
      self: w0,
      transport: 'tcp',
      registry,
      extraArgs: [
        '--workers',
        '2',
        '--drain-ms',
        '0',
        '--etcd',
        etcd.endpoint,
        '--etcd-prefix',
        '/workers-test',
      ],
    });
    const registered = async () => (await etcd.keys(prefix)).map((k) => k.key).sort();
    await waitFor(async () => (await registered()).length === 2, {
      timeoutMs: 10_000,
      message: 'both workers registered',
    });
    assert.deepEqual(await registered(), [`${prefix}${w0}`, `${prefix}${w1}`]);
    // Each worker's ring follows etcd: both members, from the source etcd.
    for (let asked = 0; asked < 4; asked++) {
      const view = await waitFor(
        async () => {
          const v = await peersOf(node.apiUrl);
          return v.peers.length === 2 && v.source === 'etcd' ? v : undefined;
        },
        { timeoutMs: 10_000, message: 'a worker sees both in etcd' },
      );
      assert.deepEqual(view.peers, [w0, w1]);
    }
    assert.deepEqual(await node.process.stop('SIGTERM', 20_000), { code: 0, signal: null });
    assert.deepEqual(await registered(), [], 'each worker revoked its lease');
  });
});
