// deploy.test.ts: the ways to run peercache in deploy/ (Dockerfile, Compose, Kubernetes)
// checked without a container runtime: every peercache command line they hold runs
// with --dry-run and exits 0, with the health-check port and memory they promise. The
// CLI runs in this process (test/cli/dry-run.test.ts runs --dry-run as a process).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { parseSize } from '../src/cli/args.js';
import { runCli } from '../src/cli/cli.js';
import { REPO_ROOT } from './support/cli.js';

const DEPLOY = join(REPO_ROOT, 'deploy');

/** CommandLine is one command line found in a file, with where it came from. */
interface CommandLine {
  where: string;
  argv: string[];
}

const read = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');

/** jsonArray reads a JSON array of strings (exec form, flow-style YAML), or fails naming `where`. */
function jsonArray(text: string, where: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    assert.fail(`${where}: not one JSON array on one line: ${text}`);
  }
  assert.ok(
    Array.isArray(value) && value.every((s) => typeof s === 'string'),
    `${where}: want an array of strings`,
  );
  return value as string[];
}

/** dockerfile returns the image's command line: ENTRYPOINT ["peercache"] and CMD. */
function dockerfile(): CommandLine[] {
  const text = read('Dockerfile');
  const entry = /^ENTRYPOINT (.*)$/m.exec(text)?.[1];
  const cmd = /^CMD (.*)$/m.exec(text)?.[1];
  assert.ok(entry !== undefined && cmd !== undefined, 'Dockerfile has ENTRYPOINT and CMD');
  assert.deepEqual(jsonArray(entry, 'ENTRYPOINT'), ['peercache']);
  return [{ where: 'Dockerfile CMD', argv: jsonArray(cmd, 'CMD') }];
}

/** yamlLists returns every `KEY: [...]` of a YAML file (each must be one JSON array). */
function yamlLists(path: string, key: 'command' | 'args'): CommandLine[] {
  const found: CommandLine[] = [];
  read(path)
    .split('\n')
    .forEach((line, i) => {
      const m = new RegExp(`^\\s*${key}:\\s*(.*)$`).exec(line);
      if (m) found.push({ where: `${path}:${i + 1}`, argv: jsonArray(m[1]!, `${path}:${i + 1}`) });
    });
  return found;
}

/**
 * kubernetes returns each `args:` of the manifests with every `$(VAR)` replaced by a
 * sample value, after checking that the container declares VAR in its `env`.
 */
function kubernetes(): CommandLine[] {
  const samples: Record<string, string> = { POD_IP: '10.244.1.7' };
  return readdirSync(join(DEPLOY, 'kubernetes'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => {
      const text = read(join('kubernetes', f));
      return yamlLists(join('kubernetes', f), 'args').map(({ where, argv }) => ({
        where,
        argv: argv.map((a) =>
          a.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => {
            assert.match(text, new RegExp(`- name: ${name}\\n`), `${where} declares $(${name})`);
            assert.ok(samples[name] !== undefined, `a sample value for $(${name})`);
            return samples[name]!;
          }),
        ),
      }));
    });
}

/** dryRun runs `peercache ARGV --dry-run` in this process and collects its output. */
async function dryRun(argv: string[], env: Record<string, string>) {
  const out = { stdout: '', stderr: '' };
  const stream = (key: 'stdout' | 'stderr') => {
    const s = new PassThrough();
    s.setEncoding('utf8').on('data', (chunk: string) => {
      out[key] += chunk;
    });
    return s;
  };
  const io = { stdout: stream('stdout'), stderr: stream('stderr') };
  const code = await runCli([...argv, '--dry-run'], io, env);
  await new Promise((resolve) => setImmediate(resolve));
  return { code, ...out };
}

const isPeercache = (c: CommandLine) => c.argv[0] === 'node' || c.argv[0] === 'gateway';

describe('deploy/', () => {
  const compose = yamlLists('compose.yaml', 'command');
  const lines = [...dockerfile(), ...compose.filter(isPeercache), ...kubernetes()];

  test('every command line is found: the image, 3 nodes and a gateway in Compose, nodes and gateway in Kubernetes', () => {
    assert.deepEqual(
      compose.filter((c) => !isPeercache(c)).map((c) => c.argv[0]),
      ['etcd'],
      'the only other command in compose.yaml is etcd',
    );
    const count = (file: string, cmd: string) =>
      lines.filter((c) => c.where.startsWith(file) && c.argv[0] === cmd).length;
    assert.equal(count('compose.yaml', 'node'), 3);
    assert.equal(count('compose.yaml', 'gateway'), 1);
    assert.equal(count('kubernetes', 'node'), 1);
    assert.equal(count('kubernetes', 'gateway'), 1);
  });

  test('each one passes --dry-run', async () => {
    // What Compose and the Kubernetes Secret provide.
    const env = { PEERCACHE_PEER_SECRET: 'a-sample-peer-secret-of-32-characters-or-more' };
    for (const c of lines) {
      const run = await dryRun(c.argv, env);
      assert.equal(run.code, 0, `${c.where}: peercache ${c.argv.join(' ')}\n${run.stderr}`);
      const report = JSON.parse(run.stdout) as { command: string; config: Record<string, unknown> };
      assert.equal(report.command, c.argv[0], c.where);
      // The image's HEALTHCHECK and the probes ask the API on port 9999.
      assert.deepEqual(report.config.api, { host: '0.0.0.0', port: 9999 }, c.where);
    }
  });

  test('the nodes in Kubernetes request the memory their cache needs (docs/deploy.md#memory)', () => {
    const text = read('kubernetes/nodes.yaml');
    const node = kubernetes().find((c) => c.argv[0] === 'node');
    const group = node?.argv[node.argv.indexOf('--group') + 1] ?? '';
    const cacheBytes = parseSize(group.slice(group.lastIndexOf(':') + 1));
    const requested = /requests:\n\s+cpu: \S+\n\s+memory: (\d+)Mi/.exec(text)?.[1];
    assert.ok(requested !== undefined, 'nodes.yaml requests memory in Mi');
    // The measured bound of the cache's process, RSS <= 1.25 x cacheBytes + 64 MiB, plus
    // the CLI's 24 MiB (its API, metrics and transport: docs/deploy.md#memory).
    const MiB = 2 ** 20;
    assert.ok(Number(requested) * MiB >= 1.25 * cacheBytes + 64 * MiB + 24 * MiB);
    const limit = /limits:\n\s+memory: (\d+)Mi/.exec(text)?.[1];
    assert.ok(Number(limit) >= Number(requested));
  });
});
