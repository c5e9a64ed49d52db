// cli.ts: the `peercache` command: picks the subcommand, prints help, version and
// usage errors, and returns the exit code.
import { readFileSync } from 'node:fs';
import { parseDemoArgs, parseNodeArgs, UsageError } from './args.js';
import { runDemo } from './demo.js';
import { DEMO_HELP, MAIN_HELP, NODE_HELP } from './help.js';
import { type RunIo, runNode } from './run-node.js';

/** version returns peercache's version, from its package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

/**
 * runCli runs `peercache` with `argv` (the arguments after the executable and
 * script) and resolves with the exit code: 0 for help, version and a clean
 * shutdown, 1 when a node or the demo fails, 2 for a bad command line (after a
 * one-line `peercache: <message> (see peercache ... --help)` on stderr).
 */
export async function runCli(
  argv: readonly string[],
  io: RunIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv;
  const usage = (message: string, help: string) => {
    io.stderr.write(`peercache: ${message} (see ${help})\n`);
    return 2;
  };
  try {
    switch (command) {
      case 'node': {
        const parsed = parseNodeArgs(rest);
        if (parsed.help) {
          io.stdout.write(NODE_HELP);
          return 0;
        }
        return await runNode(parsed.config, io);
      }
      case 'demo': {
        const parsed = parseDemoArgs(rest);
        if (parsed.help) {
          io.stdout.write(DEMO_HELP);
          return 0;
        }
        return await runDemo(parsed.config, io);
      }
      case '--help':
      case '-h':
      case 'help':
        io.stdout.write(MAIN_HELP);
        return 0;
      case '--version':
      case '-v':
        io.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
        return usage('missing command: node or demo', 'peercache --help');
      default:
        return usage(`unknown command ${JSON.stringify(command)}`, 'peercache --help');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      return usage(err.message, `peercache ${command} --help`);
    }
    throw err;
  }
}
