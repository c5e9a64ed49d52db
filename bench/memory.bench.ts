// memory.bench.ts: what a full cache costs in memory. Each fill runs in a fresh child
// process (bench/support/memory-fill.ts): RSS of a Group with cacheBytes = 256 MiB of
// 1 KiB values against 1.15 × cacheBytes + 32 MiB, and bytes of overhead per entry with
// 100-byte values against 120 B; lru-cache is filled the same way for context.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ManagedProcess, ProcessRegistry, startProcess } from '../test/support/process.js';
import type { CacheKind, FillResult } from './support/memory-fill.js';
import { headline, times } from './support/report.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;
/** The budget of the RSS target, and its limit: 1.15 × cacheBytes + 32 MiB. */
const RSS_BUDGET = 256 * MiB;
const RSS_LIMIT = 1.15 * RSS_BUDGET + 32 * MiB;
/** The most overhead per entry, over its key and value, with 100-byte values (RSS). */
const OVERHEAD_LIMIT = 120;
/**
 * The budget of the overhead figure. 256 MiB of 100-byte entries is 2.4 million of
 * them, over a minute to fill through the group here; the overhead per entry does
 * not depend on how many there are, so 64 MiB (590,000 entries) measures it.
 */
const OVERHEAD_BUDGET = 64 * MiB;
/** A child that has not printed its figures by then is killed and the bench fails. */
const CHILD_TIMEOUT_MS = 120_000;

/** Fill is one child run: what to fill, and a name for the table. */
interface Fill {
  name: string;
  cache: CacheKind;
  budget: number;
  valueBytes: number;
}

/**
 * compileChild compiles the fill script and the sources it imports to JavaScript
 * under .bench-tmp/, so the children run on plain `node`: with `--import tsx`,
 * tsx's module-loader thread alone adds ~33 MiB of RSS to every process, which
 * would be charged to the cache. Type checking is `npm run typecheck`'s job.
 */
function compileChild(outDir: string): string {
  const tsc = join(createRequire(import.meta.url).resolve('typescript'), '../../bin/tsc');
  const args = [
    tsc,
    '--noCheck',
    '--skipLibCheck',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
    '--types',
    'node',
    '--rootDir',
    REPO_ROOT,
    '--outDir',
    outDir,
    join(REPO_ROOT, 'bench/support/memory-fill.ts'),
  ];
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`could not compile memory-fill.ts: ${r.stdout}${r.stderr}`);
  }
  return join(outDir, 'bench/support/memory-fill.js');
}

/** runFill runs one fill in a fresh child process and returns its figures. */
async function runFill(registry: ProcessRegistry, script: string, f: Fill): Promise<FillResult> {
  const args = ['--expose-gc', script, f.cache, String(f.budget), String(f.valueBytes)];
  const child: ManagedProcess = await startProcess(process.execPath, args, {
    cwd: REPO_ROOT,
    registry,
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CHILD_TIMEOUT_MS);
  });
  const status = await Promise.race([child.exited, timedOut]);
  clearTimeout(timer);
  if (status === 'timeout') {
    await child.kill();
    throw new Error(`${f.name}: no result within ${CHILD_TIMEOUT_MS / 1000} s`);
  }
  const line = child.stdout.find((l) => l.startsWith('{'));
  if (status.code !== 0 || line === undefined) {
    const why = status.signal ?? `code ${status.code}`;
    throw new Error(`${f.name}: the child failed (${why}):\n${child.stderr.slice(-20).join('\n')}`);
  }
  const r = JSON.parse(line) as FillResult;
  const entryBytes = r.keyBytes + r.valueBytes;
  if (
    f.cache !== 'none' &&
    !(r.evictions > 0 && r.bytes <= r.budget && r.bytes > r.budget - entryBytes)
  ) {
    throw new Error(`${f.name}: the cache was not filled to its budget: ${line}`);
  }
  return r;
}

/** Per-entry costs of a filled cache, over the baseline process's. */
interface Overhead {
  /** RSS added by the cache, in bytes. */
  rssAdded: number;
  /** (RSS added − keys and values) / entries. */
  perEntryRss: number;
  /** (heapUsed + external added − keys and values) / entries. */
  perEntryLive: number;
}

function overheadOf(r: FillResult, base: FillResult): Overhead {
  const data = r.items * (r.keyBytes + r.valueBytes);
  const rssAdded = r.rss - base.rss;
  const liveAdded = r.heapUsed + r.external - base.heapUsed - base.external;
  return {
    rssAdded,
    perEntryRss: (rssAdded - data) / r.items,
    perEntryLive: (liveAdded - data) / r.items,
  };
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function size(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function printMemoryTable(rows: readonly FillResult[], names: readonly string[], base: FillResult) {
  console.log(
    '\n## Memory: each cache filled 10% past its budget in a fresh process; steady = after 15 s idle\n',
  );
  console.log(
    '| process | budget | value | entries | cache bytes | RSS after fill | RSS steady | RSS added | heapUsed | heapTotal | external | overhead/entry (RSS) | overhead/entry (heap+ext) | fill |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  rows.forEach((r, i) => {
    const o = r === base ? undefined : overheadOf(r, base);
    const cells = [
      names[i] ?? r.cache,
      r.cache === 'none' ? '' : size(r.budget),
      r.cache === 'none' ? '' : size(r.valueBytes),
      r.items.toLocaleString('en-US'),
      r.cache === 'none' ? '' : mib(r.bytes),
      mib(r.rssAfterFill),
      mib(r.rss),
      o ? mib(o.rssAdded) : '',
      mib(r.heapUsed),
      mib(r.heapTotal),
      mib(r.external),
      o ? `${o.perEntryRss.toFixed(0)} B` : '',
      o ? `${o.perEntryLive.toFixed(0)} B` : '',
      r.cache === 'none' ? '' : `${(r.fillMs / 1000).toFixed(1)} s, ${r.gcs} GCs`,
    ];
    console.log(`| ${cells.join(' | ')} |`);
  });
}

async function main(): Promise<void> {
  const registry = new ProcessRegistry();
  const outDir = join(REPO_ROOT, '.bench-tmp', `memory-${process.pid}`);
  const cleanUp = () => rmSync(outDir, { recursive: true, force: true });
  const interrupt = () => {
    void registry.stopAll(1000).finally(() => {
      cleanUp();
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const fills: Fill[] = [
    { name: 'baseline: empty group', cache: 'none', budget: 0, valueBytes: 0 },
    { name: 'Group, 1 KiB values', cache: 'group', budget: RSS_BUDGET, valueBytes: 1024 },
    { name: 'lru-cache, 1 KiB values', cache: 'lru-cache', budget: RSS_BUDGET, valueBytes: 1024 },
    { name: 'Group, 100 B values', cache: 'group', budget: OVERHEAD_BUDGET, valueBytes: 100 },
    {
      name: 'lru-cache, 100 B values',
      cache: 'lru-cache',
      budget: OVERHEAD_BUDGET,
      valueBytes: 100,
    },
  ];
  const results: FillResult[] = [];
  try {
    const script = compileChild(outDir);
    for (const f of fills) results.push(await runFill(registry, script, f));
  } finally {
    await registry.stopAll();
    cleanUp();
  }
  const [base, group1k, lru1k, group100, lru100] = results as [
    FillResult,
    FillResult,
    FillResult,
    FillResult,
    FillResult,
  ];
  printMemoryTable(
    results,
    fills.map((f) => f.name),
    base,
  );
  console.log(
    `\nA cache entry counts its key's UTF-8 bytes (${base.keyBytes}) plus its value's bytes; overhead/entry is what the process holds beyond that, over the baseline.\n`,
  );

  const ratio = group1k.rss / RSS_LIMIT;
  headline({
    item: 6,
    name: 'Memory: RSS with cacheBytes = 256 MiB of 1 KiB values',
    measured: `${mib(group1k.rss)} (${times(ratio)} the limit)`,
    target: `≤ ${mib(RSS_LIMIT)} (1.15 × cacheBytes + 32 MiB)`,
    met: group1k.rss <= RSS_LIMIT,
    chart: { ratio, target: 1, higherIsBetter: false },
    note: `steady state, after 15 s idle (${mib(group1k.rssAfterFill)} right after the fill); ${group1k.items.toLocaleString('en-US')} entries; baseline process ${mib(base.rss)}; lru-cache filled alike: ${mib(lru1k.rss)}`,
  });
  const g = overheadOf(group100, base);
  const l = overheadOf(lru100, base);
  headline({
    item: 6,
    name: 'Memory: overhead per entry, 100 B values',
    measured: `${g.perEntryRss.toFixed(0)} B/entry (RSS)`,
    target: `≤ ${OVERHEAD_LIMIT} B`,
    met: g.perEntryRss <= OVERHEAD_LIMIT,
    chart: { ratio: g.perEntryRss / OVERHEAD_LIMIT, target: 1, higherIsBetter: false },
    note: `heapUsed+external: ${g.perEntryLive.toFixed(0)} B; lru-cache: ${l.perEntryRss.toFixed(0)} B (RSS), ${l.perEntryLive.toFixed(0)} B (heap+ext); ${group100.keyBytes} B keys, cacheBytes = ${size(OVERHEAD_BUDGET)}`,
  });
}

await main();
