// run-gateway.ts: `peercache gateway`, a client-only node behind the HTTP API: it
// follows the membership, owns no keys, caches nothing, and asks each key's owner.
import type { Logger as PinoLogger } from 'pino';
import { type ApiServer, startApiServer } from '../api/server.js';
import { type CacheNode, createNode } from '../node/node.js';
import type { GatewayConfig } from './args.js';
import { createLogger, type RunIo, runUntilStopped, version } from './lifecycle.js';
import {
  apiTlsOf,
  gatewayCertificateProblems,
  gatewayNodeOptions,
  membershipOf,
  readPeerTls,
  warnOpenDoors,
  warnSecretFlags,
} from './wiring.js';

/** RunningGateway is a started gateway: its client-only node and its API. */
export interface RunningGateway {
  node: CacheNode;
  api: ApiServer;
  /** close stops the API, then the node (and its etcd watch). Idempotent. */
  close(): Promise<void>;
}

/**
 * startGateway builds a client-only node (`member: false`): never on a ring,
 * never registered in etcd (its etcd membership has no `self`, so it only
 * watches), with one group per name, each caching nothing (`cacheBytes: 0`:
 * a gateway is not told of invalidations, so any copy could go stale). With
 * `--peers` and `--etcd`, the peers seed the ring until etcd answers. It starts
 * the membership, then the API. Its groups have no loader: a get goes to the key's
 * owner, or its fallback owner while the owner cannot be reached, and fails with
 * UnavailableError when neither answers. On failure it closes what it started and rethrows.
 */
export async function startGateway(
  config: GatewayConfig,
  logger: PinoLogger,
): Promise<RunningGateway> {
  warnSecretFlags(logger, config.secretFlags);
  // An expired certificate, or a key of another, is refused here (CertificateError).
  const tls = await readPeerTls(config.tls);
  // A gateway serves no peers: its certificate is a client's (and the API's, with --api-tls).
  for (const problem of gatewayCertificateProblems(config, tls)) {
    logger.warn({ code: problem.code }, `peer TLS: ${problem.message}`);
  }
  const membership = await membershipOf(config, undefined, logger, version());
  let node: CacheNode;
  try {
    node = createNode(gatewayNodeOptions(config, tls, membership, logger));
  } catch (err) {
    await membership?.close();
    throw err;
  }
  let api: ApiServer | undefined;
  try {
    if (config.peers.length > 0) node.setPeers(config.peers, 'static');
    // No loader: a client-only node never loads. A key whose owner and fallback owner
    // cannot be reached fails with UnavailableError (503 on the API).
    for (const name of config.groups) node.newGroup(name, { cacheBytes: 0 });
    await node.start();
    api = await startApiServer(node, config.api.host, config.api.port, {
      logger,
      token: config.apiToken,
      tls: apiTlsOf(config, tls),
      ...config.limits.api,
    });
    warnOpenDoors(logger, [
      {
        what: 'API',
        address: api.address,
        guarded: config.apiTls || config.apiToken !== undefined,
      },
    ]);
    const started = api;
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        await started.close();
        await node.close();
      })();
      return closing;
    };
    return { node, api, close };
  } catch (err) {
    await api?.close();
    await node.close();
    throw err;
  }
}

/**
 * runGateway runs `peercache gateway` until SIGINT or SIGTERM and resolves with
 * the exit code (as `peercache node` does). Once the API listens it writes
 * `ready <API URL>` to stdout; logs go to stderr.
 */
export function runGateway(
  config: GatewayConfig,
  io: RunIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const log = createLogger(config.logLevel);
  const { logger } = log;
  return runUntilStopped(
    log,
    io,
    () => startGateway(config, logger),
    ({ node, api }) => {
      logger.info(
        {
          api: api.url,
          transport: config.transport,
          tls: config.tls !== undefined,
          peerSecret: config.peerSecret !== undefined,
          peers: node.peers().peers,
          etcd: config.etcd?.endpoints ?? null,
          dns: config.dns?.name ?? null,
          groups: config.groups,
        },
        'gateway started',
      );
      return api.url;
    },
    'api',
  );
}
