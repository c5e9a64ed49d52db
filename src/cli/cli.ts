// cli.ts: the `peercache` command: picks the subcommand, prints help, version and
// usage errors, and returns the exit code.
import { parseDemoArgs, parseGatewayArgs, parseNodeArgs, UsageError } from './args.js';
import { runDemo } from './demo.js';
import { checkGateway, checkNode, runDryRun } from './dry-run.js';
import type { Env } from './flags.js';
import { DEMO_HELP, GATEWAY_HELP, MAIN_HELP, NODE_HELP } from './help.js';
import { type RunIo, version } from './lifecycle.js';
import { runGateway } from './run-gateway.js';
import { runNode } from './run-node.js';

export { version } from './lifecycle.js';

/**
 * runCli runs `peercache` with `argv` (the arguments after the executable and
 * script) and resolves with the exit code: 0 for help, version and a clean
 * shutdown or a `--dry-run` that found the config sound, 1 when a node, gateway
 * or the demo fails, 2 for a bad command line (after a one-line `peercache:
 * <message> (see peercache ... --help)` on stderr) or a `--dry-run` that found
 * the config unusable. Secrets not given as flags are read from `env`.
 */
export async function runCli(
  argv: readonly string[],
  io: RunIo = { stdout: process.stdout, stderr: process.stderr },
  env: Env = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  const usage = (message: string, help: string) => {
    io.stderr.write(`peercache: ${message} (see ${help})\n`);
    return 2;
  };
  try {
    switch (command) {
      case 'node': {
        const parsed = parseNodeArgs(rest, env);
        if (parsed.help) {
          io.stdout.write(NODE_HELP);
          return 0;
        }
        const config = parsed.config;
        if (parsed.dryRun) return await runDryRun(() => checkNode(config), io);
        return await runNode(config, io);
      }
      case 'gateway': {
        const parsed = parseGatewayArgs(rest, env);
        if (parsed.help) {
          io.stdout.write(GATEWAY_HELP);
          return 0;
        }
        const config = parsed.config;
        if (parsed.dryRun) return await runDryRun(() => checkGateway(config), io);
        return await runGateway(config, io);
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
        return usage('missing command: node, gateway or demo', 'peercache --help');
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
