// run.ts: `npm run bench` runs every benchmark script of this folder in its own
// process (so one cannot warm or pollute the heap of the next), in order, then
// prints the summary of their headline figures and writes it, with a chart, to
// bench/results/ (`npm run bench -- remote` runs only the scripts whose name
// contains `remote`; `npm run bench -- consistency` the large history check of
// writes racing loads, consistency.bench.ts; `npm run bench -- fuzz`, the decoder
// fuzz tests with more cases; `npm run bench -- sim`, the simulated cluster of
// sim.bench.ts, `npm run bench -- sim --nodes=1000` at another size; `npm run bench --
// churn`, what ChurnMap keeps out of V8's old generation, churn.bench.ts; `npm run bench --
// workload`, an application's workload on peercache, Redis and bentocache, workload.bench.ts,
// `--write-docs` to put its table in docs/benchmarks.md). Long runs (the
// soak) run only when named; arguments that start with `--` go to every script run
// (`npm run bench -- soak --short`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_ENV } from './support/report.js';
import { chartSvg, readHeadlines, summaryTable } from './support/summary.js';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'results');
/** Scripts too long for the whole suite: they run only when named, e.g. `npm run bench -- soak`. */
const ON_REQUEST = new Set(['soak.bench.ts']);
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const only = args.filter((a) => !a.startsWith('--'));
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => (only.length === 0 ? !ON_REQUEST.has(f) : only.some((o) => f.includes(o))))
  .sort();

const machine = `node ${process.version}, ${process.platform}/${process.arch}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
console.log(`# peercache benchmarks (${machine})`);
mkdirSync(outDir, { recursive: true });
const resultsFile = join(outDir, 'headlines.jsonl');
rmSync(resultsFile, { force: true });
writeFileSync(resultsFile, '');

let failed = 0;
for (const script of scripts) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, script), ...flags], {
    stdio: 'inherit',
    env: { ...process.env, [RESULTS_ENV]: resultsFile },
  });
  if (r.status !== 0) {
    failed++;
    console.error(`${script} exited with ${r.status ?? r.signal}`);
  }
}

const headlines = readHeadlines(readFileSync(resultsFile, 'utf8'));
const table = summaryTable(headlines);
const date = new Date().toISOString().slice(0, 10);
console.log(`\n## Summary\n\n${table}`);
writeFileSync(
  join(outDir, 'summary.md'),
  `# peercache benchmarks, ${date}\n\n${machine}\n\n${table}\n`,
);
writeFileSync(
  join(outDir, 'chart.svg'),
  chartSvg(headlines, `peercache benchmarks, ${date} (${machine})`),
);
console.log(
  `\nwritten: ${join('bench', 'results', 'summary.md')}, ${join('bench', 'results', 'chart.svg')}`,
);
process.exitCode = failed ? 1 : 0;
