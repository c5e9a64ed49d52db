// stats.ts: the counters a group keeps, named as golang/groupcache names them.

/**
 * GroupStats are a group's counters since it was created. Snapshots are plain
 * objects; the group owns the live counters.
 */
export interface GroupStats {
  /** Every get, including hits and peer-served gets. */
  gets: number;
  /** Gets answered from the main or hot cache. */
  cacheHits: number;
  /** Values fetched from a peer: the key's owner, or its fallback owner. */
  peerLoads: number;
  /**
   * Asks of a peer that could not be reached: of an owner (the key then goes to
   * its fallback owner) or of a fallback owner (the key is then loaded here).
   */
  peerErrors: number;
  /** Gets that missed the cache (gets - cacheHits). */
  loads: number;
  /** Loads that actually ran after singleflight joined the concurrent ones. */
  loadsDeduped: number;
  /** Successful runs of this node's loader. */
  localLoads: number;
  /** Failed runs of this node's loader (not-found included). */
  localLoadErrs: number;
  /** Gets that arrived from other peers. */
  serverRequests: number;
  /** Gets answered with a value past its expiry, within `graceMs`, because loading it again failed. */
  staleHits: number;
  /** Background reloads started by hits inside the `refreshAhead` window. */
  refreshes: number;
}

/** CacheStats describe one of a group's two caches. */
export interface CacheStats {
  /** Bytes held (keys + values). */
  bytes: number;
  /** Entries held. */
  items: number;
  /** Lookups in this cache. */
  gets: number;
  /** Lookups that found a live entry. */
  hits: number;
  /** Entries dropped to stay within the byte budget. */
  evictions: number;
}

/** CacheType names one of a group's caches: `main` holds keys this node owns, `hot` popular keys owned elsewhere. */
export type CacheType = 'main' | 'hot';

/** newGroupStats returns zeroed counters. */
export function newGroupStats(): GroupStats {
  return {
    gets: 0,
    cacheHits: 0,
    peerLoads: 0,
    peerErrors: 0,
    loads: 0,
    loadsDeduped: 0,
    localLoads: 0,
    localLoadErrs: 0,
    serverRequests: 0,
    staleHits: 0,
    refreshes: 0,
  };
}
