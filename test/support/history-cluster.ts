// history-cluster.ts: runs a recorded history against three in-process CacheNodes on
// loopback — a writer setting and removing keys through random nodes while readers on
// every node get them and a slow loader races both — and checks it.
import { setTimeout as sleep } from 'node:timers/promises';
import { type CacheNode, createNode } from '../../src/node/node.js';
import { tcpTransport } from '../../src/transport/tcp/transport.js';
import { type CheckResult, checkHistory, History } from './history.js';
import { freePorts } from './process.js';
import { seeded } from './seeded.js';

/** HistoryRunOptions shape one run. */
export interface HistoryRunOptions {
  /** The peer protocol between the nodes. */
  transport: 'http' | 'tcp';
  /** Number of set and remove operations the writer does, one after the other. */
  writes: number;
  /** Keys the operations spread over; few, so that writes, reads and loads collide. */
  keys: number;
  /** Readers on each node, each getting random keys until the writer is done. */
  readersPerNode: number;
  /** The group's ttl, for loaded and set values alike, in ms. */
  ttlMs: number;
  /** Each load waits a random time up to this, in ms. */
  maxLoadMs: number;
  /** Seed of the run's random choices (keys, nodes, delays). */
  seed: number;
}

/** HistoryRun is the checked history and what the nodes counted. */
export interface HistoryRun {
  history: History;
  result: CheckResult;
  /** Values fetched from owners, summed over the nodes. */
  peerLoads: number;
  /** Runs of the loader, summed over the nodes. */
  localLoads: number;
}

/** runHistory starts the nodes, runs the writer and the readers, stops the nodes and checks. */
export async function runHistory(o: HistoryRunOptions): Promise<HistoryRun> {
  const random = seeded(o.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const history = new History();
  const ports = await freePorts(3);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const nodes: CacheNode[] = urls.map((self, i) => {
    const node = createNode({
      self,
      peers: urls,
      ...(o.transport === 'tcp' ? { transport: tcpTransport() } : {}),
    });
    node.newGroup('h', {
      cacheBytes: 1 << 20,
      ttlMs: o.ttlMs,
      hotCacheChance: 1,
      load: async (key) => {
        const value = history.load(key, i);
        await sleep(random() * o.maxLoadMs);
        return value;
      },
    });
    return node;
  });
  try {
    await Promise.all(nodes.map((n) => n.listen()));
    const groups = nodes.map((n) => n.getGroup('h')!);
    const keys = Array.from({ length: o.keys }, (_, i) => `key-${i}`);
    const indexes = groups.map((_, i) => i);
    let writing = true;

    const writer = async () => {
      for (let i = 0; i < o.writes; i++) {
        const key = pick(keys);
        const at = pick(indexes);
        const group = groups[at]!;
        if (random() < 0.5) {
          const value = `set:${key}:${i}`;
          await history.write(key, value, at, () => group.set(key, value));
        } else {
          await history.write(key, undefined, at, () => group.remove(key));
        }
        // Now and then give loads time to end, so some end before the next write.
        if (random() < 0.2) await sleep(random() * o.maxLoadMs);
      }
      writing = false;
    };
    const reader = async (at: number) => {
      const group = groups[at]!;
      while (writing) {
        const key = pick(keys);
        await history.read(key, at, async () => (await group.get(key)).toString());
        // A turn of the event loop between reads, so the writer and the peers progress.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all([
      writer(),
      ...indexes.flatMap((at) => Array.from({ length: o.readersPerNode }, () => reader(at))),
    ]);
    const stats = groups.map((g) => g.stats);
    return {
      history,
      result: checkHistory(history),
      peerLoads: stats.reduce((s, x) => s + x.peerLoads, 0),
      localLoads: stats.reduce((s, x) => s + x.localLoads, 0),
    };
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}
