// bundle-entries.mjs: after `tsc` has built dist/, bundles the package entries into
// dist/pkg/ (one file per entry, shared code in chunks, dependencies left as imports):
// an ES module costs a file read, a parse and a link, and the core's ~30 of them made
// `import 'peercache'` several times slower than a one-file package. Dynamic imports
// stay separate chunks, so what the core loads lazily is still loaded lazily.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const entries = ['index', 'http', 'tcp', 'grpc', 'etcd', 'dns', 'api', 'origin', 'keyv', 'otel'];

// Each subpath entry is built from a wrapper that also imports the whole core. esbuild puts
// a module in the chunk of the entries that reach it; the core's modules, reached by
// different sets of entries, were spread over ten chunks, and a file more to resolve, read
// and link is a large part of what `import 'peercache'` costs. Reached by every entry, they
// share a few chunks. A subpath entry exports what it did, and loads the core with it,
// which its users load anyway.
const wrappers = mkdtempSync(join(tmpdir(), 'peercache-entries-'));
const entryPoints = Object.fromEntries(
  entries.map((e) => {
    if (e === 'index') return [e, 'dist/index.js'];
    const wrapper = join(wrappers, `${e}.js`);
    const core = JSON.stringify(resolve('dist/index.js'));
    writeFileSync(
      wrapper,
      `import * as core from ${core};\nvoid core;\nexport * from ${JSON.stringify(resolve(`dist/${e}.js`))};\n`,
    );
    return [e, wrapper];
  }),
);

// Chunk names carry a hash: clear the last build's.
rmSync('dist/pkg', { recursive: true, force: true });
await build({
  entryPoints,
  outdir: 'dist/pkg',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  // One set of chunks for every entry: classes such as CacheError exist once, so
  // `instanceof` holds between what `peercache` and `peercache/tcp` export.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // Compiling the module's text is most of what `import 'peercache'` costs, so spaces,
  // comments and redundant syntax go (about a tenth of that time); names stay, so stack
  // traces and class names read as in the sources.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
rmSync(wrappers, { recursive: true, force: true });
