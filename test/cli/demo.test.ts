// demo.test.ts: `peercache demo` as a real process tree: 3 nodes, gets through the
// API loaded by the owner the demo names, and clean stops by signal or when a node dies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEMO_SCORES } from '../../src/loaders/scores.js';
import {
  cleanupAfter,
  freePort,
  type ManagedProcess,
  startProcess,
  waitFor,
} from '../support/process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

interface Demo {
  proc: ManagedProcess;
  api: string;
  pids: Map<string, number>;
  owners: Map<string, string>;
}

async function startDemo(registry: ReturnType<typeof cleanupAfter>): Promise<Demo> {
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const proc = await startProcess(
    process.execPath,
    [...CLI, 'demo', '--api', `127.0.0.1:${apiPort}`],
    {
      cwd: ROOT,
      readyLine: `ready ${api}`,
      timeoutMs: 60_000,
      registry,
    },
  );
  const pids = new Map<string, number>();
  const owners = new Map<string, string>();
  for (const line of proc.stdout) {
    const started = /^demo {2}\| started (node\d) \(pid (\d+)\)/.exec(line);
    if (started) pids.set(started[1]!, Number(started[2]));
    const owner = /^demo {2}\| {3}(\w+) +-> (node\d) http:/.exec(line);
    if (owner) owners.set(owner[1]!, owner[2]!);
  }
  assert.deepEqual([...pids.keys()], ['node1', 'node2', 'node3'], proc.stdout.join('\n'));
  assert.deepEqual([...owners.keys()].sort(), Object.keys(DEMO_SCORES).sort());
  for (const line of [
    `curl "${api}/api?key=Tom"`,
    `curl "${api}/peers"`,
    `curl "${api}/metrics"`,
  ]) {
    assert.ok(
      proc.stdout.some((l) => l.trim() === line),
      `no example ${line}`,
    );
  }
  assert.ok(
    proc.stdout.some((l) =>
      l.endsWith(`web console (cluster, groups, hot keys, key inspector): ${api}/console/`),
    ),
    'the banner names the console URL',
  );
  return { proc, api, pids, owners };
}

/** alive tells whether `pid` still runs (an unreaped zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** loadLines lists, for each `nodeN | ... loaded ...` line, the node and the key. */
function loadLines(proc: ManagedProcess): [string, string][] {
  const out: [string, string][] = [];
  for (const line of proc.stdout) {
    const m = /^(node\d) \| .* loaded group=scores key=(\S+)/.exec(line);
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

describe('peercache demo', () => {
  const registry = cleanupAfter();

  test('serves the scores through node1; each key is loaded once, by the owner it names; SIGINT stops all', async () => {
    const demo = await startDemo(registry);
    for (const [key, value] of Object.entries(DEMO_SCORES)) {
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`${demo.api}/api?key=${key}`);
        assert.equal(r.status, 200);
        assert.equal(await r.text(), value);
      }
    }
    await waitFor(() => loadLines(demo.proc).length >= 4, { timeoutMs: 5000 });
    const loads = loadLines(demo.proc);
    assert.deepEqual(
      loads.sort((a, b) => a[1].localeCompare(b[1])),
      [...demo.owners].map(([key, node]) => [node, key]).sort((a, b) => a[1]!.localeCompare(b[1]!)),
    );

    const status = await demo.proc.stop('SIGINT', 20_000);
    assert.deepEqual(status, { code: 0, signal: null });
    for (const [name, pid] of demo.pids)
      assert.equal(alive(pid), false, `${name} (pid ${pid}) still runs`);
    assert.ok(demo.proc.stdout.some((l) => l.includes('all nodes stopped')));
  });

  test('when a node dies, the demo says so, stops the others and exits 1', async () => {
    const demo = await startDemo(registry);
    const node2 = demo.pids.get('node2')!;
    process.kill(node2, 'SIGKILL');
    const status = await Promise.race([
      demo.proc.exited,
      new Promise((r) => setTimeout(r, 20_000, 'late').unref()),
    ]);
    assert.deepEqual(status, { code: 1, signal: null });
    assert.ok(
      demo.proc.stdout.some((l) => /node2 exited \(signal SIGKILL\); stopping the others/.test(l)),
    );
    for (const [name, pid] of demo.pids)
      assert.equal(alive(pid), false, `${name} (pid ${pid}) still runs`);
  });

  test('when the demo itself is killed, its nodes stop on their own', async () => {
    const demo = await startDemo(registry);
    await demo.proc.kill();
    await waitFor(() => [...demo.pids.values()].every((pid) => !alive(pid)), { timeoutMs: 15_000 });
  });
});
