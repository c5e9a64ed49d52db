// etcd-members.test.ts: property-based fuzzing of membership against a real etcd: keys of any
// bytes and values of any bytes put and deleted under the nodes prefix; the member set a
// watching node applies is exactly the peer URLs that the keys in etcd spell.
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { noopLogger } from '../../src/core/logger.js';
import { createEtcdMembership } from '../../src/membership/etcd/index.js';
import { nodesPrefix } from '../../src/membership/etcd/keys.js';
import type { Membership } from '../../src/membership/membership.js';
import { parsePeerUrl } from '../../src/util/address.js';
import { type EtcdServer, etcdBinary, startEtcd, suiteCleanup } from '../support/etcd.js';
import { waitFor } from '../support/process.js';
import { keySuffix } from './fixtures.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from './runs.js';

const seed = fuzzSeed();
const binary = await etcdBinary();
const skip = typeof binary === 'string' ? false : binary.skip;
const service = `fuzz-${process.pid}`;
const nodes = Buffer.from(nodesPrefix('/peercache', service));

/** peerOf is the model: the peer URL a key's bytes spell after the prefix, if any. */
function peerOf(suffix: Uint8Array): string | undefined {
  if (!isUtf8(suffix)) return undefined;
  try {
    return parsePeerUrl(Buffer.from(suffix).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Step is one change made to etcd: a put of a key (with any value) or a delete. */
type Step = { put: true; suffix: Uint8Array; value: Uint8Array } | { put: false; which: number };

describe(`etcd membership decoding fuzz (FUZZ_SEED=${seed})`, {
  skip,
  timeout: fuzzTimeout(60_000),
}, () => {
  const cleanup = suiteCleanup();
  let etcd: EtcdServer;
  let membership: Membership;
  let applied: readonly string[] = [];
  // Keys now in etcd under the prefix, by their bytes in hex.
  const present = new Map<string, Uint8Array>();
  let sentinels = 0;

  before(async () => {
    etcd = await startEtcd({ cleanup });
    // Watch only (no `self`): the node registers nothing and sees every key.
    membership = createEtcdMembership({
      endpoints: [etcd.endpoint],
      service,
      logger: noopLogger,
      timing: { retryMinMs: 50, retryMaxMs: 250, coalesceMs: 5 },
    });
    await membership.start((peers) => {
      applied = [...peers];
    });
  });
  after(async () => {
    await membership?.close();
  });

  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

  async function put(suffix: Uint8Array, value: Uint8Array): Promise<void> {
    const key = Buffer.concat([nodes, suffix]);
    await etcd.call('/v3/kv/put', { key: b64(key), value: b64(value) });
    present.set(key.toString('hex'), key);
  }

  async function remove(key: Uint8Array): Promise<void> {
    await etcd.call('/v3/kv/deleterange', { key: b64(key) });
    present.delete(Buffer.from(key).toString('hex'));
  }

  it('applies exactly the peers the keys spell, whatever bytes keys and values hold', async () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          put: fc.constant(true as const),
          suffix: keySuffix,
          value: fc.uint8Array({ maxLength: 40 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ put: fc.constant(false as const), which: fc.nat() }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        for (const s of steps) {
          if (s.put) await put(s.suffix, s.value);
          else if (present.size > 0) await remove([...present.values()][s.which % present.size]!);
        }
        // A last, valid key: once the node applies it, it has seen every change before it.
        const sentinel = `http://sentinel-${sentinels++}.test:1`;
        await put(Buffer.from(sentinel), new Uint8Array(0));
        const want = new Set<string>();
        for (const key of present.values()) {
          const url = peerOf(key.subarray(nodes.length));
          if (url !== undefined) want.add(url);
        }
        await waitFor(() => applied.includes(sentinel), {
          timeoutMs: 10_000,
          intervalMs: 5,
          message: `the node applies ${sentinel}`,
        });
        assert.deepEqual([...applied].sort(), [...want].sort());
      }),
      fuzzRuns(25, seed),
    );
  });
});
