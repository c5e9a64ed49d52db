// build-console.ts: bundles the web console's page (src/console/page/) with uPlot into
// static files (index.html, app.js, app.css) that the API server serves under /console/.
// `npm run build` runs it; tests that open the page call buildConsole() first.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** DEFAULT_CONSOLE_OUT is where the API server looks for the page by default. */
export const DEFAULT_CONSOLE_OUT = join(ROOT, 'dist', 'console');

/** buildConsole writes the page's files into `outdir` and returns their names. */
export async function buildConsole(outdir = DEFAULT_CONSOLE_OUT): Promise<string[]> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const page = join(ROOT, 'src', 'console', 'page');
  await build({
    entryPoints: { app: join(page, 'main.ts') },
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(page, 'index.html'), join(outdir, 'index.html'));
  return ['index.html', 'app.js', 'app.css'];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildConsole(process.argv[2]);
}
