// churn-map.ts: a Map for tables whose entries come and go all the time (requests
// in flight), renewed now and then so the garbage collector can keep up with it.

/**
 * After this many deletions (and at least as many as there are entries, so the
 * copying stays a constant cost per call), the next insertion moves the entries
 * into a new Map.
 */
const RENEW_AFTER_DELETES = 1024;

/**
 * ChurnMap is a Map for a long-lived table whose entries live briefly: requests
 * or loads in flight, added and deleted many thousand times a second.
 *
 * A V8 Map keeps its entries in a hash table that it replaces with a new one
 * whenever deleted entries fill it, and the replaced table keeps a pointer to
 * its successor, entries and all. Once one of those tables has been promoted to
 * the old generation (it lived through two young collections, as a table does
 * in a quiet spell), it holds its successor alive through every young
 * collection until the next full one, that successor holds the next, and so on:
 * every later table and every entry ever put in them is promoted, and the
 * young generation's garbage becomes old garbage. Under steady load this was
 * seen to make a process's full collections run several times a second and
 * cost it a quarter of its throughput. A ChurnMap moves its entries into a
 * fresh Map after every {@link RENEW_AFTER_DELETES} deletions, which ends any
 * such chain; with tens of entries in flight that is a few nanoseconds a call.
 * The tables of a cache, big and long-lived, are not its use.
 *
 * It has the subset of Map's interface the tables need. Iterating while
 * adding may visit entries deleted meanwhile: callers check what they find.
 */
export class ChurnMap<K, V> {
  #map = new Map<K, V>();
  #deletes = 0;

  /** size is the number of entries. */
  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    if (this.#deletes >= RENEW_AFTER_DELETES && this.#deletes >= this.#map.size) {
      this.#deletes = 0;
      this.#map = new Map(this.#map);
    }
    this.#map.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.#map.delete(key)) return false;
    this.#deletes++;
    return true;
  }

  clear(): void {
    this.#map = new Map();
    this.#deletes = 0;
  }

  values(): MapIterator<V> {
    return this.#map.values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map[Symbol.iterator]();
  }
}
