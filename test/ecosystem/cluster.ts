// cluster.ts: a 3-node peercache cluster in this process over the tcp transport on loopback,
// each node with the Keyv store's group, for the ecosystem tests.

import { type CacheNode, createNode } from '../../src/node/node.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import { freePorts } from '../support/process.js';

/** startCluster starts `n` member nodes that know each other, listening on free loopback ports. */
export async function startCluster(n = 3): Promise<CacheNode[]> {
  const ports = await freePorts(n);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const nodes = urls.map((self) => createNode({ self, peers: urls, transport: tcpTransport() }));
  await Promise.all(nodes.map((node) => node.listen()));
  return nodes;
}

/** stopCluster closes every node. */
export async function stopCluster(nodes: readonly CacheNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.close()));
}
