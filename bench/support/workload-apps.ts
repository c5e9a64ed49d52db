// workload-apps.ts: the four ways the workload benchmark's app processes use a cache, each
// as its documentation recommends: cache-aside on Redis with ioredis, bentocache (memory
// L1, Redis L2, Redis bus), a peercache cluster of the app processes over tcp, and
// peercache client-only nodes of a `peercache node` cluster. Every write updates the
// database first, then the cache.
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';
import type { Group } from '../../src/core/group.js';
import { createNode } from '../../src/node/node.js';
import { tcpTransport } from '../../src/transport/tcp/index.js';
import type { WorkloadDbClient } from './workload-db.js';
import {
  encodeValue,
  HEAD_CHARS,
  keyIndex,
  type ValueVersion,
  valueVersion,
  workloadKey,
} from './workload-values.js';

/** SystemName names a measured system. */
export type SystemName = 'redis' | 'bentocache' | 'peercache' | 'peercache-hot' | 'gateway';

/** SYSTEM_LABELS are the systems' names in tables and charts. */
export const SYSTEM_LABELS: Record<SystemName, string> = {
  redis: '(a) ioredis cache-aside',
  bentocache: '(b) bentocache L1+L2+bus',
  peercache: '(c) peercache cluster (tcp)',
  'peercache-hot': '(c′) the same, hotCacheChance 1',
  gateway: '(d) peercache client-only → 3 nodes',
};

/** WORKLOAD_GROUP is the peercache group of the workload. */
export const WORKLOAD_GROUP = 'workload';

/** App is one process's use of its cache: a get, a write, and shutting down. */
export interface App {
  /**
   * App.get gets the value of key `i` (loading it from the database on a miss) and
   * returns the version it carries, read from the value as the cache returned it.
   */
  get(i: number): Promise<ValueVersion>;
  /** App.write updates key `i` in the database, then the cache; resolves with the version written. */
  write(i: number): Promise<number>;
  /** App.close releases the cache's connections and servers. */
  close(): Promise<void>;
  /** App.counters, where the cache keeps counters, are its counts since the process started. */
  counters?(): Record<string, number>;
}

/** AppConfig is what an app process needs to build its {@link App}. */
export interface AppConfig {
  system: SystemName;
  /** Number of keys of the workload. */
  keys: number;
  /** Time to live of every cached value, in ms. */
  ttlMs: number;
  /** The budget of each in-process cache, in bytes. */
  cacheBytes: number;
  /** The Redis port, for `redis` and `bentocache`. */
  redisPort?: number;
  /** This process's peer URL, for `peercache`. */
  self?: string;
  /** Every member's peer URL, for `peercache` and `gateway`. */
  peers?: string[];
}

/**
 * redisApp: cache-aside. A get reads Redis; on a miss it reads the database and SETs
 * the value with the TTL. A write updates the database, then DELs the key, so the
 * next get loads the new version.
 */
async function redisApp(config: AppConfig, db: WorkloadDbClient): Promise<App> {
  const redis = new Redis({ host: '127.0.0.1', port: config.redisPort!, lazyConnect: true });
  await redis.connect();
  return {
    async get(i) {
      const key = workloadKey(i);
      const hit = await redis.getBuffer(key);
      if (hit !== null) return valueVersion(i, hit.length, hit.toString('latin1', 0, HEAD_CHARS));
      const version = await db.read(i);
      await redis.set(key, encodeValue(i, version), 'PX', config.ttlMs);
      return { version, written: false };
    },
    async write(i) {
      const version = await db.write(i);
      await redis.del(workloadKey(i));
      return version;
    },
    async close() {
      redis.disconnect();
    },
  };
}

/**
 * bentoApp: `getOrSet` over a memory L1 (holding every key), a Redis L2 and a Redis
 * bus that tells the other processes to drop their L1 copy of a key written here. A
 * write updates the database, then `set`s the new value (L1, L2 and the bus).
 */
async function bentoApp(config: AppConfig, db: WorkloadDbClient): Promise<App> {
  const connection = { host: '127.0.0.1', port: config.redisPort! };
  const bento = new BentoCache({
    default: 'multitier',
    ttl: config.ttlMs,
    stores: {
      multitier: bentostore()
        .useL1Layer(memoryDriver({ maxSize: config.cacheBytes, maxItems: config.keys }))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
  return {
    async get(i) {
      const value = await bento.getOrSet({
        key: workloadKey(i),
        factory: async () => encodeValue(i, await db.read(i)),
      });
      return valueVersion(i, value.length, value.slice(0, HEAD_CHARS));
    },
    async write(i) {
      const version = await db.write(i);
      await bento.set({ key: workloadKey(i), value: encodeValue(i, version, 'write') });
      return version;
    },
    close: () => bento.disconnectAll(),
  };
}

/**
 * peercacheApp: this process is a member of a peercache cluster of the app processes
 * over tcp; the loader reads the database. A write updates the database, then
 * `group.set`s the new value (stored at the owner, dropped elsewhere). The hot cache
 * keeps one value in ten fetched from owners (the default), or with `hotCacheChance`
 * 1 every one.
 */
async function peercacheApp(
  config: AppConfig,
  db: WorkloadDbClient,
  hotCacheChance: number,
): Promise<App> {
  const node = createNode({
    self: config.self!,
    peers: config.peers!,
    transport: tcpTransport(),
    ring: 'balanced',
  });
  const group = node.newGroup(WORKLOAD_GROUP, {
    cacheBytes: config.cacheBytes,
    ttlMs: config.ttlMs,
    hotCacheChance,
    load: async (key) => {
      const i = keyIndex(key);
      return encodeValue(i, await db.read(i));
    },
  });
  await node.listen();
  return peercacheWrites(group, db, config.ttlMs, () => node.close());
}

/**
 * gatewayApp: this process is a client-only node (`member: false`) of a cluster of
 * `peercache node` processes over tcp, which load from the database themselves. Like
 * `peercache gateway` it caches nothing (`cacheBytes: 0`): client-only nodes are not on
 * the ring, so writes through other processes would not reach a copy kept here.
 */
async function gatewayApp(config: AppConfig, db: WorkloadDbClient): Promise<App> {
  const node = createNode({
    member: false,
    peers: config.peers!,
    transport: tcpTransport(),
    ring: 'balanced',
  });
  const group = node.newGroup(WORKLOAD_GROUP, {
    cacheBytes: 0,
    ttlMs: config.ttlMs,
    load: () => {
      throw new Error('a client-only node never loads');
    },
  });
  await node.start();
  return peercacheWrites(group, db, config.ttlMs, () => node.close());
}

/** peercacheWrites is the App of a peercache group: get, and database-then-`set` writes. */
function peercacheWrites(
  group: Group,
  db: WorkloadDbClient,
  ttlMs: number,
  close: () => Promise<void>,
): App {
  return {
    async get(i) {
      const view = await group.get(workloadKey(i));
      return valueVersion(i, view.length, view.slice(0, HEAD_CHARS).toString());
    },
    async write(i) {
      const version = await db.write(i);
      await group.set(workloadKey(i), encodeValue(i, version, 'write'), { ttlMs });
      return version;
    },
    close,
    counters() {
      const { gets, cacheHits, peerLoads, localLoads, serverRequests } = group.stats;
      const main = group.cacheStats('main');
      const hot = group.cacheStats('hot');
      return {
        gets,
        cacheHits,
        mainHits: main.hits,
        hotHits: hot.hits,
        hotItems: hot.items,
        peerLoads,
        localLoads,
        serverRequests,
      };
    },
  };
}

/** createApp builds the {@link App} of `config.system`, reading the database through `db`. */
export function createApp(config: AppConfig, db: WorkloadDbClient): Promise<App> {
  switch (config.system) {
    case 'redis':
      return redisApp(config, db);
    case 'bentocache':
      return bentoApp(config, db);
    case 'peercache':
      return peercacheApp(config, db, 0.1);
    case 'peercache-hot':
      return peercacheApp(config, db, 1);
    case 'gateway':
      return gatewayApp(config, db);
  }
}
