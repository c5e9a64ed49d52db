// fd-exhaustion.test.ts: a real `peercache node` under a 1,024-descriptor limit (prlimit), with
// 1,100 idle connections on its peer port: the excess is refused and logged, and the API (a
// separate connection limit, a smaller share of the descriptors) keeps answering.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanupAfter, freePorts, startProcess, waitFor } from '../support/process.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

/** open connects to 127.0.0.1:`port`; it resolves with the socket, or undefined if refused or reset. */
function open(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
  });
}

interface JsonLine {
  msg?: string;
  server?: string;
  maxConnections?: number;
  refused?: number;
}

function jsonLines(lines: readonly string[]): JsonLine[] {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as JsonLine];
    } catch {
      return [];
    }
  });
}

for (const transport of ['http', 'grpc'] as const) {
  describe(`a node under 1,024 descriptors, its ${transport} peer port flooded`, () => {
    it('refuses and logs the excess connections; the API still answers', {
      skip: hasPrlimit ? false : 'prlimit (util-linux) is not installed',
    }, async (t) => {
      const registry = cleanupAfter(t);
      const [peerPort, apiPort] = (await freePorts(2)) as [number, number];
      const self = `http://127.0.0.1:${peerPort}`;
      const args = [
        '--nofile=1024:1024',
        process.execPath,
        '--import',
        'tsx',
        'src/cli/main.ts',
        'node',
        '--self',
        self,
        '--api',
        `127.0.0.1:${apiPort}`,
        '--transport',
        transport,
        '--log-level',
        'info',
      ];
      const node = await startProcess('prlimit', args, {
        cwd: REPO_ROOT,
        readyLine: `ready ${self}`,
        timeoutMs: 60_000,
        registry,
      });
      // The log is written asynchronously: the limits lines may follow the ready line.
      const limits = await waitFor(
        () => {
          const lines = jsonLines(node.stderr).filter((l) => l.msg === 'server limits');
          return lines.length >= 2 ? lines : undefined;
        },
        { message: 'both servers log their limits at start' },
      );
      const peerLimit = limits.find((l) => l.server === 'peer')?.maxConnections;
      const apiLimit = limits.find((l) => l.server === 'api')?.maxConnections;
      assert.equal(peerLimit, 512, 'half of 1,024 for the peer server, logged at start');
      assert.equal(apiLimit, 256, 'a quarter for the API');

      const sockets: Socket[] = [];
      t.after(() => {
        for (const s of sockets) s.destroy();
      });
      for (let batch = 0; batch < 11; batch++) {
        const opened = await Promise.all(Array.from({ length: 100 }, () => open(peerPort)));
        for (const s of opened) if (s !== undefined) sockets.push(s);
      }
      const res = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok\n');
      const stats = await fetch(`http://127.0.0.1:${apiPort}/stats`);
      assert.equal(stats.status, 200, 'the API serves real requests too');
      // The server closes what it refuses: wait for the refusal to be logged.
      await waitFor(
        () =>
          jsonLines(node.stderr).some(
            (l) => l.server === 'peer' && l.msg?.startsWith('connections refused') === true,
          ),
        { timeoutMs: 20_000 },
      );
      assert.equal(node.exitStatus, undefined, 'the node is still running');
    });
  });
}
