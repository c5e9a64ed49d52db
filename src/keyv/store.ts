// store.ts: PeercacheKeyvStore, a Keyv storage adapter over a peercache group, so that Keyv,
// cache-manager and NestJS's cache module can use a peercache cluster as their store.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Group } from '../core/group.js';
import { InvalidArgumentError, isCacheError } from '../errors.js';

/** KeyvGroupHost is where a {@link PeercacheKeyvStore} finds or makes its group: a CacheNode or a GroupRegistry. */
export interface KeyvGroupHost {
  getGroup(name: string): Group | undefined;
  newGroup(name: string, options: { cacheBytes: number; load: () => null }): Group;
}

/** PeercacheKeyvStoreOptions configure {@link createKeyvStore}. */
export interface PeercacheKeyvStoreOptions {
  /**
   * group is the name of the group that holds the store's entries. Made on first use with
   * a loader that finds nothing (a Keyv store holds only what is set), or taken as it is
   * when the host already has it; every node of the cluster must have it. Default `keyv`.
   */
  group?: string | undefined;
  /** cacheBytes is the byte budget of the group when the store makes it. Default 64 MiB. */
  cacheBytes?: number | undefined;
  /**
   * namespace is the Keyv namespace whose entries `clear()` removes. Keyv sets it itself
   * (to its own `namespace` option, default `keyv`), so it is rarely given here.
   */
  namespace?: string | undefined;
}

const DEFAULT_GROUP = 'keyv';
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** Prefix of the keys that hold a namespace's generation; data keys start with `d`. */
const GENERATION_PREFIX = 'g:';

const encoder = new TextEncoder();

/**
 * PeercacheKeyvStore is a Keyv storage adapter (`new Keyv({ store })`) over a peercache
 * group: `get`, `set` with a TTL, `delete`, `clear`, `has` and their many-key forms reach
 * each key's owner in the cluster, with the group's consistency (docs/consistency.md).
 *
 * Keyv prefixes keys with its namespace itself; `clear()` empties only the adapter's
 * `namespace`. It does so without listing keys (a cluster cannot list them cheaply): every
 * entry is stored under its namespace's current generation, kept in the group under a key
 * of its own, and `clear()` replaces the generation, so every earlier entry becomes
 * unreachable at once on every node; the cache's LRU reclaims their memory. When the
 * generation entry itself is lost (evicted, or its owner restarted), the next operation
 * starts a new one: entries set before are then gone, but an old value never comes back.
 * Every operation reads the generation first (a local hit where this node owns or holds it).
 */
export class PeercacheKeyvStore extends EventEmitter {
  /** opts are the options the store was made with, as Keyv expects of an adapter. */
  readonly opts: PeercacheKeyvStoreOptions;
  /** namespace is the Keyv namespace this adapter's `clear()` empties; Keyv sets it. */
  namespace: string | undefined;
  /** group is the peercache group that holds the entries. */
  readonly group: Group;

  constructor(host: KeyvGroupHost, options: PeercacheKeyvStoreOptions = {}) {
    super();
    this.opts = { ...options };
    this.namespace = options.namespace;
    const name = options.group ?? DEFAULT_GROUP;
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (typeof name !== 'string' || name === '') {
      throw new InvalidArgumentError('group must be a non-empty string');
    }
    this.group =
      host.getGroup(name) ??
      host.newGroup(name, {
        cacheBytes,
        // A Keyv store holds only what was set: a miss anywhere is "not found".
        load: () => null,
      });
  }

  /** get returns the stored (serialized) value of `key`, or undefined. */
  async get(key: string): Promise<string | undefined> {
    const gen = await this.#generation();
    return this.#read(gen, key);
  }

  /** getMany returns the values of `keys`, in order, undefined where absent. */
  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const gen = await this.#generation();
    return Promise.all(keys.map((k) => this.#read(gen, k)));
  }

  /** set stores `value` under `key`, for `ttl` ms when given (else the group's TTL). */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const gen = await this.#generation();
    await this.#write(gen, key, value, ttl);
    return true;
  }

  /** setMany stores every entry of `entries`. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const gen = await this.#generation();
    await Promise.all(entries.map((e) => this.#write(gen, e.key, e.value, e.ttl)));
  }

  /** has tells whether `key` holds a value. */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** hasMany tells, for each of `keys`, whether it holds a value. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return (await this.getMany(keys)).map((v) => v !== undefined);
  }

  /**
   * delete removes `key` everywhere and tells whether it held a value (read just before
   * the removal: a set racing with the delete may make the answer stale, never the removal).
   */
  async delete(key: string): Promise<boolean> {
    const gen = await this.#generation();
    const existed = (await this.#read(gen, key)) !== undefined;
    await this.group.remove(dataKey(gen, key));
    return existed;
  }

  /** deleteMany removes every key of `keys`; true when any of them held a value. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const gen = await this.#generation();
    const existed = await Promise.all(keys.map((k) => this.#read(gen, k)));
    await Promise.all(keys.map((k) => this.group.remove(dataKey(gen, k))));
    return existed.some((v) => v !== undefined);
  }

  /** clear empties this adapter's namespace on every node (see the class's description). */
  async clear(): Promise<void> {
    await this.group.set(this.#generationKey(), randomUUID());
  }

  /** disconnect does nothing: the node that holds the group is the application's to close. */
  async disconnect(): Promise<void> {}

  #generationKey(): string {
    return `${GENERATION_PREFIX}${this.namespace ?? ''}`;
  }

  /** #generation reads the namespace's generation, starting a new one when there is none. */
  async #generation(): Promise<string> {
    const key = this.#generationKey();
    try {
      return (await this.group.get(key)).toString();
    } catch (err) {
      if (!isCacheError(err, 'NOT_FOUND')) throw err;
    }
    const gen = randomUUID();
    await this.group.set(key, gen);
    return gen;
  }

  async #read(gen: string, key: string): Promise<string | undefined> {
    try {
      return (await this.group.get(dataKey(gen, key))).toString();
    } catch (err) {
      if (isCacheError(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
  }

  async #write(gen: string, key: string, value: unknown, ttl: number | undefined): Promise<void> {
    const bytes =
      value instanceof Uint8Array
        ? value
        : encoder.encode(typeof value === 'string' ? value : JSON.stringify(value));
    await this.group.set(
      dataKey(gen, key),
      bytes,
      typeof ttl === 'number' && ttl > 0 ? { ttlMs: ttl } : {},
    );
  }
}

function dataKey(gen: string, key: string): string {
  return `d:${gen}:${key}`;
}

/**
 * createKeyvStore makes a Keyv storage adapter over the group `options.group` (default
 * `keyv`) of `host` (a CacheNode), creating the group when missing:
 * `new Keyv({ store: createKeyvStore(node) })`.
 */
export function createKeyvStore(
  host: KeyvGroupHost,
  options?: PeercacheKeyvStoreOptions,
): PeercacheKeyvStore {
  return new PeercacheKeyvStore(host, options);
}
