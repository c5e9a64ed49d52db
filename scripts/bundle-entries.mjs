// bundle-entries.mjs: after `tsc` has built dist/, bundles the package entries into
// dist/pkg/ (one file per entry, shared code in chunks, dependencies left as imports):
// an ES module costs a file read, a parse and a link, and the core's ~30 of them made
// `import 'peercache'` several times slower than a one-file package. Dynamic imports
// stay separate chunks, so what the core loads lazily is still loaded lazily.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const entries = ['index', 'http', 'tcp', 'grpc', 'etcd', 'dns', 'api', 'origin', 'keyv', 'otel'];

// Chunk names carry a hash: clear the last build's.
rmSync('dist/pkg', { recursive: true, force: true });
await build({
  entryPoints: Object.fromEntries(entries.map((e) => [e, `dist/${e}.js`])),
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
  logLevel: 'warning',
});
