// churn.bench.ts: a request table churned through a ChurnMap keeps its dead entries
// out of V8's old generation, where a plain Map's replaced hash tables drag them;
// both are turned over the same way, each in fresh processes (one heap's history
// must not count against the other), and the old space each grows by is compared.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChurnMap } from '../src/util/churn-map.js';
import { headline } from './support/report.js';

/** Entries in flight at once, as on a busy connection. */
const IN_FLIGHT = 64;
/** Rounds of turnover, each ended by a young collection. */
const ROUNDS = 200;
/** Entries set (and one deleted) per round. */
const PER_ROUND = 500;
/** The target: the old space grows by less than this share of the bytes churned. */
const TARGET = 0.25;
/** Fresh processes per table kind; the median is reported. */
const RUNS = 5;

/** Table is what the turnover needs of a Map or a ChurnMap. */
interface Table {
  set(key: number, value: unknown): unknown;
  delete(key: number): boolean;
  readonly size: number;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;

const oldSpace = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
const entry = (i: number) => ({ id: i, payload: new Array<number>(16).fill(i) });

/** entryBytes is what one entry costs on the heap, measured by keeping a sample of them. */
function entryBytes(): number {
  gc();
  const bare = process.memoryUsage().heapUsed;
  const sample = Array.from({ length: 10_000 }, (_, i) => entry(i));
  gc();
  const bytes = (process.memoryUsage().heapUsed - bare) / sample.length;
  if (!(bytes > 0) || sample.length !== 10_000) throw new Error('could not measure an entry');
  return bytes;
}

/**
 * promoted turns `table` over ROUNDS × PER_ROUND times with IN_FLIGHT entries
 * alive, a young collection after each round, and returns how many bytes the old
 * space grew by. The table itself is old by then, as a connection's is.
 */
function promoted(table: Table): number {
  gc();
  gc();
  const before = oldSpace();
  let id = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < PER_ROUND; i++) {
      table.set(id, entry(id));
      if (id >= IN_FLIGHT) table.delete(id - IN_FLIGHT);
      id++;
    }
    gc({ type: 'minor' });
  }
  if (table.size !== IN_FLIGHT) throw new Error(`table holds ${table.size} entries`);
  return oldSpace() - before;
}

/** child measures one table kind in this process and prints the share promoted. */
function child(kind: string): void {
  const churned = ROUNDS * PER_ROUND * entryBytes();
  const table = kind === 'map' ? new Map<number, unknown>() : new ChurnMap<number, unknown>();
  process.stdout.write(String(promoted(table) / churned));
}

/** measure runs `kind` in RUNS fresh processes and returns the shares, sorted. */
function measure(kind: 'map' | 'churn'): number[] {
  const shares: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), `--table=${kind}`],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`the ${kind} run failed: ${r.stderr}`);
    shares.push(Number(r.stdout));
  }
  return shares.sort((a, b) => a - b);
}

function main(): void {
  console.log('\n## Churned request tables and the old generation\n');
  const churn = measure('churn');
  const map = measure('map');
  const mid = RUNS >> 1;
  const row = (xs: number[]) =>
    `${xs[mid]!.toFixed(3)} | ${xs.map((x) => x.toFixed(3)).join(', ')}`;
  console.log('| table | old space grown / bytes churned, median | each run |');
  console.log('|---|---:|---|');
  console.log(`| ChurnMap | ${row(churn)} |`);
  console.log(`| Map | ${row(map)} |`);
  headline({
    item: 16,
    name: 'Old space a churned ChurnMap promotes, share of the bytes churned',
    measured: churn[mid]!.toFixed(3),
    target: `< ${TARGET}`,
    met: churn[mid]! < TARGET,
    note: `median of ${RUNS}; a plain Map: ${map[mid]!.toFixed(3)}`,
  });
}

const kind = process.argv.find((a) => a.startsWith('--table='))?.slice('--table='.length);
if (kind === undefined) main();
else child(kind);
