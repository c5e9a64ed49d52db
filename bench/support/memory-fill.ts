// memory-fill.ts: the child process of the memory benchmark: fills one cache (a peercache
// Group, lru-cache, or nothing for a baseline) past its byte budget with distinct values
// and prints one JSON line of what the process then holds.
//
// Usage: node --expose-gc memory-fill.js group|lru-cache|none <budget bytes> <value bytes>
import { LRUCache } from 'lru-cache';
import { GroupRegistry } from '../../src/core/registry.js';

/** CacheKind names what a fill child fills: a peercache Group, lru-cache, or nothing. */
export type CacheKind = 'group' | 'lru-cache' | 'none';

/** FillResult is the JSON line a fill child prints; memory figures are in bytes. */
export interface FillResult {
  /** What was filled. */
  cache: CacheKind;
  /** Byte budget of the cache (keys + values). */
  budget: number;
  /** Size of every value, in bytes. */
  valueBytes: number;
  /** Size of every key, in bytes (all keys have the same length). */
  keyBytes: number;
  /** Distinct keys read, each loaded once. */
  loads: number;
  /** Loads done when the first eviction happened: the cache was full. */
  loadsAtFull: number;
  /** Entries held at the end. */
  items: number;
  /** Bytes the cache counts at the end: its own accounting of keys + values. */
  bytes: number;
  /** Entries evicted during the fill. */
  evictions: number;
  /** Wall time of the fill, in ms. */
  fillMs: number;
  /** Full collections run before the figures were read. */
  gcs: number;
  /**
   * process.memoryUsage() once the process has been idle for IDLE_MS and the heap
   * stopped shrinking: the steady state of a filled cache (V8 gives back the young
   * generation it grew during the fill only after a few seconds without allocation).
   */
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** RSS right after the fill, once the heap stopped shrinking, before the idle wait. */
  rssAfterFill: number;
}

/** Every key is `key:` and 10 digits: 14 bytes. */
const KEY_DIGITS = 10;
/** Gets in flight at once while filling the group, as a server with concurrent requests. */
const IN_FLIGHT = 64;
/** Keep filling this fraction past the first eviction, so the steady state is measured. */
const PAST_FULL = 0.1;
/** Full collections in a row that must not shrink the heap or the RSS before the figures are read. */
const QUIET_GCS = 5;
/** At most this many full collections while waiting for the heap to stop shrinking. */
const MAX_GCS = 30;
/** How long the filled process idles before its steady-state figures are read. */
const IDLE_MS = 15_000;

const encoder = new TextEncoder();

function keyOf(i: number): string {
  return `key:${i.toString().padStart(KEY_DIGITS, '0')}`;
}

/**
 * loadValue returns new bytes owned by nobody else, as a database driver would: the
 * key, then a filler byte that depends on the key. Every byte is written, so the
 * pages are resident (not zero pages the kernel never had to provide).
 */
function loadValue(key: string, size: number): Uint8Array {
  const value = new Uint8Array(size);
  value.fill(key.charCodeAt(key.length - 1));
  encoder.encodeInto(key, value);
  return value;
}

/** Progress of a fill: loads done, and how many there were at the first eviction. */
interface Fill {
  loads: number;
  loadsAtFull: number;
}

function filling(fill: Fill): boolean {
  return fill.loadsAtFull === 0 || fill.loads < fill.loadsAtFull * (1 + PAST_FULL);
}

/** CacheCounts are the cache's own figures after the fill. */
interface CacheCounts {
  items: number;
  bytes: number;
  evictions: number;
}

/**
 * fillGroup reads distinct keys through a single-instance Group (no peers: every
 * key is loaded here and kept in the main cache) until it is past full.
 */
async function fillGroup(budget: number, valueBytes: number, fill: Fill) {
  const group = new GroupRegistry().newGroup('memory', {
    cacheBytes: budget,
    load: (key) => loadValue(key, valueBytes),
  });
  while (budget > 0 && filling(fill)) {
    const batch: Promise<unknown>[] = [];
    for (let j = 0; j < IN_FLIGHT; j++) batch.push(group.get(keyOf(fill.loads++)));
    await Promise.all(batch);
    if (fill.loadsAtFull === 0 && group.cacheStats('main').evictions > 0) {
      fill.loadsAtFull = fill.loads;
    }
  }
  if (budget > 0) {
    const lastKey = keyOf(fill.loads - 1);
    const last = group.peek(lastKey);
    if (last?.length !== valueBytes || !last.toString().startsWith(lastKey)) {
      throw new Error(`the last value loaded (${lastKey}) is not in the group's cache`);
    }
  }
  return (): CacheCounts => group.cacheStats('main');
}

/**
 * fillLruCache fills lru-cache (maxSize = budget, an entry's size = key + value
 * bytes, as the group counts it) with the same keys and values, synchronously.
 */
function fillLruCache(budget: number, valueBytes: number, fill: Fill) {
  let evictions = 0;
  const cache = new LRUCache<string, Uint8Array>({
    maxSize: budget,
    sizeCalculation: (value, key) => Buffer.byteLength(key) + value.byteLength,
    dispose: (_value, _key, reason) => {
      if (reason === 'evict') evictions++;
    },
  });
  while (filling(fill)) {
    const key = keyOf(fill.loads++);
    if (cache.get(key) === undefined) cache.set(key, loadValue(key, valueBytes));
    if (fill.loadsAtFull === 0 && evictions > 0) fill.loadsAtFull = fill.loads;
  }
  if (cache.get(keyOf(fill.loads - 1))?.byteLength !== valueBytes) {
    throw new Error('the last value set is not in lru-cache');
  }
  return (): CacheCounts => ({ items: cache.size, bytes: cache.calculatedSize, evictions });
}

/**
 * settle runs full collections until neither the heap's size nor the RSS has
 * shrunk for QUIET_GCS in a row (V8 compacts a few fragmented pages per collection,
 * so one is not enough), at most MAX_GCS; it returns how many it ran.
 */
async function settle(): Promise<number> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  let heap = Number.POSITIVE_INFINITY;
  let rss = Number.POSITIVE_INFINITY;
  let still = 0;
  let runs = 0;
  while (runs < MAX_GCS && still < QUIET_GCS) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    runs++;
    const mem = process.memoryUsage();
    still = mem.heapTotal < heap || mem.rss < rss * 0.995 ? 0 : still + 1;
    heap = Math.min(heap, mem.heapTotal);
    rss = Math.min(rss, mem.rss);
  }
  return runs;
}

async function main(): Promise<void> {
  const [kind, budgetArg, valueArg] = process.argv.slice(2);
  if (kind !== 'group' && kind !== 'lru-cache' && kind !== 'none') {
    throw new Error('usage: memory-fill group|lru-cache|none <budget bytes> <value bytes>');
  }
  const budget = Number(budgetArg);
  const valueBytes = Number(valueArg);
  if (!Number.isSafeInteger(budget) || budget < 0 || !Number.isSafeInteger(valueBytes)) {
    throw new Error(`bad budget or value size: ${budgetArg} ${valueArg}`);
  }
  const fill: Fill = { loads: 0, loadsAtFull: 0 };
  const started = performance.now();
  // The baseline builds the same group, empty, so that only the entries differ.
  const counts =
    kind === 'lru-cache'
      ? fillLruCache(budget, valueBytes, fill)
      : await fillGroup(kind === 'none' ? 0 : budget, valueBytes, fill);
  const fillMs = performance.now() - started;
  let gcs = await settle();
  const rssAfterFill = process.memoryUsage().rss;
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  gcs += await settle();
  const mem = process.memoryUsage();
  // Read after the memory figures, so the cache is still reachable when they are taken.
  const { items, bytes, evictions } = counts();
  const result: FillResult = {
    cache: kind,
    budget,
    valueBytes,
    keyBytes: Buffer.byteLength(keyOf(0)),
    loads: fill.loads,
    loadsAtFull: fill.loadsAtFull,
    items,
    bytes,
    evictions,
    fillMs,
    gcs,
    rss: mem.rss,
    heapTotal: mem.heapTotal,
    heapUsed: mem.heapUsed,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    rssAfterFill,
  };
  console.log(JSON.stringify(result));
}

await main();
