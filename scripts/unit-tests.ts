// unit-tests.ts: `npm run test:unit`: every test file under src/ in this one process, so
// that the inner loop pays for starting node and tsx once rather than once per file (most
// of what the unit tests cost, since they start no processes). `npm test` still runs each
// file of src/ and test/ in a process of its own.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** testFiles lists the `*.test.ts` files under `dir`, sorted, as `npm test` orders them. */
function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

// Each file's tests are registered as it is imported; node:test runs them in that order.
for (const file of testFiles(resolve('src'))) await import(pathToFileURL(file).href);
