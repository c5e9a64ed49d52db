// steady-load.ts: a steady stream of API gets of fresh keys for fault tests and benches:
// sent on schedule whatever earlier gets are doing, each timed and checked.

import { setTimeout as sleep } from 'node:timers/promises';
import type { OwnerRing } from '../../src/ring/owner-ring.js';
import type { PeercacheNode } from './peercache.js';
import { testValue } from './values.js';

/** GetRecord is one get: which key, through which node, how it went. */
export interface GetRecord {
  key: string;
  /** The key's owner, as the caller's ring says. */
  owner: string;
  /** The `--self` URL of the node asked. */
  via: string;
  /** When it was sent (ms since the epoch) and how long it took (ms). */
  startedAt: number;
  ms: number;
  /** Why it failed (status, wrong value, no answer in time); undefined when it succeeded. */
  error?: string | undefined;
}

/**
 * timedGet asks `node`'s API for `key` and checks the value is `testValue(key)`. With no
 * answer within `timeoutMs` it gives up, as a client would, and records a failure.
 */
export async function timedGet(
  node: PeercacheNode,
  key: string,
  owner: string,
  timeoutMs: number,
): Promise<GetRecord> {
  const startedAt = Date.now();
  let error: string | undefined;
  try {
    const res = await fetch(`${node.apiUrl}/api?${new URLSearchParams({ key })}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) error = `${res.status} ${new TextDecoder().decode(body)}`;
    else if (!Buffer.from(body).equals(testValue(key) ?? new Uint8Array(0))) error = 'wrong value';
  } catch (err) {
    error = (err as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : String(err);
  }
  return { key, owner, via: node.url, startedAt, ms: Date.now() - startedAt, error };
}

/** SteadyLoadOptions configure {@link steadyLoad}. */
export interface SteadyLoadOptions {
  /** The nodes asked, in turn. */
  targets: readonly PeercacheNode[];
  /** ownerOf names a key's owner, for the records. */
  ownerOf: (key: string) => string;
  /** Keys are `${prefix}-${n}`: use a prefix no other load uses, so every key is fresh. */
  prefix: string;
  /** Gets sent a second. */
  ratePerSecond: number;
  /** How long each get waits for its answer (see {@link timedGet}). */
  timeoutMs: number;
}

/** SteadyLoad is a running stream of gets. */
export interface SteadyLoad {
  /** SteadyLoad.records holds the gets ended so far, in the order they ended. */
  readonly records: GetRecord[];
  /** SteadyLoad.maxInFlight is the most gets that were waiting for an answer at once. */
  readonly maxInFlight: number;
  /** SteadyLoad.stop ends the stream and resolves once every get sent has ended. */
  stop(): Promise<void>;
}

/**
 * steadyLoad sends `ratePerSecond` gets a second, each of a key never asked before (so
 * each one reaches the key's owner), to `targets` in turn. Gets are sent on schedule,
 * not after the previous one is answered: clients do not slow down because a node is
 * cut off. In flight it is bounded by the rate times `timeoutMs`.
 */
export function steadyLoad(options: SteadyLoadOptions): SteadyLoad {
  const { targets, ownerOf, prefix, ratePerSecond, timeoutMs } = options;
  const records: GetRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let maxInFlight = 0;
  let running = true;
  const send = async () => {
    const start = Date.now();
    for (let i = 0; running; i++) {
      const key = `${prefix}-${i}`;
      const via = targets[i % targets.length]!;
      const get = timedGet(via, key, ownerOf(key), timeoutMs).then((r) => {
        records.push(r);
        inFlight.delete(get);
      });
      inFlight.add(get);
      maxInFlight = Math.max(maxInFlight, inFlight.size);
      // On schedule: get i + 1 is due at start + (i + 1) / rate, however long this one takes.
      await sleep(Math.max(0, start + ((i + 1) * 1000) / ratePerSecond - Date.now()));
    }
  };
  const sending = send();
  return {
    records,
    get maxInFlight() {
      return maxInFlight;
    },
    async stop() {
      running = false;
      await sending;
      await Promise.all(inFlight);
    },
  };
}

/** freshKeys returns a function making keys `${prefix}-${n}`, never the same twice, that `url` owns on `ring`. */
export function freshKeys(ring: OwnerRing, url: string, prefix: string): () => string {
  let i = 0;
  return () => {
    for (;;) {
      const key = `${prefix}-${i++}`;
      if (ring.get(key) === url) return key;
    }
  };
}

/** percentile returns the `q` quantile (0..1) of `ms`, nearest rank; 0 for an empty list. */
export function percentile(ms: readonly number[], q: number): number {
  if (ms.length === 0) return 0;
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))]!;
}

/** describeFailures lists up to `max` (10) failed gets of `records`, one line each. */
export function describeFailures(records: readonly GetRecord[], max = 10): string[] {
  return records
    .filter((r) => r.error !== undefined)
    .slice(0, max)
    .map((r) => `${r.key} (owner ${r.owner}) via ${r.via}: ${r.error} after ${r.ms} ms`);
}
