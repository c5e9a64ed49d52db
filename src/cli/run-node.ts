// run-node.ts: `peercache node`, the wiring of flags to a running node: loader,
// groups, peer transport and security, membership, peer server, API server.
import type { AddressInfo } from 'node:net';
import type { Logger as PinoLogger } from 'pino';
import { type ApiServer, startApiServer } from '../api/server.js';
import type { LoadFn } from '../core/group.js';
import { importLoader } from '../loaders/module.js';
import { createOriginLoader } from '../loaders/origin.js';
import { createScoresLoader } from '../loaders/scores.js';
import type { Membership } from '../membership/membership.js';
import { type CacheNode, createNode } from '../node/node.js';
import type { NodeConfig } from './args.js';
import { createLogger, type RunIo, runUntilStopped, version } from './lifecycle.js';
import {
  apiTlsOf,
  memberNodeOptions,
  membershipOf,
  readPeerTls,
  warnOpenDoors,
  warnSecretFlags,
} from './wiring.js';

export { createLogger, type RunIo } from './lifecycle.js';

/** RunningNode is a started node with its peer server and, if asked for, its API. */
export interface RunningNode {
  node: CacheNode;
  /** Where the peer server listens. */
  address: AddressInfo;
  /** The API server, when the config has `api`. */
  api: ApiServer | undefined;
  /** close stops the API, then the node (leaving etcd), then the loader's connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * startNode builds what `config` describes and starts listening: it reads the
 * TLS files, builds the loader, the node (its transport, membership and
 * groups), starts the peer server (then the membership: with `--etcd` the node
 * registers), then the API server. It warns about secrets given as flags and
 * about servers open beyond loopback. On failure it closes whatever it had
 * started and rethrows (with `--fail-fast`, an unreachable etcd is a failure).
 */
export async function startNode(config: NodeConfig, logger: PinoLogger): Promise<RunningNode> {
  warnSecretFlags(logger, config.secretFlags);
  const tls = await readPeerTls(config.tls);
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
  let membership: Membership | undefined;
  let node: CacheNode;
  try {
    membership = await membershipOf(config, config.self, logger, version());
    node = createNode(memberNodeOptions(config, tls, membership, logger));
  } catch (err) {
    await membership?.close();
    await closeLoader();
    throw err;
  }
  let api: ApiServer | undefined;
  try {
    for (const g of config.groups) node.newGroup(g.name, { cacheBytes: g.cacheBytes, load });
    const address = await node.listen();
    if (config.api) {
      api = await startApiServer(node, config.api.host, config.api.port, {
        logger,
        token: config.apiToken,
        tls: apiTlsOf(config, tls),
        ...config.limits.api,
      });
    }
    warnOpenDoors(logger, [
      {
        what: 'peer server',
        address,
        guarded: tls?.cert !== undefined || config.peerSecret !== undefined,
      },
      ...(api
        ? [
            {
              what: 'API' as const,
              address: api.address,
              guarded: config.apiTls || config.apiToken !== undefined,
            },
          ]
        : []),
    ]);
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

/**
 * runNode runs `peercache node` until SIGINT or SIGTERM (see
 * {@link runUntilStopped}) and resolves with the exit code. Once the peer
 * server and the API are up it writes `ready <self>` to stdout; logs go to stderr.
 */
export function runNode(
  config: NodeConfig,
  io: RunIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const log = createLogger(config.logLevel);
  const { logger } = log;
  return runUntilStopped(
    log,
    io,
    () => startNode(config, logger),
    ({ node, address, api }) => {
      logger.info(
        {
          self: config.self,
          listen: `${address.address}:${address.port}`,
          transport: config.transport,
          tls: config.tls !== undefined,
          peerSecret: config.peerSecret !== undefined,
          peers: node.peers().peers,
          etcd: config.etcd?.endpoints ?? null,
          dns: config.dns?.name ?? null,
          groups: config.groups,
          loader: config.loader,
          api: api?.url ?? null,
        },
        'started',
      );
      return config.self;
    },
    'self',
  );
}
