// size.test.ts: the console's built page stays small (under 150 KiB gzipped, all files
// together) and loads nothing from anywhere but its own server.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildConsole } from '../../scripts/build-console.js';

test('the built console is under 150 KiB gzipped and has every asset in the package', async () => {
  const out = await mkdtemp(join(tmpdir(), 'peercache-console-build-'));
  try {
    await buildConsole(out);
    const files = (await readdir(out)).sort();
    assert.deepEqual(files, ['app.css', 'app.js', 'index.html']);
    let gzipped = 0;
    for (const f of files) gzipped += gzipSync(await readFile(join(out, f)), { level: 9 }).length;
    assert.ok(gzipped < 150 * 1024, `the page is ${gzipped} bytes gzipped`);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    // Every src and href of the page is one of its own files.
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    for (const ref of refs) {
      assert.ok(ref === '#main' || files.includes(ref as string), `the page refers to ${ref}`);
    }
    const js = await readFile(join(out, 'app.js'), 'utf8');
    assert.doesNotMatch(js, /import\s*\(?\s*["']https?:/, 'no script from elsewhere');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
