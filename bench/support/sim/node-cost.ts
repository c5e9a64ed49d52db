// node-cost.ts: what one CacheNode costs at N peers (heap, setting up its ring and clients,
// applying one membership change), measured on a few nodes that are told of N members.
import { createNode } from '../../../src/node/node.js';
import { MemoryNetwork, memoryTransport } from '../../../src/transport/memory/index.js';
import type { RingKind } from './simulation.js';

/** NodeCost is the cost of one node at `peers` members. */
export interface NodeCost {
  peers: number;
  /** Heap per node (JS heap + array buffers) with the full member list, in bytes. */
  heapPerNode: number;
  /** Heap per peer client of one node: (heapPerNode − a bare node's) / (peers − 1). */
  heapPerPeer: number;
  /** ms one node took to take the full member list (ring and a client per peer). */
  setupMs: number;
  /** ms one node took to apply one more member (a ring rebuild, one client). */
  changeMs: number;
}

/**
 * nodeCost builds `sample` nodes on one MemoryNetwork and gives each the same
 * list of `peers` members (the sample plus members that never answer: a node
 * makes its ring and clients up front and dials nobody until a key needs it),
 * then adds one member. `heapBytes` measures the heap after a collection.
 * `ring` is passed to createNode as its ring kind.
 */
export async function nodeCost(
  peers: number,
  heapBytes: () => number,
  options: { sample?: number; ring?: RingKind | undefined } = {},
): Promise<NodeCost> {
  const sample = Math.min(options.sample ?? 8, peers);
  const network = new MemoryNetwork();
  const urls = Array.from({ length: peers }, (_, i) => `http://n${i}.sim:8001`);
  const make = (i: number) =>
    createNode({
      ...(options.ring !== undefined ? { ring: options.ring } : {}),
      self: urls[i],
      transport: memoryTransport(network),
    });
  const base = heapBytes();
  const nodes = Array.from({ length: sample }, (_, i) => make(i));
  const bare = (heapBytes() - base) / sample;
  let t = performance.now();
  for (const node of nodes) node.setPeers(urls, 'sim');
  const setupMs = (performance.now() - t) / sample;
  const heapPerNode = (heapBytes() - base) / sample;
  const more = [...urls, `http://n${peers}.sim:8001`];
  t = performance.now();
  for (const node of nodes) node.setPeers(more, 'sim');
  const changeMs = (performance.now() - t) / sample;
  await Promise.all(nodes.map((n) => n.close()));
  return {
    peers,
    heapPerNode,
    heapPerPeer: (heapPerNode - bare) / (peers - 1),
    setupMs,
    changeMs,
  };
}
