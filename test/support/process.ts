// process.ts: starts and stops the real processes of integration tests (by PID only),
// free ports for them, cleanup that runs even when a test fails, and polling.

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/** ExitStatus is how a child process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** StartProcessOptions configure {@link startProcess}. */
export interface StartProcessOptions {
  /** Variables added over `process.env`. Default: none. */
  env?: NodeJS.ProcessEnv;
  /** Working directory. Default: the current one. */
  cwd?: string;
  /** Ready once a stdout line equals this string (trimmed) or matches this RegExp. */
  readyLine?: string | RegExp;
  /** Ready once a GET of this URL answers 2xx. Both conditions apply when both are given. */
  readyUrl?: string;
  /** How long to wait for readiness before killing the process and failing. Default: 30000. */
  timeoutMs?: number;
  /** A registry that stops the process at cleanup. Default: none. */
  registry?: ProcessRegistry;
}

/** ManagedProcess is a child process started by {@link startProcess}. */
export interface ManagedProcess {
  /** ManagedProcess.pid is the child's process id: the only process stop/kill signal. */
  readonly pid: number;
  /** ManagedProcess.stdout holds the stdout lines read so far (the last 10,000). */
  readonly stdout: readonly string[];
  /** ManagedProcess.stderr holds the stderr lines read so far (the last 10,000). */
  readonly stderr: readonly string[];
  /** ManagedProcess.exited settles when the child has exited. */
  readonly exited: Promise<ExitStatus>;
  /** ManagedProcess.exitStatus is how the child ended, or undefined while it runs. */
  readonly exitStatus: ExitStatus | undefined;
  /**
   * ManagedProcess.stop sends `signal` (default SIGTERM), then SIGKILL if the child is
   * still running after `graceMs` (default 5000). Stopping an exited process does nothing.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitStatus>;
  /** ManagedProcess.kill sends SIGKILL and waits for the exit. */
  kill(): Promise<ExitStatus>;
}

const MAX_LINES = 10_000;

function collectLines(stream: NodeJS.ReadableStream | null, lines: string[], onLine: () => void) {
  if (!stream) return;
  let partial = '';
  stream.setEncoding('utf8');
  const push = (line: string) => {
    lines.push(line);
    if (lines.length > MAX_LINES) lines.shift();
    onLine();
  };
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) push(part.replace(/\r$/, ''));
  });
  stream.on('end', () => {
    if (partial !== '') push(partial);
    partial = '';
  });
}

function lineMatches(line: string, want: string | RegExp): boolean {
  return typeof want === 'string' ? line.trim() === want : want.test(line);
}

class ChildHandle implements ManagedProcess {
  readonly pid: number;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
  #lineWaiters = new Set<() => void>();

  constructor(child: ChildProcess, pid: number) {
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        child.stdin?.destroy();
        resolve(this.exitStatus);
        this.#notify();
      });
    });
    const notify = () => this.#notify();
    collectLines(child.stdout, this.stdout, notify);
    collectLines(child.stderr, this.stderr, notify);
  }

  #notify() {
    for (const waiter of this.#lineWaiters) waiter();
  }

  /** onOutput calls fn on each new line or exit until the returned function is called. */
  onOutput(fn: () => void): () => void {
    this.#lineWaiters.add(fn);
    return () => this.#lineWaiters.delete(fn);
  }

  #signal(signal: NodeJS.Signals) {
    if (this.exitStatus) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    this.#signal(signal);
    const timer = sleep(graceMs, undefined, { ref: false });
    const status = await Promise.race([this.exited, timer]);
    if (status) return status;
    return this.kill();
  }

  async kill(): Promise<ExitStatus> {
    this.#signal('SIGKILL');
    return this.exited;
  }

  /** killNow sends SIGKILL synchronously, for process-exit handlers. */
  killNow() {
    try {
      this.#signal('SIGKILL');
    } catch {
      // the process is gone or not ours to signal: nothing left to do
    }
  }

  /** describe summarises the process for error messages. */
  describe(): string {
    const tail = (lines: string[]) => lines.slice(-20).join('\n');
    const status = this.exitStatus
      ? ` exited (code ${this.exitStatus.code}, signal ${this.exitStatus.signal})`
      : '';
    return `pid ${this.pid}${status}\nstdout:\n${tail(this.stdout)}\nstderr:\n${tail(this.stderr)}`;
  }
}

async function waitReady(
  handle: ChildHandle,
  readyLine: string | RegExp | undefined,
  readyUrl: string | undefined,
  deadline: number,
): Promise<void> {
  if (readyLine !== undefined) {
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (handle.stdout.some((line) => lineMatches(line, readyLine))) {
          done();
          resolve();
        } else if (handle.exitStatus) {
          done();
          reject(new Error(`exited before printing ${String(readyLine)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${String(readyLine)} line within the timeout`));
      }, deadline - Date.now());
      const unsubscribe = handle.onOutput(check);
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
      };
      check();
    });
  }
  if (readyUrl !== undefined) {
    await waitFor(
      async () => {
        if (handle.exitStatus) throw new Error(`exited before ${readyUrl} answered`);
        const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.ok;
      },
      { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 50, message: readyUrl },
    );
  }
}

/**
 * startProcess spawns `cmd args` (no shell), collects its output lines and resolves
 * once it is ready per `readyLine`/`readyUrl` (at once when neither is given). When it
 * does not become ready in time, or exits first, it is killed and the promise rejects
 * with its output. Its stdin stays open as a pipe, so a child that exits when stdin
 * closes also dies when this process does.
 */
export async function startProcess(
  cmd: string,
  args: readonly string[],
  options: StartProcessOptions = {},
): Promise<ManagedProcess> {
  const { env, cwd, readyLine, readyUrl, timeoutMs = 30_000, registry } = options;
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${cmd}: ${err.message}`);
  }
  child.on('error', () => {
    // errors after spawn (e.g. signalling an exited child) surface through `exited`
  });
  child.stdin?.on('error', () => {
    // EPIPE when the child exits first: nothing to do
  });
  const handle = new ChildHandle(child, pid);
  registry?.add(handle);
  try {
    await waitReady(handle, readyLine, readyUrl, Date.now() + timeoutMs);
  } catch (err) {
    await handle.kill();
    throw new Error(`${cmd} not ready: ${(err as Error).message}\n${handle.describe()}`, {
      cause: err,
    });
  }
  return handle;
}

/**
 * ProcessRegistry tracks started processes so that one call stops them all; while it
 * holds running processes it also SIGKILLs them if this Node process exits abruptly.
 */
export class ProcessRegistry {
  #procs = new Set<ManagedProcess>();
  #onExit = () => {
    for (const proc of this.#procs) {
      if (proc instanceof ChildHandle) proc.killNow();
    }
  };

  /** ProcessRegistry.add tracks `proc` until it exits. */
  add(proc: ManagedProcess): void {
    if (this.#procs.size === 0) process.on('exit', this.#onExit);
    this.#procs.add(proc);
    void proc.exited.then(() => this.#forget(proc));
  }

  #forget(proc: ManagedProcess) {
    this.#procs.delete(proc);
    if (this.#procs.size === 0) process.off('exit', this.#onExit);
  }

  /** ProcessRegistry.size is the number of tracked processes still running. */
  get size(): number {
    return this.#procs.size;
  }

  /** ProcessRegistry.stopAll stops every tracked process (SIGTERM, then SIGKILL). */
  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all([...this.#procs].map((proc) => proc.stop('SIGTERM', graceMs)));
  }
}

/** AfterHook is anything with node:test's `after` shape, e.g. a test's context `t`. */
export interface AfterHook {
  after(fn: () => Promise<void>): void;
}

/**
 * cleanupAfter returns a registry whose processes are stopped after the current suite
 * (node:test `after`) or, given a test context `t`, after that test, pass or fail.
 */
export function cleanupAfter(t?: AfterHook): ProcessRegistry {
  const registry = new ProcessRegistry();
  const stop = () => registry.stopAll();
  if (t) t.after(stop);
  else after(stop);
  return registry;
}

/**
 * Ports are drawn below Linux's ephemeral range (32768–60999 by default): a port
 * the OS handed out for `listen(0)` and then released can be taken a moment later
 * by some process's outgoing connection, before our child binds it.
 */
const portRange = { min: 15_000, max: 32_000 };

function listenOn(server: Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const onError = () => resolve(false);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(true);
    });
  });
}

/**
 * freePorts returns `count` distinct TCP ports that were free on `host` (default
 * 127.0.0.1) a moment ago, drawn at random from outside the ephemeral range: all
 * are held open together, then released.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > 10_000) throw new Error(`no ${count} free ports found on ${host}`);
      const port = portRange.min + Math.floor(Math.random() * (portRange.max - portRange.min));
      if (ports.includes(port)) continue;
      const server = createServer();
      if (await listenOn(server, port, host)) {
        servers.push(server);
        ports.push(port);
      }
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

/** freePort returns a TCP port that was free on `host` (default 127.0.0.1) a moment ago. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}

/**
 * consecutivePorts returns the first of `count` consecutive TCP ports that were all free
 * on 127.0.0.1 a moment ago (the peer ports of `peercache node --workers`).
 */
export async function consecutivePorts(count: number): Promise<number> {
  for (;;) {
    const [base] = (await freePorts(1)) as [number];
    const servers: Server[] = [];
    let free = true;
    for (let i = 0; i < count && free; i++) {
      const s = createServer();
      free = await listenOn(s, base + i, '127.0.0.1');
      if (free) servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (free) return base;
  }
}

/** WaitForOptions configure {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. Default: 5000. */
  timeoutMs?: number;
  /** Pause between tries. Default: 25. */
  intervalMs?: number;
  /** Named in the timeout error. Default: none. */
  message?: string;
}

/**
 * waitFor calls `predicate` until it returns (or resolves to) a truthy value and
 * resolves with that value. A throwing predicate counts as not yet; after `timeoutMs`
 * it rejects, naming the last error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 5000, intervalMs = 25, message } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const what = message ? `: ${message}` : '';
  const why = lastError === undefined ? '' : `; last error: ${(lastError as Error).message}`;
  throw new Error(`waitFor timed out after ${timeoutMs} ms${what}${why}`);
}

/**
 * within resolves as `p` does, or rejects naming `what` if `p` has not settled in
 * `ms`: a bound on a hang, so that a broken test fails rather than stalls (not a
 * timing assertion).
 */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, bound]);
  } finally {
    clearTimeout(timer);
  }
}
