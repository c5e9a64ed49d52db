// demo.ts: `peercache demo`, a local 3-node cluster of `peercache node` child
// processes with the demo scores data, their logs prefixed by node name.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { DEMO_SCORES } from '../loaders/scores.js';
import { createRing } from '../ring/owner-ring.js';
import { type DemoConfig, defaultRing } from './args.js';
import { formatLogLine } from './format.js';
import type { RunIo } from './lifecycle.js';

/** DemoOptions tune {@link runDemo}; the defaults suit the CLI. */
export interface DemoOptions {
  /**
   * command starts one `peercache` child: the executable and the arguments that
   * come before `node ...`. Default: this process's executable, its execArgv
   * and its script (`process.argv[1]`), so the children run the same way
   * (from dist/ or under tsx).
   */
  command?: { file: string; args: string[] };
  /** readyTimeoutMs is how long the nodes have to print `ready`. Default 30,000. */
  readyTimeoutMs?: number;
  /** stopGraceMs is how long a stopped node has to exit before SIGKILL. Default 10,000. */
  stopGraceMs?: number;
}

interface Child {
  name: string;
  url: string;
  proc: ChildProcess;
  pid: number;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
}

const NAMES = ['node1', 'node2', 'node3'] as const;

/**
 * runDemo starts three nodes on 127.0.0.1 (static membership: each gets all
 * three URLs; node1 also serves the API on `config.api`), prints their logs
 * prefixed with their names, and once all are ready prints curl examples, the
 * owner of each demo key, and the line `ready <API URL>`. It runs until
 * SIGINT/SIGTERM (then stops the nodes by PID and resolves 0) or until a node
 * dies (then stops the others and resolves 1). A second signal SIGKILLs the
 * nodes and exits at once.
 */
export async function runDemo(
  config: DemoConfig,
  io: RunIo,
  options: DemoOptions = {},
): Promise<number> {
  const command = options.command ?? {
    file: process.execPath,
    args: [...process.execArgv, process.argv[1] ?? ''],
  };
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const say = (line: string) => io.stdout.write(`${line}\n`);
  const note = (line: string) => say(`demo  | ${line}`);

  const ports =
    config.basePort !== undefined
      ? [0, 1, 2].map((i) => (config.basePort as number) + i)
      : await freeLoopbackPorts(3);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const apiHost = ['0.0.0.0', '::', ''].includes(config.api.host) ? '127.0.0.1' : config.api.host;
  const apiUrl = `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${config.api.port}`;
  const apiFlag = `${config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host}:${config.api.port}`;

  // Signals: the first stops the nodes gracefully, a second kills them now.
  let interrupted: (signal: string) => void = () => {};
  const interruption = new Promise<string>((resolve) => {
    interrupted = resolve;
  });
  let signalled = false;
  const children: Child[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      for (const c of children) kill(c, 'SIGKILL');
      process.exit(130);
    }
    signalled = true;
    interrupted(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    urls.forEach((url, i) => {
      const name = NAMES[i] as string;
      const args = [
        ...command.args,
        'node',
        '--self',
        url,
        '--peers',
        urls.join(','),
        '--log-level',
        config.logLevel,
      ];
      if (i === 0) args.push('--api', apiFlag);
      const child = startChild(name, url, command.file, args, say);
      children.push(child);
      note(`started ${name} (pid ${child.pid}) on ${url}${i === 0 ? `, API ${apiUrl}` : ''}`);
    });

    const anyExit = Promise.race(children.map((c) => c.exited.then(() => c)));
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(resolve, readyTimeoutMs, 'timeout').unref(),
    );
    const started = await Promise.race([
      Promise.all(children.map((c) => c.ready)).then(() => 'ready' as const),
      anyExit,
      timeout,
      interruption.then(() => 'interrupted' as const),
    ]);
    if (started === 'interrupted') {
      note('stopping the nodes');
      await stopAll(children, stopGraceMs);
      return 0;
    }
    if (started !== 'ready') {
      note(
        started === 'timeout'
          ? `the nodes were not ready within ${readyTimeoutMs} ms; stopping them`
          : `${started.name} exited before it was ready; stopping the others`,
      );
      await stopAll(children, stopGraceMs);
      return 1;
    }

    printBanner(say, note, urls, apiUrl);
    say(`ready ${apiUrl}`);

    const ended = await Promise.race([anyExit, interruption]);
    if (typeof ended === 'string') {
      note('stopping the nodes');
      await stopAll(children, stopGraceMs);
      note('all nodes stopped');
      return 0;
    }
    const status = await ended.exited;
    note(
      `${ended.name} exited (${status.signal ? `signal ${status.signal}` : `code ${status.code}`}); stopping the others`,
    );
    await stopAll(children, stopGraceMs);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function startChild(
  name: string,
  url: string,
  file: string,
  args: string[],
  say: (line: string) => void,
): Child {
  // detached: a terminal's Ctrl-C reaches only the demo, which stops the nodes
  // itself; the IPC channel makes a node stop if the demo dies without doing so.
  const proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  const prefix = `${name} | `;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    proc.once('error', (err) => {
      say(`${prefix}cannot start: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  const child: Child = { name, url, proc, pid: proc.pid ?? -1, ready, exited, done: false };
  void exited.then(() => {
    child.done = true;
  });
  const lines = (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void) => {
    if (stream)
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', onLine);
  };
  lines(proc.stdout, (line) => {
    if (line === `ready ${url}`) markReady();
    say(prefix + line);
  });
  lines(proc.stderr, (line) => say(prefix + formatLogLine(line)));
  return child;
}

function printBanner(
  say: (line: string) => void,
  note: (line: string) => void,
  urls: string[],
  apiUrl: string,
): void {
  // The nodes run the CLI's default transport, tcp, and so its default ring there.
  const kind = defaultRing('tcp');
  const ring = createRing({ kind });
  ring.set(urls);
  note(`all 3 nodes are ready. Owner of each demo key on the ring (${kind}):`);
  const width = Math.max(...Object.keys(DEMO_SCORES).map((k) => k.length));
  for (const key of Object.keys(DEMO_SCORES)) {
    const owner = ring.get(key) ?? '';
    note(`  ${key.padEnd(width)}  -> ${NAMES[urls.indexOf(owner)] ?? '?'} ${owner}`);
  }
  note('try these; the owner logs "loaded" for a key the first time only:');
  for (const example of [
    `curl "${apiUrl}/api?key=Tom"`,
    `curl -X PUT --data-binary 700 "${apiUrl}/api?key=Tom"`,
    `curl -X DELETE "${apiUrl}/api?key=Tom"`,
    `curl "${apiUrl}/peers"`,
    `curl "${apiUrl}/stats"`,
    `curl "${apiUrl}/metrics"`,
  ]) {
    say(`    ${example}`);
  }
  note('Ctrl-C stops all three nodes.');
}

function kill(child: Child, signal: NodeJS.Signals): void {
  if (child.done || child.pid < 0) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
}

/** stopAll sends SIGTERM to every running node by PID, then SIGKILL after `graceMs`. */
async function stopAll(children: Child[], graceMs: number): Promise<void> {
  for (const c of children) kill(c, 'SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children) kill(c, 'SIGKILL');
  }, graceMs);
  await Promise.all(children.map((c) => c.exited));
  clearTimeout(timer);
}

/** freeLoopbackPorts returns `n` distinct ports that were free on 127.0.0.1 a moment ago. */
async function freeLoopbackPorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    const ports: number[] = [];
    for (const s of servers) {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      const address = s.address();
      if (address === null || typeof address === 'string') throw new Error('no port from the OS');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map(
        (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
      ),
    );
  }
}
