// cli.ts: running the `peercache` command from the sources in tests, and reading the
// JSON log lines a node writes on stderr.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ManagedProcess } from './process.js';

/** REPO_ROOT is the repository's root, where the CLI runs from. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** CLI_ARGS are node's arguments that run the CLI from the sources. */
export const CLI_ARGS = ['--import', 'tsx', 'src/cli/main.ts'];

/** CliRun is how one run of the CLI ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * runCli runs the CLI with `args` to its end (killed after 30 s) and resolves with its
 * exit code and output. `env` is laid over this process's environment.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** jsonLogs parses the JSON log lines a node has written on stderr so far. */
export function jsonLogs(proc: ManagedProcess): Record<string, unknown>[] {
  return proc.stderr
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
