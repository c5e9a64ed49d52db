// remote.bench.ts: remote get throughput, 100-byte values cached at the owner, 64 in
// flight from this process: each peer transport (http, grpc, tcp) against an owner node
// in a child process, side by side with ioredis GET on a local redis-server (the anchor).
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { grpcTransport } from '../src/transport/grpc/index.js';
import { httpTransport } from '../src/transport/http/index.js';
import { tcpTransport } from '../src/transport/tcp/index.js';
import type { PeerTransport } from '../src/transport/transport.js';
import { freePort, ProcessRegistry, startProcess } from '../test/support/process.js';
import { type LoadResult, runLoad } from './support/load.js';
import { ensureRedisServer, startRedis } from './support/redis.js';
import { printRateTable, type RateRow } from './support/table.js';
import { VALUE_BYTES } from './support/value-loader.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOADER = 'bench/support/value-loader.ts';
const GROUP = 'bench';
const KEY_COUNT = 1000;
const IN_FLIGHT = 64;
const WARMUP_MS = 1000;
const MEASURE_MS = 5000;

const transports: Record<string, () => PeerTransport> = {
  http: () => httpTransport(),
  grpc: () => grpcTransport(),
  tcp: () => tcpTransport(),
};

function rowOf(name: string, r: LoadResult, extra: Partial<RateRow> = {}): RateRow {
  if (r.errors > 0) console.error(`${name}: ${r.errors} errors, first:`, r.firstError);
  return {
    name,
    opsPerSec: r.opsPerSec,
    p50Us: r.p50Us,
    p99Us: r.p99Us,
    errors: r.errors,
    ...extra,
  };
}

/** measureLoad runs a discarded warm-up, then the measured run, of `request`. */
async function measureLoad(request: (key: string) => Promise<unknown>, keys: string[]) {
  await runLoad(request, { keys, inFlight: IN_FLIGHT, durationMs: WARMUP_MS });
  return runLoad(request, { keys, inFlight: IN_FLIGHT, durationMs: MEASURE_MS });
}

async function benchRedis(registry: ProcessRegistry, keys: string[]): Promise<RateRow> {
  const name = 'ioredis GET → redis-server';
  const missing = ensureRedisServer();
  if (missing) {
    console.log(`skipping Redis: ${missing}`);
    return { name, skipped: missing };
  }
  const server = await startRedis(registry);
  const redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  try {
    await redis.connect();
    const value = Buffer.alloc(VALUE_BYTES, 0x61);
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.set(key, value);
    await pipeline.exec();
    const check = await redis.getBuffer(keys[0]!);
    if (check?.length !== VALUE_BYTES) throw new Error('setup: Redis did not store the values');
    return rowOf(name, await measureLoad((key) => redis.getBuffer(key), keys));
  } finally {
    redis.disconnect();
    await server.process.stop();
  }
}

async function benchTransport(
  registry: ProcessRegistry,
  name: string,
  keys: string[],
): Promise<RateRow> {
  const port = await freePort();
  const self = `http://127.0.0.1:${port}`;
  const args = [
    '--import',
    'tsx',
    'src/cli/main.ts',
    'node',
    '--self',
    self,
    '--transport',
    name,
    '--group',
    `${GROUP}:256MiB`,
    '--loader',
    LOADER,
    '--log-level',
    'warn',
  ];
  const owner = await startProcess(process.execPath, args, {
    cwd: REPO_ROOT,
    readyLine: `ready ${self}`,
    registry,
  });
  const transport = transports[name]!();
  try {
    const client = transport.client(self);
    const get = (key: string) => client.get(GROUP, key);
    // Warm the owner's cache: every key loaded once, so the measured gets are hits there.
    for (let i = 0; i < keys.length; i += IN_FLIGHT) {
      const got = await Promise.all(keys.slice(i, i + IN_FLIGHT).map(get));
      if (got.some((v) => v.value.length !== VALUE_BYTES)) {
        throw new Error(`setup: ${name} owner returned a value of the wrong size`);
      }
    }
    const target = name === 'tcp' ? { target: 1 } : {};
    return rowOf(`peercache ${name} get → owner`, await measureLoad(get, keys), {
      vs: 'ioredis GET → redis-server',
      ...target,
    });
  } finally {
    await transport.close();
    await owner.stop();
  }
}

async function main(): Promise<void> {
  const registry = new ProcessRegistry();
  const interrupt = () => {
    void registry.stopAll(1000).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `key:${i}`);
  const rows: RateRow[] = [];
  try {
    rows.push(await benchRedis(registry, keys));
    for (const name of Object.keys(transports))
      rows.push(await benchTransport(registry, name, keys));
  } finally {
    await registry.stopAll();
  }
  printRateTable(
    `Remote get: ${VALUE_BYTES} B values cached at the owner, ${IN_FLIGHT} in flight, ${MEASURE_MS / 1000} s each`,
    rows,
  );
}

await main();
