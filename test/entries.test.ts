// entries.test.ts: the package entries: each resolves to a module that exports what
// it should and nothing internal, and the core entry loads no network client library.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; import: string }>;
  files: string[];
};

/** The package's entries: subpath → the source file its `dist/*.js` is built from. */
const entries = Object.entries(pkg.exports).flatMap(([subpath, target]) => {
  if (typeof target === 'string') return [];
  // The bundle of the entry (scripts/bundle-entries.mjs), and tsc's declarations.
  const name = /^\.\/dist\/pkg\/([a-z]+)\.js$/.exec(target.import)?.[1];
  assert.ok(name !== undefined, `${subpath} points into dist/pkg: ${target.import}`);
  assert.equal(target.types, `./dist/${name}.d.ts`, `${subpath}'s types`);
  return [{ subpath, name, source: join(root, 'src', `${name}.ts`) }];
});

/** What each entry must export (a sample of its promise), by subpath. */
const expected: Record<string, string[]> = {
  '.': ['createNode', 'ByteView', 'Group', 'GroupRegistry', 'stringSink', 'NotFoundError'],
  './http': ['httpTransport', 'createHttpPeerHandler'],
  './tcp': ['tcpTransport'],
  './grpc': ['grpcTransport'],
  './etcd': ['createEtcdMembership'],
  './dns': ['createDnsMembership'],
  './api': ['createApiHandler', 'startApiServer'],
  './origin': ['createOriginLoader'],
  './keyv': ['createKeyvStore', 'PeercacheKeyvStore'],
  './otel': ['registerOtelMetrics', 'otelTelemetry'],
};

/** Internal pieces no entry may export. */
const internal = [
  'viewBytes',
  'adoptBytes',
  'viewSlots',
  'answerPeer',
  'resolveTls',
  'SinkBase',
  'DEMO_SCORES',
  'createScoresLoader',
  'createHttpTransport',
];

const run = promisify(execFile);

/** A loader hook that names every module node loads, on stderr. */
const recordLoads = `data:text/javascript,${encodeURIComponent(
  'export async function load(url, context, next) { process.stderr.write("loaded " + url + "\\n"); return next(url, context); }',
)}`;

/**
 * loadedFiles runs `script` (an ES module body) in a fresh node with tsx and
 * returns every file node loaded: the ES modules, as a loader hook saw them,
 * and the CommonJS files (undici, @grpc/grpc-js, prom-client), from the cache.
 */
async function loadedFiles(script: string): Promise<string[]> {
  const body = `const { register, createRequire } = await import('node:module');
register(${JSON.stringify(recordLoads)});
${script}
process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const { stdout, stderr } = await run(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '--eval', body],
    { cwd: root, timeout: 60_000 },
  );
  const modules = stderr
    .split('\n')
    .filter((l) => l.startsWith('loaded file:'))
    .map((l) => fileURLToPath(l.slice('loaded '.length)));
  return [...modules, ...(JSON.parse(stdout) as string[])];
}

const undici = /[/\\]node_modules[/\\]undici[/\\]/;
const grpc = /[/\\]node_modules[/\\]@grpc[/\\]grpc-js[/\\]/;
const prom = /[/\\]node_modules[/\\]prom-client[/\\]/;
const protobuf = /[/\\]node_modules[/\\]@bufbuild[/\\]protobuf[/\\]/;
const httpTransportFiles = /[/\\]src[/\\]transport[/\\]http[/\\]/;

describe('package entries', () => {
  test('every entry builds from a source module and exports what it promises', async () => {
    assert.deepEqual(
      entries.map((e) => e.subpath),
      Object.keys(expected),
    );
    assert.ok(pkg.files.includes('dist'), 'dist is published');
    const bundled = readFileSync(join(root, 'scripts', 'bundle-entries.mjs'), 'utf8');
    const listed = /const entries = \[([^\]]*)\]/.exec(bundled)?.[1] ?? '';
    assert.deepEqual(
      [...listed.matchAll(/'([a-z]+)'/g)].map((m) => m[1]),
      entries.map((e) => e.name),
      'the bundle script builds every entry',
    );
    for (const { subpath, source } of entries) {
      const mod = (await import(pathToFileURL(source).href)) as Record<string, unknown>;
      for (const name of expected[subpath] ?? []) {
        assert.equal(typeof mod[name], 'function', `${subpath} exports ${name}`);
      }
      for (const name of internal) assert.equal(name in mod, false, `${subpath} hides ${name}`);
    }
  });

  test("README's API section names every export of every entry", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const api = readme.slice(readme.indexOf('## API'), readme.indexOf('## Documentation'));
    for (const { subpath, source } of entries) {
      const mod = (await import(pathToFileURL(source).href)) as Record<string, unknown>;
      const unnamed = Object.keys(mod).filter((name) => !api.includes(`\`${name}`));
      assert.deepEqual(unnamed, [], `${subpath}: exports the README's API section does not name`);
    }
  });

  test('the core entry exports each sink once, as a factory', async () => {
    const core = (await import('../src/index.js')) as Record<string, unknown>;
    for (const name of ['StringSink', 'ByteViewSink', 'ProtoSink', 'AllocatingByteSliceSink']) {
      assert.equal(name in core, false, `${name} is a type only`);
    }
    for (const name of ['stringSink', 'byteViewSink', 'protoSink', 'allocatingByteSliceSink']) {
      assert.equal(typeof core[name], 'function', name);
    }
  });

  test('a local cache from the core entry loads none of undici, @grpc/grpc-js, prom-client', async () => {
    const files = await loadedFiles(`
const { createNode } = await import('./src/index.ts');
const node = createNode();
if (node.transport.name !== 'http') throw new Error('the default transport is HTTP');
const group = node.newGroup('g', { cacheBytes: 1 << 20, load: (key) => 'value of ' + key });
if ((await group.get('k')).toString() !== 'value of k') throw new Error('wrong value');
await node.close();`);
    assert.ok(
      files.some((f) => f.endsWith('group.ts')),
      'the probe sees the modules loaded',
    );
    assert.deepEqual(
      files.filter((f) => undici.test(f)),
      [],
      'undici',
    );
    assert.deepEqual(
      files.filter((f) => grpc.test(f)),
      [],
      '@grpc/grpc-js',
    );
    assert.deepEqual(
      files.filter((f) => prom.test(f)),
      [],
      'prom-client, until the metrics are read',
    );
    assert.deepEqual(
      files.filter((f) => protobuf.test(f)),
      [],
      '@bufbuild/protobuf',
    );
    assert.deepEqual(
      files.filter((f) => httpTransportFiles.test(f)),
      [],
      'the HTTP transport, until a peer or a server needs it',
    );
  });

  test('the probe sees each once a peer client, gRPC or the metrics are used', async () => {
    const files = await loadedFiles(`
const { createNode } = await import('./src/index.ts');
await import('./src/grpc.ts');
const node = createNode({ self: 'http://127.0.0.1:1', peers: ['http://127.0.0.1:2'] });
// The default transport loads undici with its first request (refused: nothing listens there).
await node.transport.client('http://127.0.0.1:2').get('g', 'k').then(() => {}, () => {});
if (!(await node.metrics.registry.metrics()).includes('peercache_ring_members 2')) throw new Error('metrics');
await node.close();`);
    assert.ok(
      files.some((f) => prom.test(f)),
      'reading the metrics loads prom-client',
    );
    assert.ok(
      files.some((f) => undici.test(f)),
      'a request over HTTP loads undici',
    );
    assert.ok(
      files.some((f) => protobuf.test(f)),
      'and @bufbuild/protobuf',
    );
    assert.ok(
      files.some((f) => httpTransportFiles.test(f)),
      'and the HTTP transport',
    );
    assert.ok(
      files.some((f) => grpc.test(f)),
      'peercache/grpc loads @grpc/grpc-js',
    );
  });
});
