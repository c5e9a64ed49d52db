// remote.bench.ts: remote gets of 100-byte values cached at the owner, 64 in flight from
// one client process: `Group.get` on a client-only node through each peer transport (tcp,
// http, grpc) to a `peercache node` owner, and through http to a Go groupcache owner, side
// by side with ioredis GET on a local redis-server (the anchor); then latency at half of
// each one's maximum rate.
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Group } from '../src/core/group.js';
import { createNode } from '../src/node/node.js';
import { grpcTransport } from '../src/transport/grpc/index.js';
import { httpTransport } from '../src/transport/http/index.js';
import { tcpTransport } from '../src/transport/tcp/index.js';
import type { PeerTransport } from '../src/transport/transport.js';
import { goPeerBinary, startGoPeer } from '../test/support/gopeer.js';
import { freePort, ProcessRegistry, startProcess } from '../test/support/process.js';
import { stopOnInterrupt } from './support/interrupt.js';
import { type LoadResult, runLoad, runRate } from './support/load.js';
import { ensureRedisServer, startRedis } from './support/redis.js';
import { headline, times } from './support/report.js';
import { printRateTable, type RateRow } from './support/table.js';
import { VALUE_BYTES } from './support/value-loader.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOADER = 'bench/support/value-loader.ts';
const GROUP = 'bench';
const KEY_COUNT = 1000;
const IN_FLIGHT = 64;
const WARMUP_MS = 1500;
const MEASURE_MS = 5000;
const REDIS = 'ioredis GET → redis-server';

/**
 * Keys of 91 bytes: the Go owner's loader answers "value of " + key, so these
 * make its values 100 bytes too; every row uses the same keys.
 */
const keys = Array.from({ length: KEY_COUNT }, (_, i) =>
  `key:${i}:`.padEnd(VALUE_BYTES - 'value of '.length, 'k'),
);

const transports: Record<string, () => PeerTransport> = {
  tcp: () => tcpTransport(),
  http: () => httpTransport(),
  grpc: () => grpcTransport(),
};

/** aloneLabel names the row of a transport's client measured by itself, for reference. */
function aloneLabel(transport: string): string {
  return `peercache ${transport} client alone (no Group) → owner`;
}

/** Target is one thing measured: how to start it, get through it, and stop it. */
interface Target {
  name: string;
  get: (key: string) => Promise<unknown>;
  stop: () => Promise<void>;
}

/** Measured is a target's maximum rate and its latency at half that rate. */
interface Measured {
  max: LoadResult;
  half: LoadResult;
}

function logErrors(name: string, r: LoadResult): void {
  if (r.errors > 0) console.error(`${name}: ${r.errors} errors, first:`, r.firstError);
}

/** measure runs a discarded warm-up, the closed-loop maximum, then an open loop at half of it. */
async function measure(target: Target): Promise<Measured> {
  await runLoad(target.get, { keys, inFlight: IN_FLIGHT, durationMs: WARMUP_MS });
  const max = await runLoad(target.get, { keys, inFlight: IN_FLIGHT, durationMs: MEASURE_MS });
  logErrors(target.name, max);
  const half = await runRate(target.get, {
    keys,
    rate: max.opsPerSec / 2,
    durationMs: MEASURE_MS,
  });
  logErrors(`${target.name} at half rate`, half);
  return { max, half };
}

async function redisTarget(registry: ProcessRegistry): Promise<Target> {
  const server = await startRedis(registry);
  const redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  await redis.connect();
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.set(key, value);
  await pipeline.exec();
  const check = await redis.getBuffer(keys[0]!);
  if (check?.length !== VALUE_BYTES) throw new Error('setup: Redis did not store the values');
  return {
    name: REDIS,
    get: (key) => redis.getBuffer(key),
    async stop() {
      redis.disconnect();
      await server.process.stop();
    },
  };
}

/**
 * clientGroup is the measured client: a client-only node (never an owner) whose
 * one peer is `owner`, with the hot cache off so every get asks the owner.
 */
async function clientGroup(owner: string, transport: PeerTransport) {
  const node = createNode({ member: false, peers: [owner], transport });
  const group: Group = node.newGroup(GROUP, {
    cacheBytes: 64 << 20,
    hotCacheChance: 0,
    load: () => {
      throw new Error('the client must not load: every key is owned by the peer');
    },
  });
  await node.start();
  // Warm the owner's cache: every key loaded there once, so the measured gets are hits.
  for (let i = 0; i < keys.length; i += IN_FLIGHT) {
    const got = await Promise.all(keys.slice(i, i + IN_FLIGHT).map((k) => group.get(k)));
    if (got.some((v) => v.length !== VALUE_BYTES)) {
      throw new Error(`setup: the owner at ${owner} returned a value of the wrong size`);
    }
  }
  return { node, group };
}

/**
 * peercacheTarget starts a `peercache node` owner speaking `transport`. The
 * measured get is `Group.get` on a client-only node, or with `alone` the
 * transport's client by itself (no group, no singleflight, no signal).
 */
async function peercacheTarget(
  registry: ProcessRegistry,
  transport: string,
  alone = false,
): Promise<Target> {
  const port = await freePort();
  const self = `http://127.0.0.1:${port}`;
  const owner = await startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'node',
      '--self',
      self,
      '--transport',
      transport,
      '--group',
      `${GROUP}:256MiB`,
      '--loader',
      LOADER,
      '--log-level',
      'warn',
    ],
    { cwd: REPO_ROOT, readyLine: `ready ${self}`, registry },
  );
  const peerTransport = transports[transport]!();
  const { node, group } = await clientGroup(self, peerTransport);
  const client = peerTransport.client(self);
  return {
    name: alone ? aloneLabel(transport) : `peercache ${transport}: Group.get → owner`,
    get: alone ? (key) => client.get(GROUP, key) : (key) => group.get(key),
    async stop() {
      await node.close();
      await owner.stop();
    },
  };
}

async function goTarget(registry: ProcessRegistry): Promise<Target> {
  const self = `http://127.0.0.1:${await freePort()}`;
  const peer = await startGoPeer({ self, peers: [self], group: GROUP, registry });
  const { node, group } = await clientGroup(self, httpTransport());
  return {
    name: 'peercache http: Group.get → Go groupcache owner',
    get: (key) => group.get(key),
    async stop() {
      await node.close();
      await peer.stop();
    },
  };
}

/** run measures one target, stopping it whatever happens; a target that cannot start is skipped. */
async function run(
  start: () => Promise<Target>,
  name: string,
): Promise<Measured | { skipped: string }> {
  let target: Target;
  try {
    target = await start();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    console.error(`${name}: cannot start:`, err);
    return { skipped: err instanceof Error ? err.message : String(err) };
  }
  try {
    return await measure(target);
  } finally {
    await target.stop();
  }
}

async function main(): Promise<void> {
  const registry = stopOnInterrupt(new ProcessRegistry());

  const results = new Map<string, Measured | { skipped: string }>();
  try {
    const missing = ensureRedisServer();
    results.set(
      REDIS,
      missing ? { skipped: missing } : await run(() => redisTarget(registry), REDIS),
    );
    for (const name of Object.keys(transports)) {
      const label = `peercache ${name}: Group.get → owner`;
      results.set(label, await run(() => peercacheTarget(registry, name), label));
      if (name === 'tcp') {
        const alone = aloneLabel(name);
        results.set(alone, await run(() => peercacheTarget(registry, name, true), alone));
      }
    }
    const goLabel = 'peercache http: Group.get → Go groupcache owner';
    const go = await goPeerBinary().catch((err: unknown) => ({ skip: String(err) }));
    results.set(
      goLabel,
      typeof go === 'string' ? await run(() => goTarget(registry), goLabel) : { skipped: go.skip },
    );
  } finally {
    await registry.stopAll();
  }

  const rows: RateRow[] = [];
  const halfRows: RateRow[] = [];
  for (const [name, r] of results) {
    const vs = name === REDIS ? {} : { vs: REDIS };
    const target = name.startsWith('peercache tcp:') ? { target: 1 } : {};
    if ('skipped' in r) {
      rows.push({ name, skipped: r.skipped, ...vs });
      continue;
    }
    rows.push({
      name,
      opsPerSec: r.max.opsPerSec,
      p50Us: r.max.p50Us,
      p99Us: r.max.p99Us,
      errors: r.max.errors,
      ...vs,
      ...target,
    });
    halfRows.push({
      name,
      opsPerSec: r.half.opsPerSec,
      p50Us: r.half.p50Us,
      p99Us: r.half.p99Us,
      errors: r.half.errors,
    });
  }
  printRateTable(
    `Remote get: ${VALUE_BYTES} B values cached at the owner, hot cache off, ${IN_FLIGHT} in flight, ${MEASURE_MS / 1000} s each`,
    rows,
  );
  printRateTable('Latency at half of each one’s maximum rate (open loop)', halfRows);
  reportHeadlines(results);
}

function reportHeadlines(results: Map<string, Measured | { skipped: string }>): void {
  const redis = results.get(REDIS);
  const anchor = redis && !('skipped' in redis) ? redis : undefined;
  const us = (v: number) => `${Math.round(v)} µs`;
  for (const [name, r] of results) {
    if (name === REDIS || name.includes('client alone')) continue;
    const transport = name.startsWith('peercache tcp') ? 'tcp' : undefined;
    const item = name.includes('Go groupcache') ? 3 : 2;
    const label =
      item === 3
        ? 'Remote get, Go groupcache owner over http vs Redis'
        : `Remote get, ${name.split(':')[0]!.replace('peercache ', '')} vs Redis`;
    if ('skipped' in r || anchor === undefined) {
      headline({
        item,
        name: label,
        measured: `not measured (${'skipped' in r ? r.skipped : 'Redis not measured'})`,
        target: transport ? '≥ 1.0×' : '',
        met: transport ? false : undefined,
      });
      continue;
    }
    const ratio = r.max.opsPerSec / anchor.max.opsPerSec;
    headline({
      item,
      name: label,
      measured: `${times(ratio)} Redis`,
      target: transport ? '≥ 1.0×' : '',
      met: transport ? ratio >= 1 : undefined,
      chart: { ratio, target: transport ? 1 : undefined, higherIsBetter: true },
      note: `${Math.round(r.max.opsPerSec).toLocaleString('en-US')} vs ${Math.round(anchor.max.opsPerSec).toLocaleString('en-US')} gets/s`,
    });
    if (item === 2) {
      headline({
        item: 4,
        name: `Latency at half max rate, ${label.replace('Remote get, ', '').replace(' vs Redis', '')}`,
        measured: `p50 ${us(r.half.p50Us)}, p99 ${us(r.half.p99Us)}`,
        target: '',
        note: `Redis at its half rate: p50 ${us(anchor.half.p50Us)}, p99 ${us(anchor.half.p99Us)}`,
      });
    }
  }
}

await main();
