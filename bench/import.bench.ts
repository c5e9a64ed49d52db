// import.bench.ts: the cold import of the built core entry (`peercache`, dist/pkg/index.js)
// against lru-cache's, each in a fresh node process, several runs, median; the
// subpath entries are measured for reference.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headline, times } from './support/report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Runs of each import; the median is reported. */
const RUNS = 15;
/** The target: the core imports within this many times lru-cache's time. */
const TARGET = 2;

/** The specifiers measured, the anchor first; `peercache…` resolve through package.json `exports`. */
const specifiers = [
  'lru-cache',
  'peercache',
  'peercache/tcp',
  'peercache/http',
  'peercache/grpc',
  'peercache/etcd',
];

/**
 * importOnce imports `spec` in a fresh node (no tsx: the built files, as a user
 * gets them) and returns the ms the import took inside that process, and the
 * ms the whole process took.
 */
function importOnce(spec: string): { importMs: number; processMs: number } {
  const script = `const t = performance.now(); await import(${JSON.stringify(spec)}); process.stdout.write(String(performance.now() - t));`;
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
    cwd: root,
    encoding: 'utf8',
  });
  const processMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`import ${spec} failed: ${r.stderr}`);
  return { importMs: Number(r.stdout), processMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function main(): void {
  console.log('\n## Cold import (fresh node process per run)\n');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  // One unmeasured run each, so every run measured finds the files in the page cache.
  for (const spec of specifiers) importOnce(spec);
  const samples = new Map(
    specifiers.map((s) => [s, { importMs: [] as number[], processMs: [] as number[] }]),
  );
  // Interleaved, so a burst of load on the machine hits every specifier alike.
  for (let i = 0; i < RUNS; i++) {
    for (const spec of specifiers) {
      const { importMs, processMs } = importOnce(spec);
      const s = samples.get(spec);
      s?.importMs.push(importMs);
      s?.processMs.push(processMs);
    }
  }
  const anchor = median(samples.get('lru-cache')?.importMs ?? []);
  console.log(`| import | median import ms | median process ms | vs lru-cache |`);
  console.log('|---|---:|---:|---:|');
  for (const spec of specifiers) {
    const s = samples.get(spec);
    if (s === undefined) continue;
    const ms = median(s.importMs);
    const ratio = spec === 'lru-cache' ? 'anchor' : times(ms / anchor);
    console.log(`| ${spec} | ${ms.toFixed(1)} | ${median(s.processMs).toFixed(1)} | ${ratio} |`);
  }
  const core = median(samples.get('peercache')?.importMs ?? []);
  const ratio = core / anchor;
  headline({
    item: 10,
    name: 'Cold import of the core (peercache) vs lru-cache',
    measured: times(ratio),
    target: `≤ ${TARGET.toFixed(1)}×`,
    met: ratio <= TARGET,
    chart: { ratio, target: TARGET, higherIsBetter: false },
    note: `median of ${RUNS}: ${core.toFixed(1)} ms vs ${anchor.toFixed(1)} ms`,
  });
}

main();
