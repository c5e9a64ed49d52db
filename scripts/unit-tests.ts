// unit-tests.ts: `npm run test:unit`: the test files under src/ in this one process, so
// that the inner loop pays for starting node and tsx once rather than once per file (most
// of what the unit tests cost, since they start no cache processes). `npm test` still runs
// each file of src/ and test/ in a process of its own.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * OWN_PROCESS are the files whose servers run real timeouts of a few hundred ms (a body
 * or a handshake cut for being slow): a process that has run every other test, with its
 * heap and leftover timers, can be late by that much. They run as `npm test` runs them,
 * each in a process of its own, beside the others on the second core.
 */
const OWN_PROCESS = new Set([
  'src/api/limits.test.ts',
  'src/transport/grpc/limits.test.ts',
  'src/transport/handshake.test.ts',
  'src/transport/http/limits.test.ts',
  'src/transport/tcp/server-limits.test.ts',
]);

/** testFiles lists the `*.test.ts` files under `dir`, sorted, as `npm test` orders them. */
function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

const files = testFiles(resolve('src'));
const apart = files.filter((f) => OWN_PROCESS.has(relative(process.cwd(), f)));

// Their report is printed whole when they are done, after this process's own lines.
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...apart],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
const report: Buffer[] = [];
child.stdout.on('data', (b: Buffer) => report.push(b));
child.stderr.on('data', (b: Buffer) => report.push(b));
child.on('close', (code) => {
  process.stdout.write(`\n# in processes of their own: ${apart.length} files\n`);
  process.stdout.write(Buffer.concat(report));
  if (code !== 0) process.exitCode = 1;
});

// Each file's tests are registered as it is imported; node:test runs them in that order.
for (const file of files) {
  if (!apart.includes(file)) await import(pathToFileURL(file).href);
}
