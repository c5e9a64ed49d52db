// api-client.ts: the client process of the workers benchmark: a closed loop of API gets over
// a pool of keep-alive connections (undici), run for a while, its result printed as JSON.
// Usage: api-client.ts BASE_URL KEYS DURATION_MS IN_FLIGHT CONNECTIONS
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { runLoad } from './load.js';

const [base, keyCount, durationMs, inFlight, connections] = process.argv.slice(2);
const pool = new Pool(base as string, { connections: Number(connections), pipelining: 1 });
const keys = Array.from({ length: Number(keyCount) }, (_, i) => `/api?key=bench-${i}`);
const get = async (path: string) => {
  const res = await pool.request({ path, method: 'GET' });
  await res.body.arrayBuffer();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
};
// Warm: every key asked 50 times, so that each worker's hot cache (a 1-in-10 chance per
// answer from the owner) holds the other workers' keys and the run measures hits.
for (let pass = 0; pass < 50; pass++) await Promise.all(keys.map(get));
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const result = await runLoad(get, {
  keys,
  inFlight: Number(inFlight),
  durationMs: Number(durationMs),
});
const cpu = process.cpuUsage(cpuBefore);
// The share of one core the client itself used while measuring: what it left the node.
const clientCores = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore);
await pool.close();
process.stdout.write(
  `${JSON.stringify({ ...result, clientCores, firstError: result.firstError === undefined ? undefined : String(result.firstError) })}\n`,
);
