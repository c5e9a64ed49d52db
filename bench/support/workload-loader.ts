// workload-loader.ts: the `--loader` module of the workload benchmark's `peercache node`
// processes: reads a key's version from the database named by WORKLOAD_DB_PORT and
// returns its value with the workload's TTL (WORKLOAD_TTL_MS).
import { connectWorkloadDb, type WorkloadDbClient } from './workload-db.js';
import { encodeValue, keyIndex } from './workload-values.js';

const port = Number(process.env.WORKLOAD_DB_PORT);
const ttlMs = Number(process.env.WORKLOAD_TTL_MS);
let db: Promise<WorkloadDbClient> | undefined;

/** load returns the value of `key` at the database's current version, with the workload's TTL. */
export default async function load(key: string): Promise<{ value: string; ttlMs: number }> {
  const i = keyIndex(key);
  if (i < 0) throw new Error(`not a workload key: ${key}`);
  db ??= connectWorkloadDb(port);
  return { value: encodeValue(i, await (await db).read(i)), ttlMs };
}
