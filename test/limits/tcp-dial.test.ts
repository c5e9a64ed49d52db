// tcp-dial.test.ts: the tcp client against a host that stops answering dials (a stopped
// process whose accept queue is full, so the kernel drops SYNs as a cut link does): the dial
// is dropped at the connect timeout, and the next call dials at once.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { GroupLookup, PeerServedGroup } from '../../src/core/peers.js';
import { tcpTransport } from '../../src/transport/tcp/transport.js';
import { within } from '../support/process.js';

const group: PeerServedGroup = {
  name: 'g',
  getForPeer: (key) => ({ value: Buffer.from(`v:${key}`), expireAt: 0, minuteQps: 0 }),
  setFromPeer: () => {},
  removeFromPeer: () => {},
};
const lookup: GroupLookup = { getGroup: (name) => (name === 'g' ? group : undefined) };
const text = (v: Uint8Array) => Buffer.from(v).toString();

describe('tcp client dials', () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('a dial the peer does not accept is dropped at the connect timeout; the next call dials at once', async () => {
    // A host that stops answering: a process listening with the smallest backlog, stopped
    // (SIGSTOP) so that it accepts nothing. Once its accept queue is full the kernel drops
    // further SYNs unanswered, as a cut link does.
    const host = spawn(
      process.execPath,
      [
        '-e',
        "const s = require('net').createServer(() => {}); s.listen(0, '127.0.0.1', 1, () => console.log(s.address().port));",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(host, 'exit');
    cleanup.push(async () => {
      if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
      await exited;
    });
    const [line] = (await within(once(host.stdout, 'data'), 10_000, 'the host listens')) as [
      Buffer,
    ];
    const port = Number(line.toString().trim());
    host.kill('SIGSTOP');
    // Fill its accept queue: connections complete until it is full, then hang.
    const fillers: Socket[] = [];
    cleanup.push(() => {
      for (const f of fillers) f.destroy();
    });
    for (let hung = false; !hung && fillers.length < 64; ) {
      const f = connect(port, '127.0.0.1');
      f.on('error', () => {});
      fillers.push(f);
      hung = await new Promise<boolean>((r) => {
        const timer = setTimeout(() => r(true), 300);
        f.once('connect', () => {
          clearTimeout(timer);
          r(false);
        });
      });
    }
    const t = tcpTransport({ connectTimeoutMs: 200, requestTimeoutMs: 60_000 });
    cleanup.push(() => t.close());
    const peerUrl = `http://127.0.0.1:${port}`;
    const client = t.client(peerUrl);
    const stats = () => t.clientStats(peerUrl) ?? assert.fail('no client open');
    await within(
      assert.rejects(client.get('g', 'a'), {
        code: 'UNAVAILABLE',
        message: /not connected within 200 ms/,
      }),
      10_000,
      'the unanswered dial fails (its request timeout is a minute away)',
    );
    assert.equal(stats().connected, false);
    // A peer answers on that port again: the next call dials at once (no backoff) and is served.
    for (const f of fillers) f.destroy();
    host.kill('SIGKILL');
    await exited;
    const real = await t.serve(lookup, {
      host: '127.0.0.1',
      port,
      signal: new AbortController().signal,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    cleanup.push(() => real.close(0));
    assert.equal(text((await within(client.get('g', 'b'), 10_000, 'served')).value), 'v:b');
    assert.equal(stats().dials, 2, 'one dial dropped, one made');
  });
});
