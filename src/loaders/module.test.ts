// module.test.ts: importing a `--loader` module by path or specifier.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { importLoader, moduleUrl } from './module.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peercache-loader-'));
  await writeFile(
    join(dir, 'good.mjs'),
    'export default async (key, { group }) => (key === "x" ? group + ":" + key : null);\n',
  );
  await writeFile(join(dir, 'nodefault.mjs'), 'export const load = () => "v";\n');
  await writeFile(join(dir, 'broken.mjs'), 'export default (;\n');
});
after(() => rm(dir, { recursive: true, force: true }));

test('moduleUrl: paths relative to cwd become file URLs, bare names stay specifiers', () => {
  assert.equal(moduleUrl('./good.mjs', dir), pathToFileURL(join(dir, 'good.mjs')).href);
  assert.equal(moduleUrl('good.mjs', dir), pathToFileURL(join(dir, 'good.mjs')).href);
  assert.equal(moduleUrl(join(dir, 'good.mjs'), '/'), pathToFileURL(join(dir, 'good.mjs')).href);
  assert.equal(moduleUrl('some-package', dir), 'some-package');
});

test('importLoader returns the default export', async () => {
  const load = await importLoader('./good.mjs', dir);
  const signal = new AbortController().signal;
  assert.equal(await load('x', { group: 'g', signal }), 'g:x');
  assert.equal(await load('y', { group: 'g', signal }), null);
});

test('importLoader rejects a missing file, a module without a default function, a syntax error', async () => {
  await assert.rejects(importLoader('./missing.mjs', dir), {
    code: 'INVALID_ARGUMENT',
    message: /cannot import/,
  });
  await assert.rejects(importLoader('./nodefault.mjs', dir), {
    code: 'INVALID_ARGUMENT',
    message: /default export/,
  });
  await assert.rejects(importLoader('./broken.mjs', dir), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(importLoader('no-such-package-peercache', dir), {
    code: 'INVALID_ARGUMENT',
  });
});
