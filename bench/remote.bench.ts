// remote.bench.ts: remote gets of 100-byte values cached at the owner, 64 in flight from
// one client process: `Group.get` on a client-only node through each peer transport (tcp,
// http, grpc on its Exchange stream and with unary calls only) to a `peercache node` owner,
// and through http to a Go groupcache owner, side by side with ioredis GET on a local
// redis-server (the anchor, measured in rounds taken in turn with each); then latency at
// half of each one's maximum rate.
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { defaultRing } from '../src/cli/args.js';
import type { TransportName } from '../src/cli/cluster-args.js';
import type { Group } from '../src/core/group.js';
import { createNode } from '../src/node/node.js';
import type { RingKind } from '../src/ring/owner-ring.js';
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
/** Closed-loop rounds per target, and the length of each. */
const ROUNDS = 5;
const ROUND_MS = 1500;
/** Length of the open-loop run at half the maximum rate. */
const HALF_MS = 4000;
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
  // The same owner asked with unary calls only, as before the Exchange stream: for reference.
  'grpc-unary': () => grpcTransport({ stream: false }),
};

/**
 * `--transports=tcp,go` measures only those rows (names of {@link transports}, and `go`
 * for the Go owner), with Redis in the same rounds as always; default every one.
 */
const only = process.argv
  .find((a) => a.startsWith('--transports='))
  ?.slice('--transports='.length)
  .split(',');

function chosen(name: string): boolean {
  return only === undefined || only.includes(name);
}

/** wireOf is the owner's `--transport` for a client transport of {@link transports}. */
function wireOf(transport: string): string {
  return transport.replace(/-unary$/, '');
}

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
  /** The anchor's median rate in the rounds interleaved with this target's. */
  anchorOps?: number;
}

function logErrors(name: string, r: LoadResult): void {
  if (r.errors > 0) console.error(`${name}: ${r.errors} errors, first:`, r.firstError);
}

/** median is the round of median rate. */
function median(rounds: readonly LoadResult[]): LoadResult {
  const sorted = [...rounds].sort((x, y) => x.opsPerSec - y.opsPerSec);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * measurePair measures `target` side by side with `anchor`: a discarded warm-up
 * of each, then ROUNDS short closed-loop rounds of the two in turn (the order
 * swapped each round), so a slow spell of the machine falls on both; a maximum
 * is the median round. Then `target` alone in an open loop at half its maximum.
 * The anchor's rounds are appended to `anchorRounds`.
 */
async function measurePair(
  target: Target,
  anchor: Target | undefined,
  anchorRounds: LoadResult[],
): Promise<Measured> {
  const pair = anchor === undefined ? [target] : [target, anchor];
  for (const t of pair) await runLoad(t.get, { keys, inFlight: IN_FLIGHT, durationMs: WARMUP_MS });
  const mine: LoadResult[] = [];
  const theirs: LoadResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 === 0 ? pair : [...pair].reverse()) {
      const got = await runLoad(t.get, { keys, inFlight: IN_FLIGHT, durationMs: ROUND_MS });
      logErrors(t.name, got);
      (t === target ? mine : theirs).push(got);
    }
  }
  anchorRounds.push(...theirs);
  const max = median(mine);
  const half = await runRate(target.get, { keys, rate: max.opsPerSec / 2, durationMs: HALF_MS });
  logErrors(`${target.name} at half rate`, half);
  return { max, half, ...(theirs.length > 0 ? { anchorOps: median(theirs).opsPerSec } : {}) };
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
async function clientGroup(owner: string, transport: PeerTransport, ring: RingKind) {
  // The owner's ring: a `peercache node` runs its transport's default (balanced with tcp).
  const node = createNode({ member: false, peers: [owner], transport, ring });
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
      wireOf(transport),
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
  const { node, group } = await clientGroup(
    self,
    peerTransport,
    defaultRing(wireOf(transport) as TransportName),
  );
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
  const { node, group } = await clientGroup(self, httpTransport(), 'golang');
  return {
    name: 'peercache http: Group.get → Go groupcache owner',
    get: (key) => group.get(key),
    async stop() {
      await node.close();
      await peer.stop();
    },
  };
}

/** start starts one target; one that cannot start is skipped (outside CI). */
async function start(
  begin: () => Promise<Target>,
  name: string,
): Promise<Target | { name: string; skipped: string }> {
  try {
    return await begin();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    console.error(`${name}: cannot start:`, err);
    return { name, skipped: err instanceof Error ? err.message : String(err) };
  }
}

async function main(): Promise<void> {
  const registry = stopOnInterrupt(new ProcessRegistry());

  const results = new Map<string, Measured | { skipped: string }>();
  let redis: Target | undefined;
  try {
    const missing = ensureRedisServer();
    const anchor = missing
      ? { name: REDIS, skipped: missing }
      : await start(() => redisTarget(registry), REDIS);
    if ('skipped' in anchor) results.set(REDIS, anchor);
    else redis = anchor;
    const anchorRounds: LoadResult[] = [];
    const each = async (label: string, begin: () => Promise<Target>) => {
      const target = await start(begin, label);
      if ('skipped' in target) {
        results.set(label, target);
        return;
      }
      try {
        results.set(label, await measurePair(target, redis, anchorRounds));
      } finally {
        await target.stop();
      }
    };
    for (const name of Object.keys(transports)) {
      if (!chosen(name)) continue;
      await each(`peercache ${name}: Group.get → owner`, () => peercacheTarget(registry, name));
      if (name === 'tcp') await each(aloneLabel(name), () => peercacheTarget(registry, name, true));
    }
    const goLabel = 'peercache http: Group.get → Go groupcache owner';
    if (chosen('go')) {
      const go = await goPeerBinary().catch((err: unknown) => ({ skip: String(err) }));
      if (typeof go === 'string') await each(goLabel, () => goTarget(registry));
      else results.set(goLabel, { skipped: go.skip });
    }
    if (redis !== undefined && anchorRounds.length > 0) {
      const max = median(anchorRounds);
      const half = await runRate(redis.get, { keys, rate: max.opsPerSec / 2, durationMs: HALF_MS });
      results.set(REDIS, { max, half });
    }
  } finally {
    await redis?.stop();
    await registry.stopAll();
  }
  // The anchor first in the tables.
  const redisResult = results.get(REDIS);
  if (redisResult !== undefined) {
    results.delete(REDIS);
    const rest = [...results];
    results.clear();
    results.set(REDIS, redisResult);
    for (const [k, v] of rest) results.set(k, v);
  }

  const rows: RateRow[] = [];
  const halfRows: RateRow[] = [];
  for (const [name, r] of results) {
    const vs = name === REDIS ? {} : { vs: REDIS };
    const goal = remoteTarget(name);
    const target = goal === undefined ? {} : { target: goal };
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
      ...(r.anchorOps === undefined ? {} : { anchorOpsPerSec: r.anchorOps }),
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
    `Remote get: ${VALUE_BYTES} B values cached at the owner, hot cache off, ${IN_FLIGHT} in flight; median of ${ROUNDS} rounds of ${ROUND_MS / 1000} s, each interleaved with Redis`,
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
    const item = name.includes('Go groupcache') ? 3 : 2;
    const target = remoteTarget(name);
    const label =
      item === 3
        ? 'Remote get, Go groupcache owner over http vs Redis'
        : `Remote get, ${name.split(':')[0]!.replace('peercache ', '')} vs Redis`;
    if ('skipped' in r || anchor === undefined) {
      headline({
        item,
        name: label,
        measured: `not measured (${'skipped' in r ? r.skipped : 'Redis not measured'})`,
        target: target === undefined ? '' : `≥ ${target}×`,
        met: target === undefined ? undefined : false,
      });
      continue;
    }
    const anchorOps = r.anchorOps ?? anchor.max.opsPerSec;
    const ratio = r.max.opsPerSec / anchorOps;
    headline({
      item,
      name: label,
      measured: `${times(ratio)} Redis`,
      target: target === undefined ? '' : `≥ ${target}×`,
      met: target === undefined ? undefined : ratio >= target,
      chart: { ratio, target, higherIsBetter: true },
      note: `${Math.round(r.max.opsPerSec).toLocaleString('en-US')} vs ${Math.round(anchorOps).toLocaleString('en-US')} Redis GETs/s in the same rounds`,
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

/**
 * remoteTarget is the ratio to Redis a remote get must reach, per transport: tcp keeps
 * what it won (1.5×); gRPC over its stream 0.3× (ten times its unary calls' 0.03×);
 * HTTP twice the 0.12× (peercache owner) and 0.14× (Go owner) of its first client.
 */
function remoteTarget(name: string): number | undefined {
  if (name.startsWith('peercache grpc-unary')) return undefined;
  if (name.startsWith('peercache tcp')) return 1.5;
  if (name.startsWith('peercache grpc')) return 0.3;
  if (name.includes('Go groupcache')) return 0.28;
  if (name.startsWith('peercache http')) return 0.24;
  return undefined;
}

await main();
