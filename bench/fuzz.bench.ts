// fuzz.bench.ts: the decoder fuzz tests of test/fuzz/ with many more cases than `npm test` runs:
// every property's count times FUZZ_SCALE (default 25), one seed for the run, printed to replay.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzScale, fuzzSeed, SCALE_ENV, SEED_ENV } from '../test/fuzz/runs.js';
import { headline } from './support/report.js';

/** The scale of a bench run when FUZZ_SCALE is not set. */
const defaultScale = 25;

const here = dirname(fileURLToPath(import.meta.url));
const fuzzDir = join(here, '..', 'test', 'fuzz');
const files = readdirSync(fuzzDir)
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => join(fuzzDir, f));
const scale = process.env[SCALE_ENV] ? fuzzScale() : defaultScale;
const seed = fuzzSeed();

console.log(`\n## fuzz: ${files.length} files, FUZZ_SCALE=${scale} FUZZ_SEED=${seed}\n`);
const out = mkdtempSync(join(tmpdir(), 'peercache-fuzz-'));
const tap = join(out, 'report.tap');
const started = process.hrtime.bigint();
// One file at a time: the servers under test and the cases sent to them share two cores fairly.
const run = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, [SCALE_ENV]: String(scale), [SEED_ENV]: String(seed) },
  },
);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const report = readFileSync(tap, 'utf8');
rmSync(out, { recursive: true, force: true });
const count = (name: string) =>
  Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(report)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');

console.log(
  `\nfuzz: ${passed} tests passed, ${failed} failed or cancelled, in ${seconds.toFixed(0)} s (FUZZ_SEED=${seed} replays the run)`,
);
headline({
  item: 8,
  name: `Decoder fuzzing, ${files.length} files at ${scale}× the cases of npm test`,
  measured: `${passed} passed, ${failed} failed`,
  target: 'no failure',
  met: run.status === 0 && failed === 0 && passed > 0,
  note: `${seconds.toFixed(0)} s, FUZZ_SEED=${seed}`,
});
process.exitCode = run.status === 0 && failed === 0 ? 0 : 1;
