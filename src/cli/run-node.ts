// run-node.ts: `peercache node`, the wiring of flags to a running node: loader,
// groups, peer server, API server, logs and signals.
import type { AddressInfo } from 'node:net';
import { type Logger as PinoLogger, pino } from 'pino';
import { type ApiServer, startApiServer } from '../api/server.js';
import type { LoadFn } from '../core/group.js';
import { importLoader } from '../loaders/module.js';
import { createOriginLoader } from '../loaders/origin.js';
import { createScoresLoader } from '../loaders/scores.js';
import { type CacheNode, createNode } from '../node/node.js';
import type { LogLevel, NodeConfig } from './args.js';

/** RunningNode is a started node with its peer server and, if asked for, its API. */
export interface RunningNode {
  node: CacheNode;
  /** Where the peer server listens. */
  address: AddressInfo;
  /** The API server, when the config has `api`. */
  api: ApiServer | undefined;
  /** close stops the API, then the node, then the loader's connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * createLogger returns the CLI's pino logger: JSON lines on stderr (fd 2),
 * written synchronously so nothing is lost at exit.
 */
export function createLogger(level: LogLevel): PinoLogger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/**
 * startNode builds what `config` describes and starts listening: the loader,
 * the node and its groups, the peer server, then the API server. On failure it
 * closes whatever it had started and rethrows.
 */
export async function startNode(config: NodeConfig, logger: PinoLogger): Promise<RunningNode> {
  let load: LoadFn;
  let closeLoader = async () => {};
  switch (config.loader.kind) {
    case 'module':
      load = await importLoader(config.loader.module);
      break;
    case 'origin': {
      const origin = createOriginLoader(config.loader.url);
      load = origin.load;
      closeLoader = () => origin.close();
      break;
    }
    default:
      load = createScoresLoader();
  }
  const node = createNode({
    self: config.self,
    peers: config.peers,
    listen: config.listen,
    replicas: config.replicas,
    basePath: config.basePath,
    logger,
  });
  let api: ApiServer | undefined;
  try {
    for (const g of config.groups) node.newGroup(g.name, { cacheBytes: g.cacheBytes, load });
    const address = await node.listen();
    if (config.api) api = await startApiServer(node, config.api.host, config.api.port, { logger });
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        await api?.close();
        await node.close();
        await closeLoader();
      })();
      return closing;
    };
    return { node, address, api, close };
  } catch (err) {
    await api?.close();
    await node.close();
    await closeLoader();
    throw err;
  }
}

/** RunIo is where {@link runNode} writes its ready line and startup errors. */
export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * runNode runs `peercache node` until SIGINT or SIGTERM (or, when started with
 * an IPC channel as the demo does, until that channel closes), then shuts down
 * gracefully and resolves with the exit code: 0 after a clean shutdown, 1 when
 * the node could not start or failed to close. A second signal during shutdown
 * exits the process at once (128 + the signal's number). Once both listeners
 * are up it writes `ready <self>` to stdout; logs go to stderr.
 */
export async function runNode(
  config: NodeConfig,
  io: RunIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const logger = createLogger(config.logLevel);
  let running: RunningNode;
  try {
    running = await startNode(config, logger);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: message }, 'cannot start');
    io.stderr.write(`peercache: cannot start: ${message}\n`);
    return 1;
  }
  const { address, api } = running;
  logger.info(
    {
      self: config.self,
      listen: `${address.address}:${address.port}`,
      peers: running.node.peers().peers,
      groups: config.groups,
      loader: config.loader,
      api: api?.url ?? null,
    },
    'started',
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping && why === 'disconnect') return;
      if (stopping) {
        logger.warn({ signal: why }, 'second signal: exiting now');
        process.exit(128 + (signalNumbers[why] ?? 1));
      }
      stopping = true;
      logger.info({ signal: why }, 'shutting down');
      running.close().then(
        () => {
          logger.info({ self: config.self }, 'stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error(
            { err: err instanceof Error ? err.message : String(err) },
            'shutdown failed',
          );
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // Started by `peercache demo` with an IPC channel: stop when the parent goes away.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', () => stop('disconnect'));
    }
    io.stdout.write(`ready ${config.self}\n`);
  });
}
