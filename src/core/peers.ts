// peers.ts: the seams between a group and the network. The core imports nothing
// from any transport; transports implement these small interfaces.
import { type CacheError, NotFoundError, toCacheError } from '../errors.js';
import type { NodeStats, NodeStatsRequest } from './node-stats.js';

/** Options every network call takes last. */
export interface CallOptions {
  /** Aborts the call; its reason decides Cancelled vs DeadlineExceeded. */
  signal?: AbortSignal | undefined;
  /**
   * deadline is the absolute time (ms since the epoch) after which the caller
   * no longer wants the answer. Transports send the time left to the peer
   * (gRPC's `grpc-timeout`, a header on HTTP) so the owner stops waiting too.
   */
  deadline?: number | undefined;
  /**
   * maxValueBytes is the largest value the caller takes in an answer (a group
   * passes its own `maxValueBytes`); a larger one fails with TooLargeError.
   * Default: the transport's ceiling.
   */
  maxValueBytes?: number | undefined;
  /**
   * traceparent is the W3C trace context of the request (the caller's span), when tracing
   * is on: transports carry it to the peer (HTTP's `traceparent` header, gRPC metadata, a
   * tcp frame), whose spans then join the caller's trace.
   */
  traceparent?: string | undefined;
  /**
   * generation is the sender's generation of the group (see `Group.clear`), when not 0:
   * transports carry it to the peer (HTTP's `Peercache-Generation` header, gRPC metadata,
   * a tcp GENERATION frame), which first clears itself when it is behind. 0 or absent: a
   * group never cleared, and nothing is sent.
   */
  generation?: number | undefined;
  /**
   * onGeneration hears the generation an answer to a set, remove or clear carried (a
   * get's is {@link PeerValue.generation}), when it carried one: the peer's generation
   * of the group, which the caller adopts when it is behind.
   */
  onGeneration?: ((generation: number) => void) | undefined;
}

/**
 * PeerValue is what an owner returns for a key: the bytes, the absolute expiry
 * in milliseconds since the Unix epoch (0 = never), and the owner's estimate of
 * the key's requests per minute, when it sends one (0 = unknown).
 */
export interface PeerValue {
  value: Uint8Array;
  expireAt: number;
  minuteQps: number;
  /**
   * generation is the owner's generation of the group when it found the value (see
   * `Group.clear`); 0 or absent from a peer never cleared, or one that does not know
   * generations (a Go peer). An asker whose own is higher does not keep the value.
   */
  generation?: number | undefined;
  /**
   * owned says `value` is a copy made for this answer alone: nothing writes to its bytes
   * again, and it holds no larger buffer alive than its own (a range of Node's buffer
   * pool counts as its own). The group then hands it out as it is; a value without it
   * (a range of a wire buffer, a buffer the client reuses) is copied first.
   */
  owned?: boolean | undefined;
}

/**
 * PeerGetManyResult is a peer's answer to {@link PeerClient.getMany}: every key asked,
 * mapped to its value or to the error of its get.
 */
export type PeerGetManyResult = Map<string, PeerValue | CacheError>;

/**
 * PeerClient talks to one remote peer. Errors are CacheErrors: NOT_FOUND when the
 * owner's loader said the key does not exist, anything else is a failure.
 */
export interface PeerClient {
  /** The peer's identity on the ring: its base URL. */
  readonly url: string;
  /** get asks the peer for `key` of `group`; the peer loads it if needed, never forwards it. */
  get(group: string, key: string, options?: CallOptions): Promise<PeerValue>;
  /**
   * getMany asks the peer for many keys of `group` in as few requests as the wire
   * allows (tcp: one batch frame; gRPC: one call): the answer maps every key asked to
   * its value, or to the CacheError its get would have failed with (NOT_FOUND for a key
   * that does not exist). The peer loads the keys it must as `get` does, so its
   * `loadMany` sees them together. The promise rejects only when the request as a whole
   * failed (the peer could not be reached, the deadline passed). Optional: without it,
   * a group sends one `get` per key, all at once.
   */
  getMany?(
    group: string,
    keys: readonly string[],
    options?: CallOptions,
  ): Promise<PeerGetManyResult>;
  /** set stores `value` under `key` in the peer's main cache. `expireAt` as in {@link PeerValue}. */
  set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void>;
  /** remove drops `key` from the peer's caches. */
  remove(group: string, key: string, options?: CallOptions): Promise<void>;
  /**
   * removeMany drops every key of `keys` from the peer's caches, in as few
   * requests as the wire allows (groupcache-go's `_remove-keys`: one). It fails
   * as `remove` does; the peer may then have dropped some of the keys.
   * Optional: without it, {@link removeKeys} sends one `remove` per key.
   */
  removeMany?(group: string, keys: readonly string[], options?: CallOptions): Promise<void>;
  /**
   * nodeStats asks the peer for its report of itself ({@link NodeStats}) and,
   * when the request names a group and a key, what it holds of that key. A
   * peer that does not know the call (a golang/groupcache peer over HTTP, or a
   * gRPC peer without the method) fails it with NotFoundError; any other
   * failure is the peer's usual error. Optional: a client without it cannot ask.
   */
  nodeStats?(request: NodeStatsRequest, options?: CallOptions): Promise<NodeStats>;
  /**
   * clear tells the peer that `group` was cleared at `generation` (see `Group.clear`):
   * a peer behind it empties its caches of the group and adopts the generation; one at
   * or past it changes nothing. A peer that does not know the call (a Go peer over
   * HTTP) fails it with NotFoundError. Optional: a client without it cannot tell.
   */
  clear?(group: string, generation: number, options?: CallOptions): Promise<void>;
  /**
   * close releases the client for good: it closes the client's connections,
   * its transport forgets it (asking the transport for the same URL again
   * gives a fresh client), and wrappers drop what they keep for the peer
   * (metric series, health state) before forwarding it. The ring calls it once
   * the peer has left and the requests in flight to it have ended; requests
   * made after it fail with UnavailableError. Optional: a client holding
   * nothing need not have it. Idempotent.
   */
  close?(): void;
  /**
   * inner is the client this one wraps, on a wrapper (request counting,
   * metrics, health), so that what a wrapper further in knows can be found.
   */
  readonly inner?: PeerClient | undefined;
}

/**
 * removeKeys drops `keys` at `client`: with its `removeMany` when it has one,
 * else with one `remove` per key, all at once. It settles once every request
 * has, failing with the first failure.
 */
export async function removeKeys(
  client: PeerClient,
  group: string,
  keys: readonly string[],
  options?: CallOptions,
): Promise<void> {
  if (keys.length === 0) return;
  if (client.removeMany !== undefined) return client.removeMany(group, keys, options);
  const results = await Promise.allSettled(keys.map((key) => client.remove(group, key, options)));
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

/**
 * getKeys asks `client` for `keys` of `group`: with its `getMany` when it has one, else
 * with {@link singleGets}. The answer and failures are `getMany`'s.
 */
export function getKeys(
  client: PeerClient,
  group: string,
  keys: readonly string[],
  options?: CallOptions,
): Promise<PeerGetManyResult> {
  if (client.getMany !== undefined) return client.getMany(group, keys, options);
  return singleGets(client, group, keys, options);
}

/**
 * singleGets asks `client` for each key of `keys` with its own `get`, all at once, and
 * maps each key to its value or its error: never rejects.
 */
export async function singleGets(
  client: PeerClient,
  group: string,
  keys: readonly string[],
  options?: CallOptions,
): Promise<PeerGetManyResult> {
  const outcomes = await Promise.all(
    keys.map(async (key): Promise<PeerValue | CacheError> => {
      try {
        return await client.get(group, key, options);
      } catch (err) {
        return toCacheError(err, `get ${group}/${key}`);
      }
    }),
  );
  const result: PeerGetManyResult = new Map();
  keys.forEach((key, i) => {
    if (!result.has(key)) result.set(key, outcomes[i] as PeerValue | CacheError);
  });
  return result;
}

/**
 * clearAt sends `client` the clear notice of `group` at `generation` (see
 * {@link PeerClient.clear}): a client without the call fails it with NotFoundError,
 * as a peer that does not know it does. For wrappers of a client.
 */
export function clearAt(
  client: PeerClient,
  group: string,
  generation: number,
  options?: CallOptions,
): Promise<void> {
  if (client.clear === undefined) {
    return Promise.reject(new NotFoundError(`peer ${client.url}: its client has no clear call`));
  }
  return client.clear(group, generation, options);
}

/**
 * PeerPicker maps a key to its owner. `pickPeer` returns the owner's client, or
 * `undefined` when this node owns the key (or has no peers).
 */
export interface PeerPicker {
  pickPeer(key: string): PeerClient | undefined;
  /**
   * member is false on a client-only node (a gateway): a key no peer owns has
   * no owner at all, rather than being this node's. Default true.
   */
  readonly member?: boolean;
  /** Every peer other than this node, for fan-out (e.g. `remove`). */
  otherPeers(): readonly PeerClient[];
  /**
   * pickFallback names the fallback owner of `key`, who loads it while its
   * owner cannot be reached: the first member after the owner, walking the
   * ring, that is healthy (this node counts as healthy). Its client, `'self'`
   * when it is this node, or `undefined` when there is none. Every node with
   * the same ring and the same view of health names the same one, so a key is
   * still loaded once in the cluster. Optional: without it an unreachable
   * owner's keys are loaded by the node that asks.
   */
  pickFallback?(key: string): PeerClient | 'self' | undefined;
  /**
   * owns tells whether this node is the owner of `key` when a peer asks it for
   * the key: like `pickPeer(key) === undefined`, but it also counts as gone the
   * members that announced they are about to leave, whose keys peers may start
   * asking this node for at any moment. Optional: without it, `pickPeer` decides.
   */
  owns?(key: string): boolean;
}

/** noPeers is the PeerPicker of a single process: it owns every key. */
export const noPeers: PeerPicker = {
  pickPeer: () => undefined,
  otherPeers: () => [],
};

/**
 * PeerServedGroup is the face a group shows to transport servers: requests that
 * came from a peer. They are answered locally and never forwarded again, so
 * peers that briefly disagree about the ring cannot bounce a request around.
 */
export interface PeerServedGroup {
  readonly name: string;
  /**
   * maxKeyBytes is the largest key this group takes, in UTF-8 bytes: servers
   * refuse a longer one (within their own ceiling). Default: the server's limit.
   */
  readonly maxKeyBytes?: number | undefined;
  /**
   * maxValueBytes is the largest value this group takes: servers refuse a
   * larger write (within their own ceiling). Default: the server's limit.
   */
  readonly maxValueBytes?: number | undefined;
  /**
   * Load `key` here (cache, then loader) without asking any peer. A key this node
   * does not own (it is the key's fallback owner) is kept as a fallback copy. A
   * cache hit may be answered at once, without a promise; failures are always a
   * rejected promise.
   */
  getForPeer(key: string, options?: CallOptions): PeerValue | Promise<PeerValue>;
  /**
   * Store a value a peer sent (this node owns the key). `options.deadline` is
   * the time the sender gave the write, when it sent one; the server has
   * already refused a write that arrived past it.
   */
  setFromPeer(key: string, value: Uint8Array, expireAt: number, options?: CallOptions): void;
  /** Drop `key` from this node's caches. `options` as for `setFromPeer`. */
  removeFromPeer(key: string, options?: CallOptions): void;
  /**
   * generation is the group's generation (see `Group.clear`), 0 until first cleared:
   * servers send it back with the answers to sets and removes when it is not 0.
   * Optional: a group without it is never cleared.
   */
  readonly generation?: number | undefined;
  /**
   * clearFromPeer applies a peer's clear notice: when `generation` is higher than the
   * group's, the group empties its caches and adopts it; otherwise nothing changes.
   * A generation that is not a positive whole number is an InvalidArgumentError.
   * Optional: servers answer the notice of a group without it as done, with nothing to clear.
   */
  clearFromPeer?(generation: number): void;
}

/**
 * parseGeneration is `value` as a generation a peer sent: a positive safe integer, else
 * undefined (malformed, not taken).
 */
export function parseGeneration(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** GroupLookup resolves a group name for a transport server. */
export interface GroupLookup {
  getGroup(name: string): PeerServedGroup | undefined;
  /**
   * nodeStats answers a peer's stats call. Optional: servers answer the call
   * NOT_FOUND (HTTP 404, gRPC NOT_FOUND) for a lookup without it.
   */
  nodeStats?(request: NodeStatsRequest): NodeStats;
}
