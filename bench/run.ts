// run.ts: `npm run bench` runs every benchmark script of this folder in its own
// process (so one cannot warm or pollute the heap of the next), in order.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

console.log(
  `# peercache benchmarks (node ${process.version}, ${process.platform}/${process.arch})`,
);
let failed = 0;
for (const script of scripts) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, script)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    failed++;
    console.error(`${script} exited with ${r.status ?? r.signal}`);
  }
}
process.exitCode = failed ? 1 : 0;
