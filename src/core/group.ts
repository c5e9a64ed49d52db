// group.ts: Group, a named cache namespace with a byte budget and a loader; the
// read-through logic (cache, singleflight, owner peer, local load) lives here.
import { defaultMaxListeners, setMaxListeners } from 'node:events';
import {
  abortError,
  CacheError,
  ClearIncompleteError,
  InternalError,
  InvalidArgumentError,
  isCacheError,
  NotFoundError,
  peerUnreachable,
  TooLargeError,
  toCacheError,
  UnavailableError,
} from '../errors.js';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../limits.js';
import { type FlightContext, SingleFlight } from '../singleflight/singleflight.js';
import { type Clock, systemClock, timeoutSignal } from '../util/clock.js';
import { LogThrottle } from '../util/log-throttle.js';
import { type HotKey, WindowedHotKeys } from '../util/space-saving.js';
import { BatchLoader, type LoadManyFn } from './batch-loader.js';
import { ByteView } from './byteview.js';
import { adoptBytes, viewBytes } from './byteview-internal.js';
import {
  type CacheValue,
  type Entry,
  type Hit,
  hitExpireAt,
  hitView,
  TwoTierCache,
  unstoredHit,
  valueBytes,
} from './cache.js';
import { peerLeaving } from './leave.js';
import type { Logger } from './logger.js';
import { noopLogger } from './logger.js';
import {
  type CallOptions,
  type PeerClient,
  type PeerGetManyResult,
  type PeerPicker,
  type PeerServedGroup,
  type PeerValue,
  parseGeneration,
  removeKeys,
} from './peers.js';
import { ByteViewSink, type Sink } from './sinks.js';
import { type CacheStats, type CacheType, type GroupStats, newGroupStats } from './stats.js';
import {
  type SpanAttributes,
  type SpanKind,
  settleSpan,
  type Telemetry,
  type TelemetrySpan,
} from './telemetry.js';

/** What a loader may return: the value, or `null`/`undefined` when the key does not exist. */
export type LoadResult =
  | string
  | Uint8Array
  | ByteView
  | null
  | undefined
  | {
      value: string | Uint8Array | ByteView;
      /** ttlMs is this value's time to live, in ms (0 = never expires). Default: the group's. */
      ttlMs?: number | undefined;
      /** @deprecated Use `ttlMs`, the same in ms. */
      ttl?: number | undefined;
    };

/** LoadContext is passed to a loader. */
export interface LoadContext {
  /**
   * Aborts when every caller waiting for this load has given up, or the load
   * timed out. Made when first read: a loader that ignores it costs nothing.
   */
  readonly signal: AbortSignal;
  /** The group's name. */
  group: string;
}

/**
 * LoadFn loads the value of `key` from the source of truth. Return the value (a
 * string, bytes, or `{ value, ttlMs }` for a per-key expiry in ms), or
 * `null`/`undefined` when the key does not exist; throw on failure.
 */
export type LoadFn = (key: string, ctx: LoadContext) => LoadResult | Promise<LoadResult>;

/**
 * Getter is the seed's loader interface: fill `dest` with the value of `key`,
 * or return the value directly. Throw {@link NotFoundError} when the key does
 * not exist.
 */
export interface Getter {
  // biome-ignore lint/suspicious/noConfusingVoidType: a getter that fills its sink returns nothing.
  get(key: string, dest: Sink, ctx: LoadContext): void | LoadResult | Promise<void | LoadResult>;
}

/** GroupOptions configure a {@link Group}. */
export interface GroupOptions {
  /** Byte budget of the group's main and hot caches together (keys + values). 0 disables caching. */
  cacheBytes: number;
  /**
   * The loader, as a function. Give exactly one of `load` and `getter`; a group
   * of a client-only node (`member: false`), which never loads, may have neither.
   */
  load?: LoadFn | undefined;
  /** The loader, as a {@link Getter}. */
  getter?: Getter | undefined;
  /**
   * loadMany loads many keys in one call (one query instead of one per key): the keys this
   * node loads within one turn of the event loop, up to `batchMax` at a time, go to one
   * call, as DataLoader does, while each key keeps its own singleflight. It may be given
   * instead of `load`/`getter` or besides them; when given, every load of the group goes
   * through it.
   */
  loadMany?: LoadManyFn<LoadResult> | undefined;
  /** batchMax is the most keys in one `loadMany` call. Default 100. */
  batchMax?: number | undefined;
  /** Entry limit of each cache, on top of the byte budget. Default: none. */
  maxEntries?: number | undefined;
  /** ttlMs is the default time to live of loaded and set values, in ms. Default: 0, no expiry. */
  ttlMs?: number | undefined;
  /** @deprecated Use `ttlMs`, the same in ms. */
  ttl?: number | undefined;
  /** notFoundTtlMs caches a not-found answer for this many ms. Default: 0, not cached. */
  notFoundTtlMs?: number | undefined;
  /** @deprecated Use `notFoundTtlMs`, the same in ms. */
  notFoundTtl?: number | undefined;
  /**
   * refreshAhead is the fraction of a loaded value's time to live, at its end, in which a
   * hit still answers the cached value at once and also reloads it in the background: on
   * the owner with the loader (once, however many hits), on other nodes from the owner.
   * A reload that fails or finds nothing leaves the value to expire as it would have.
   * Between 0 and 1; values set with `set` are not reloaded. Default: 0, off.
   */
  refreshAhead?: number | undefined;
  /**
   * graceMs is how long after its expiry a value may still be served, when loading it
   * again fails (the loader's error, or no node that could load it can be reached): the
   * caller then gets the stale value instead of the error, counted in `staleHits`. A
   * not-found answer is never hidden by a stale value. Default: 0, no grace.
   */
  graceMs?: number | undefined;
  /**
   * fallbackTtlMs is how long, in ms, a non-owner keeps a value it loaded itself
   * because the owner could not be reached: in the hot cache, never longer than
   * the group's `ttlMs` (when set) or the value's own. 0 keeps no fallback copy.
   * Default: 2,000.
   */
  fallbackTtlMs?: number | undefined;
  /** @deprecated Use `fallbackTtlMs`, the same in ms. */
  fallbackTtl?: number | undefined;
  /** A load that has not settled after this many ms fails its callers. Default: 30,000. 0: no limit. */
  loadTimeoutMs?: number | undefined;
  /** Largest key, in UTF-8 bytes. Default: 4096. */
  maxKeyBytes?: number | undefined;
  /** Largest value, in bytes. Default: 64 MiB. */
  maxValueBytes?: number | undefined;
  /**
   * hotCacheChance is the probability that a value fetched from its owner is
   * kept in the hot cache. Default 0.1, golang/groupcache's one in ten. A key the
   * group's hot-key sketch counts as a heavy hitter (asked at least once per
   * `hotKeyCapacity` gets over the last minute) is kept whatever the draw; 0
   * keeps nothing.
   */
  hotCacheChance?: number | undefined;
  /**
   * hotKeyCapacity is how many keys the group's heavy-hitters sketch counts (in
   * each of its two half-minute halves), for {@link Group.hotKeys}; 0 turns it
   * off. Default 256.
   */
  hotKeyCapacity?: number | undefined;
  /**
   * hotKeySampleEvery: past the first 1,024 gets of each half minute, the
   * sketch counts about one get in this many (with that weight), so that it
   * costs a busy node's cache hits almost nothing; 1 counts every get.
   * Default 64.
   */
  hotKeySampleEvery?: number | undefined;
  /** Clock in ms since the epoch, for expiry and the hot-key window. Default `Date.now`. */
  /**
   * clock is the group's time source: expiry, deadlines and load timeouts.
   * Default {@link systemClock}; a node gives its groups its own.
   */
  clock?: Clock | undefined;
  /**
   * now is the epoch clock in ms, for expiry only. Default: `clock`'s.
   * @deprecated Give `clock`, which drives the timers as well.
   */
  now?: (() => number) | undefined;
  /** Random source in [0, 1), for the hot-cache choice. Default `Math.random`. */
  random?: (() => number) | undefined;
  /** Logger for loads and peer errors. Default: silent. */
  logger?: Logger | undefined;
  /**
   * telemetry traces the group's gets, peer requests, loads and writes (see
   * `peercache/otel`); a node gives its groups its own. Default: none, no cost.
   */
  telemetry?: Telemetry | undefined;
}

/**
 * GetOptions are the options of {@link Group.get}: `signal` ends this caller's
 * wait; `deadline` (ms since the epoch) ends it at that time too and, when this
 * caller starts the load, travels to the owner peer so it stops waiting as well.
 */
export interface GetOptions extends CallOptions {}

/**
 * SetOptions are the options of {@link Group.set}: `signal` ends the caller's
 * wait; `deadline` (ms since the epoch) ends it at that time too, and travels
 * with the write to the owner peer and with the requests that tell every other
 * peer to drop its copy, so each of them is given the same time. No deadline
 * by default (each peer call is still bounded by its request timeout).
 */
export interface SetOptions extends CallOptions {
  /** ttlMs is the value's time to live in ms; default the group's `ttlMs` (0 = never expires). */
  ttlMs?: number | undefined;
  /** @deprecated Use `ttlMs`, the same in ms. */
  ttl?: number | undefined;
}

/**
 * ClearResult is what {@link Group.clear} resolves to: the group's new generation, and
 * the peers that do not know the clear notice (a Go groupcache peer over HTTP, a client of
 * your own without `clear`): their caches were not emptied.
 */
export interface ClearResult {
  /** generation is the group's generation the clear set. */
  generation: number;
  /** unsupported are the URLs of the peers that do not take clear notices. */
  unsupported: string[];
}

const DEFAULT_LOAD_TIMEOUT_MS = 30_000;
/** The first wait before a clear notice is sent again to the peers that missed it, in ms. */
const CLEAR_RETRY_MS = 1_000;
/** The longest wait between two retries of a clear notice, in ms. */
const CLEAR_RETRY_MAX_MS = 30_000;
const DEFAULT_FALLBACK_TTL_MS = 2_000;
/** How many owners a set (or a get) tries when owners answer that they are leaving the cluster. */
const MAX_WRITE_TRIES = 3;

function checkNumber(name: string, v: number | undefined, min: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min) {
    throw new InvalidArgumentError(`${name} must be a number >= ${min}, got ${String(v)}`);
  }
}

/**
 * renamed is the value of an option that has a current name and a deprecated
 * one: whichever is given, checked as a number >= 0. Both, with different
 * values, is an InvalidArgumentError.
 */
function renamed(
  name: string,
  value: number | undefined,
  oldName: string,
  old: number | undefined,
): number | undefined {
  if (value !== undefined && old !== undefined && value !== old) {
    throw new InvalidArgumentError(`give ${name} or its former name ${oldName}, not both`);
  }
  const v = value ?? old;
  checkNumber(value !== undefined ? name : oldName, v, 0);
  return v;
}

/** Set once, by Group's static block (so declared before the class): see {@link answerPeer}. */
let answerPeerSlot: (
  group: Group,
  key: string,
  options: CallOptions | undefined,
) => PeerValue | Promise<PeerValue>;

/**
 * Group is a cache namespace: a name, a byte budget and a loader. `get` answers
 * from the cache, or loads the value once however many callers ask at once —
 * from the key's owner when another peer owns it, else with the loader.
 * Create groups with `newGroup` of a {@link GroupRegistry} (or a Node).
 */
export class Group implements PeerServedGroup {
  /** The group's name. */
  readonly name: string;
  readonly #load: LoadFn;
  /** Gathers loads into `loadMany` calls, when the group has one. */
  readonly #batch: BatchLoader<LoadResult> | undefined;
  readonly #cache: TwoTierCache;
  readonly #peers: () => PeerPicker;
  readonly #stats: GroupStats = newGroupStats();
  /** Flights that load locally: shared by local and peer-served gets, never forward. */
  readonly #localFlights: SingleFlight<Hit>;
  /** Flights that ask the owner peer (dedupes this node's concurrent callers). */
  readonly #remoteFlights: SingleFlight<ByteView>;
  readonly #ttl: number;
  readonly #notFoundTtl: number;
  readonly #refreshAhead: number;
  readonly #graceMs: number;
  /** Keys being reloaded in the background (refreshAhead): one reload per key at a time. */
  readonly #refreshing = new Set<string>();
  /** How long a fallback copy lives, already capped by the group's ttl. */
  readonly #fallbackTtl: number;
  readonly #maxKeyBytes: number;
  readonly #maxValueBytes: number;
  readonly #hotCacheChance: number;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #tel: Telemetry | undefined;
  /** Peer failures reach the log once per peer per interval, with a count: a dead peer fails every get of its keys. */
  readonly #peerLog: LogThrottle;
  /** Gets per key over about the last minute, or undefined when turned off. */
  readonly #hotKeys: WindowedHotKeys | undefined;
  /**
   * Gets until the sketch counts the next one (see WindowedHotKeys.take), kept here so
   * a hit skips the call; Infinity without a sketch, so it never runs out.
   */
  #hotSkip = 1;
  /** The group's generation: 0 until first cleared, then the latest clear's (see clear). */
  #generation = 0;
  /** URLs of the peers still owed the notice of the latest clear, retried in the background. */
  readonly #unclear = new Set<string>();
  #clearTimer: unknown;
  #clearRetryMs = CLEAR_RETRY_MS;
  /** Hears the generation an answer to a write carried; made once, shared by every call. */
  readonly #sawGeneration = (generation: number): void => {
    if (generation > this.#generation) this.#adopt(generation, 'an answer');
  };

  /** @internal Use `GroupRegistry.newGroup`. */
  constructor(name: string, options: GroupOptions, peers: () => PeerPicker) {
    if (typeof name !== 'string' || name === '') {
      throw new InvalidArgumentError('group name must be a non-empty string');
    }
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(`group ${name}: options are required`);
    }
    if (typeof options.cacheBytes !== 'number') {
      throw new InvalidArgumentError(`group ${name}: cacheBytes must be a number`);
    }
    checkNumber('cacheBytes', options.cacheBytes, 0);
    checkNumber('maxEntries', options.maxEntries, 1);
    const ttlMs = renamed('ttlMs', options.ttlMs, 'ttl', options.ttl);
    const notFoundTtlMs = renamed(
      'notFoundTtlMs',
      options.notFoundTtlMs,
      'notFoundTtl',
      options.notFoundTtl,
    );
    const fallbackTtlMs = renamed(
      'fallbackTtlMs',
      options.fallbackTtlMs,
      'fallbackTtl',
      options.fallbackTtl,
    );
    checkNumber('loadTimeoutMs', options.loadTimeoutMs, 0);
    checkNumber('maxKeyBytes', options.maxKeyBytes, 1);
    checkNumber('maxValueBytes', options.maxValueBytes, 0);
    checkNumber('hotCacheChance', options.hotCacheChance, 0);
    checkNumber('refreshAhead', options.refreshAhead, 0);
    checkNumber('graceMs', options.graceMs, 0);
    if ((options.refreshAhead ?? 0) >= 1) {
      throw new InvalidArgumentError('refreshAhead must be at least 0 and less than 1');
    }
    checkNumber('hotKeyCapacity', options.hotKeyCapacity, 0);
    checkNumber('hotKeySampleEvery', options.hotKeySampleEvery, 1);
    for (const name of ['hotKeyCapacity', 'hotKeySampleEvery'] as const) {
      const v = options[name];
      if (v !== undefined && !Number.isSafeInteger(v)) {
        throw new InvalidArgumentError(`${name} must be a whole number, got ${v}`);
      }
    }
    if ((options.hotCacheChance ?? 0) > 1) {
      throw new InvalidArgumentError('hotCacheChance must be between 0 and 1');
    }
    if (options.load !== undefined && options.getter !== undefined) {
      throw new InvalidArgumentError(`group ${name}: give exactly one of load and getter`);
    }
    if (
      options.load === undefined &&
      options.getter === undefined &&
      options.loadMany === undefined &&
      peers().member !== false
    ) {
      throw new InvalidArgumentError(`group ${name}: give a loader: load, getter or loadMany`);
    }
    if (options.loadMany !== undefined && typeof options.loadMany !== 'function') {
      throw new InvalidArgumentError(`group ${name}: loadMany must be a function`);
    }
    if (options.load !== undefined && typeof options.load !== 'function') {
      throw new InvalidArgumentError(`group ${name}: load must be a function`);
    }
    if (options.getter !== undefined && typeof options.getter?.get !== 'function') {
      throw new InvalidArgumentError(`group ${name}: getter must have a get method`);
    }
    this.name = name;
    this.#load =
      options.load ??
      (options.getter === undefined ? neverLoads : getterToLoad(options.getter as Getter));
    this.#batch =
      options.loadMany === undefined
        ? undefined
        : new BatchLoader({ loadMany: options.loadMany, group: name, batchMax: options.batchMax });
    this.#peers = peers;
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? (this.#clock === systemClock ? Date.now : () => this.#clock.now());
    this.#random = options.random ?? Math.random;
    this.#ttl = ttlMs ?? 0;
    this.#notFoundTtl = notFoundTtlMs ?? 0;
    this.#refreshAhead = options.refreshAhead ?? 0;
    this.#graceMs = options.graceMs ?? 0;
    const fallbackTtl = fallbackTtlMs ?? DEFAULT_FALLBACK_TTL_MS;
    this.#fallbackTtl = this.#ttl > 0 ? Math.min(fallbackTtl, this.#ttl) : fallbackTtl;
    this.#maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.#hotCacheChance = options.hotCacheChance ?? 0.1;
    this.#log = options.logger ?? noopLogger;
    this.#tel = options.telemetry;
    this.#peerLog = new LogThrottle({ now: this.#now });
    const hotKeyCapacity = options.hotKeyCapacity ?? 256;
    this.#hotKeys =
      hotKeyCapacity === 0
        ? undefined
        : new WindowedHotKeys({
            capacity: hotKeyCapacity,
            sampleEvery: options.hotKeySampleEvery,
            now: this.#now,
          });
    if (this.#hotKeys === undefined) this.#hotSkip = Number.POSITIVE_INFINITY;
    this.#cache = new TwoTierCache({
      cacheBytes: options.cacheBytes,
      maxEntries: options.maxEntries,
      now: this.#now,
      graceMs: this.#graceMs,
    });
    const loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    this.#localFlights = new SingleFlight<Hit>({ timeoutMs: loadTimeoutMs, clock: this.#clock });
    this.#remoteFlights = new SingleFlight<ByteView>({
      timeoutMs: loadTimeoutMs,
      clock: this.#clock,
    });
  }

  /**
   * get returns the value of `key`: from the cache, else loaded once however
   * many callers ask at once (from the owner peer, or with the loader). With a
   * `sink`, the value is also written into it. Rejects with NotFoundError when
   * the key does not exist, InvalidArgumentError/TooLargeError for a bad key,
   * Cancelled/DeadlineExceeded when the caller's signal fires, and the loader's
   * error (as a CacheError) when loading fails.
   */
  get(key: string, options?: GetOptions): Promise<ByteView>;
  get(key: string, sink: Sink, options?: GetOptions): Promise<ByteView>;
  get(key: string, a?: Sink | GetOptions, b?: GetOptions): Promise<ByteView> {
    const bad = this.#checkKey(key);
    if (bad !== undefined) return Promise.reject(bad);
    const sink =
      a !== undefined && typeof (a as Sink).setView === 'function' ? (a as Sink) : undefined;
    const options = sink === undefined ? (a as GetOptions | undefined) : b;
    if (this.#tel !== undefined) {
      const span = this.#span('peercache.get', 'internal', key) as TelemetrySpan;
      return settleSpan(span, this.#get(key, sink, options, span));
    }
    return this.#get(key, sink, options, undefined);
  }

  #get(
    key: string,
    sink: Sink | undefined,
    options: GetOptions | undefined,
    span: TelemetrySpan | undefined,
    batch?: OwnerBatches,
  ): Promise<ByteView> {
    this.#stats.gets++;
    if (--this.#hotSkip === 0) this.#hotSkip = (this.#hotKeys as WindowedHotKeys).take(key);
    const view = this.#cache.get(key);
    if (view !== undefined) {
      this.#stats.cacheHits++;
      if (view === null) return Promise.reject(new NotFoundError(`not found: ${key}`));
      if (this.#refreshAhead > 0) this.#refreshIfDue(key, this.#cache.lastRefreshAt);
      if (sink !== undefined) sink.setView(view);
      span?.setAttribute('peercache.hit', true);
      return Promise.resolve(view);
    }
    span?.setAttribute('peercache.hit', false);
    this.#stats.loads++;
    let loading = this.#loadAnywhere(key, options, span, batch);
    if (this.#graceMs > 0) {
      loading = loading.catch((err: unknown) => this.#staleOr(key, err, options));
    }
    if (sink === undefined) return loading;
    return loading.then((v) => {
      sink.setView(v);
      return v;
    });
  }

  /**
   * #span starts a span of this group's telemetry (undefined without one), with the group,
   * the key when the telemetry records keys, and `extra`.
   */
  #span(
    name: string,
    kind: SpanKind,
    key: string,
    parent?: TelemetrySpan | string,
    extra?: SpanAttributes,
  ): TelemetrySpan | undefined {
    const tel = this.#tel;
    if (tel === undefined) return undefined;
    return tel.startSpan(name, kind, this.#attributes(key, extra), parent);
  }

  #attributes(key: string, extra?: SpanAttributes): SpanAttributes {
    const attributes: SpanAttributes = { 'peercache.group': this.name, ...extra };
    if (this.#tel?.traceKeys) attributes['peercache.key'] = key;
    return attributes;
  }

  /**
   * getMany gets many keys at once: a `Map` (in the order of `keys`) of each key found to
   * its value; a key that does not exist is absent, and a key whose get failed otherwise
   * is absent too, with its error in the result's `errors`: one key's failure does not
   * fail the others. Each key goes its own way as in {@link Group.get} (cache, its owner,
   * or the loader; concurrent gets of a key share one load, whichever call asked for it),
   * but the keys to ask of one owner go to it together, in one request where its
   * transport has one (`PeerClient.getMany`: tcp, gRPC, memory; over HTTP, one get per
   * key), and the keys an owner loads together go to its `loadMany` in one call.
   */
  async getMany(keys: Iterable<string>, options?: GetOptions): Promise<GetManyResult> {
    const unique = [...new Set(keys)];
    const tel = this.#tel;
    const span =
      tel === undefined
        ? undefined
        : tel.startSpan('peercache.getMany', 'internal', {
            'peercache.group': this.name,
            'peercache.keys': unique.length,
          });
    const signal = this.#waitSignal(options);
    // Every key's wait listens to the caller's one signal: that many listeners are expected.
    if (signal !== undefined) setMaxListeners(defaultMaxListeners + unique.length, signal);
    const batch = new OwnerBatches(signal, span);
    const values: Array<ByteView | undefined> = new Array(unique.length);
    const failures = new Map<number, unknown>();
    const waits = unique.map((key, i) => {
      const bad = this.#checkKey(key);
      const got =
        bad !== undefined
          ? Promise.reject(bad)
          : this.#get(key, undefined, options, undefined, batch);
      return got.then(
        (v) => {
          values[i] = v;
        },
        (err: unknown) => {
          if (!isCacheError(err, 'NOT_FOUND')) failures.set(i, err);
        },
      );
    });
    for (const [owner, asks] of batch.byOwner) this.#askOwnerMany(owner, asks, span);
    const settled = Promise.all(waits);
    await (span === undefined ? settled : settleSpan(span, settled));
    const result = new GetManyResult();
    for (let i = 0; i < unique.length; i++) {
      const v = values[i];
      if (v !== undefined) result.set(unique[i] as string, v);
    }
    for (const [i, err] of failures) {
      const key = unique[i] as string;
      result.errors.set(key, toCacheError(err, `get ${this.name}/${key}`));
    }
    return result;
  }

  /**
   * peek returns the cached value of `key` without loading, or `undefined` on a
   * miss (including a cached not-found). It counts as a get in the stats and
   * the hot keys.
   */
  peek(key: string): ByteView | undefined {
    if (this.#checkKey(key) !== undefined) return undefined;
    this.#stats.gets++;
    if (--this.#hotSkip === 0) this.#hotSkip = (this.#hotKeys as WindowedHotKeys).take(key);
    const view = this.#cache.get(key);
    if (view === undefined || view === null) return undefined;
    this.#stats.cacheHits++;
    return view;
  }

  /**
   * set stores `value` under `key`, on the key's owner: locally when this node
   * owns it, else on the owner peer (the call fails if the owner cannot be
   * reached), and this node drops its own copy. Other peers are told to drop
   * theirs. Loads of `key` already in flight anywhere are superseded: they still
   * answer their callers but are never stored over the value. `ttlMs` defaults to
   * the group's.
   */
  async set(
    key: string,
    value: string | Uint8Array | ByteView,
    options?: SetOptions,
  ): Promise<void> {
    const bad = this.#checkKey(key);
    if (bad !== undefined) throw bad;
    if (
      typeof value !== 'string' &&
      !(value instanceof Uint8Array) &&
      !(value instanceof ByteView)
    ) {
      throw new InvalidArgumentError('value must be a string, Uint8Array or ByteView');
    }
    const ttlMs = renamed('ttlMs', options?.ttlMs, 'ttl', options?.ttl);
    this.#checkValue(valueBytes(value));
    const ttl = ttlMs ?? this.#ttl;
    const expireAt = ttl > 0 ? this.#now() + ttl : 0;
    const picker = this.#peers();
    let owner = picker.pickPeer(key);
    if (owner === undefined && picker.member === false) {
      throw new UnavailableError(`no cache node owns ${key}: the ring is empty`);
    }
    // Bytes of our own: the caller may change its buffer while the request is
    // out, and a peer client is never handed a cached view's storage.
    let bytes: Uint8Array | undefined;
    for (let tries = 1; ; tries++) {
      if (owner === undefined) {
        // The cache makes the copy it keeps; in the same step, loads in flight lose
        // the right to store (see #supersede).
        this.#cache.add('main', key, value, expireAt);
        this.#supersede(key);
        break;
      }
      bytes ??= value instanceof ByteView ? value.byteSlice() : viewBytes(ByteView.from(value));
      try {
        const span = this.#span('peercache.set', 'client', key, undefined, {
          'peercache.peer': owner.url,
        });
        const setting = owner.set(this.name, key, bytes, expireAt, {
          signal: options?.signal,
          deadline: options?.deadline,
          traceparent: span?.traceparent,
          generation: this.#generation,
          onGeneration: this.#sawGeneration,
        });
        await (span === undefined ? setting : settleSpan(span, setting));
      } catch (err) {
        // An owner that is leaving the cluster refused the write, and is off the
        // routing by now (its client saw the answer first): the key's next owner,
        // which holds it once the owner is gone, takes it instead.
        const next = peerLeaving(err) && tries < MAX_WRITE_TRIES ? picker.pickPeer(key) : owner;
        if (next === owner) throw err;
        owner = next;
        continue;
      }
      // Drop the copy rather than keep the value: a later write from another node
      // may have told us to drop ours while this one's ack was on the way, and
      // keeping this value then would put an older write over a newer one.
      this.#dropCopy(key);
      break;
    }
    await this.#tellOthers(picker, owner, key, options);
  }

  /**
   * remove drops `key` everywhere: at the owner (the call fails if the owner
   * cannot be reached), here, and on every other peer that may hold a copy
   * (best effort: failures there are counted as peer errors and logged).
   * `options.signal` ends the caller's wait; `options.deadline` (ms since the
   * epoch, none by default) ends it too and travels to the owner and to every
   * other peer told to drop its copy, as a get's does.
   */
  async remove(key: string, options?: CallOptions): Promise<void> {
    const bad = this.#checkKey(key);
    if (bad !== undefined) throw bad;
    const picker = this.#peers();
    const owner = picker.pickPeer(key);
    if (owner === undefined && picker.member === false) {
      throw new UnavailableError(`no cache node owns ${key}: the ring is empty`);
    }
    const call = this.#writeCall(options);
    if (owner !== undefined) {
      const span = this.#span('peercache.remove', 'client', key, undefined, {
        'peercache.peer': owner.url,
      });
      const removing = owner.remove(this.name, key, { ...call, traceparent: span?.traceparent });
      await (span === undefined ? removing : settleSpan(span, removing));
    }
    this.#dropCopy(key);
    await this.#tellOthers(picker, owner, key, call);
  }

  /**
   * removeMany drops every key of `keys` everywhere, as `remove` does for one,
   * in few requests: each owner is sent its own keys first (with groupcache-go
   * peers, one `_remove-keys` request; with others, one request per key), then
   * this node drops its copies, then every other peer is sent the keys it does
   * not own (best effort, as for `remove`). Each peer is told only after the
   * keys' owners have dropped them, so no peer can fetch an owner's old value
   * again after dropping its copy. When an owner cannot be reached the call
   * fails with its error, after the keys of the owners that could be reached
   * have been removed everywhere. Duplicate keys count once; a bad key fails
   * the call before anything is sent. `options` as for `remove`.
   */
  async removeMany(keys: Iterable<string>, options?: CallOptions): Promise<void> {
    const unique = [...new Set(keys)];
    for (const key of unique) {
      const bad = this.#checkKey(key);
      if (bad !== undefined) throw bad;
    }
    if (unique.length === 0) return;
    const picker = this.#peers();
    const byOwner = new Map<PeerClient, string[]>();
    const done: string[] = [];
    for (const key of unique) {
      const owner = picker.pickPeer(key);
      if (owner === undefined) {
        if (picker.member === false) {
          throw new UnavailableError(`no cache node owns ${key}: the ring is empty`);
        }
        done.push(key);
      } else {
        const owned = byOwner.get(owner);
        if (owned === undefined) byOwner.set(owner, [key]);
        else owned.push(key);
      }
    }
    const call = this.#writeCall(options);
    const owners = [...byOwner];
    const results = await Promise.allSettled(
      owners.map(([owner, owned]) => removeKeys(owner, this.name, owned, call)),
    );
    let failure: unknown;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') done.push(...(owners[i]?.[1] ?? []));
      else failure ??= r.reason;
    });
    for (const key of done) this.#dropCopy(key);
    await this.#tellOthersMany(picker, byOwner, done, call);
    if (failure !== undefined) throw failure;
  }

  /**
   * Ask every peer to drop its copies of `keys`, but not of the keys it owns
   * (it dropped those first), with the write's signal and deadline.
   */
  async #tellOthersMany(
    picker: PeerPicker,
    byOwner: ReadonlyMap<PeerClient, readonly string[]>,
    keys: readonly string[],
    options: CallOptions,
  ): Promise<void> {
    if (keys.length === 0) return;
    const others = picker.otherPeers();
    const results = await Promise.allSettled(
      others.map((peer) => {
        const owned = byOwner.get(peer);
        const mine = owned === undefined ? undefined : new Set(owned);
        const rest = mine === undefined ? keys : keys.filter((k) => !mine.has(k));
        return removeKeys(peer, this.name, rest, options);
      }),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.#notDropped(others[i]?.url ?? '', keys.length, r.reason);
    });
  }

  /** Drop this node's copy of `key` and supersede its loads of it, in one step. */
  #dropCopy(key: string): void {
    this.#cache.remove(key);
    this.#supersede(key);
  }

  /**
   * #supersede marks this node's loads of `key` in flight (local and from the
   * owner) as older than a write, and frees the key for fresh ones. It runs in
   * the same synchronous step as the write's change to the cache, so no load
   * can slip between the two. The race it closes, step by step:
   *   1. a get misses and starts a load (from the loader, or from the owner);
   *   2. a write lands here: the cache now holds the written value (or nothing);
   *   3. the load ends with the value it read before the write, and stores it.
   * Without 2's supersede, step 3 overwrites the acknowledged write, and every
   * later get answers the old value until it expires. With it, step 3 checks
   * `flight.superseded` and hands the value to the callers it had (their gets
   * began before the write ended, so either value is a right answer) without
   * storing it; and a get that starts after step 2 starts a fresh flight
   * instead of joining the old one.
   */
  #supersede(key: string): void {
    this.#localFlights.supersede(key);
    this.#remoteFlights.supersede(key);
  }

  /**
   * Ask every peer but the owner to drop its copy of `key`, with the write's
   * signal and deadline: the time left travels to each of them as on a get.
   */
  async #tellOthers(
    picker: PeerPicker,
    owner: PeerClient | undefined,
    key: string,
    options: CallOptions | undefined,
  ): Promise<void> {
    const others = picker.otherPeers().filter((p) => p !== owner);
    if (others.length === 0) return;
    const call = this.#writeCall(options);
    const results = await Promise.allSettled(others.map((p) => p.remove(this.name, key, call)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.#notDropped(others[i]?.url ?? '', key, r.reason);
    });
  }

  /**
   * #notDropped counts a peer that could not be told to drop its copy of `key`
   * (or of that many keys) as a peer error, and logs it, throttled per peer.
   */
  #notDropped(peer: string, key: string | number, reason: unknown): void {
    this.#stats.peerErrors++;
    const held = this.#peerLog.take(`drop ${peer}`);
    if (held !== undefined) {
      const what = typeof key === 'string' ? { key } : { keys: key };
      this.#log.warn(
        { group: this.name, ...what, peer, err: String(reason), alsoFailed: held },
        'peer could not drop its copy',
      );
    }
  }

  /**
   * getForPeer serves a peer's get: cache, then a local load; it never asks another
   * peer. A cache hit is answered at once, without a promise. A key this node does
   * not own on its ring is asked of it as the key's fallback owner (its owner could
   * not be reached): the value is kept as a fallback copy, in hot for `fallbackTtlMs`,
   * never in main. A client-only node never loads: a miss is an UnavailableError.
   * The value is a copy, the caller's to keep or change.
   */
  getForPeer(key: string, options?: CallOptions): PeerValue | Promise<PeerValue> {
    const answer = this.#answerPeer(key, options);
    return answer instanceof Promise ? answer.then(copyValue) : copyValue(answer);
  }

  static {
    answerPeerSlot = (group, key, options) => group.#answerPeer(key, options);
  }

  /** #answerPeer is getForPeer without the copy: its bytes may be a cached view's storage. */
  #answerPeer(key: string, options: CallOptions | undefined): PeerValue | Promise<PeerValue> {
    if (this.#tel !== undefined) {
      const span = this.#span('peercache.serve.get', 'server', key, options?.traceparent);
      const answer = this.#answer(key, options, span);
      if (answer instanceof Promise) return settleSpan(span as TelemetrySpan, answer);
      span?.end();
      return answer;
    }
    return this.#answer(key, options, undefined);
  }

  #answer(
    key: string,
    options: CallOptions | undefined,
    span: TelemetrySpan | undefined,
  ): PeerValue | Promise<PeerValue> {
    const bad = this.#checkKey(key);
    if (bad !== undefined) return Promise.reject(bad);
    const asked = options?.generation;
    if (asked !== undefined && asked > this.#generation) this.#adopt(asked, 'a request');
    // The answer carries the generation the value was found under: a clear that lands
    // while it loads makes the answer older than the asker's, who then does not keep it.
    const generation = this.#generation;
    this.#stats.gets++;
    this.#stats.serverRequests++;
    if (--this.#hotSkip === 0) this.#hotSkip = (this.#hotKeys as WindowedHotKeys).take(key);
    const view = this.#cache.get(key);
    if (view !== undefined) {
      this.#stats.cacheHits++;
      if (view === null) return Promise.reject(new NotFoundError(`not found: ${key}`));
      // Read before a refresh could change the cache.
      const expireAt = this.#cache.lastExpireAt;
      if (this.#refreshAhead > 0) this.#refreshIfDue(key, this.#cache.lastRefreshAt);
      return { value: viewBytes(view), expireAt, minuteQps: 0, generation };
    }
    const picker = this.#peers();
    if (picker.member === false) {
      return Promise.reject(
        new UnavailableError(`get ${this.name}/${key}: a client-only node never loads`),
      );
    }
    // The request itself does not say why it came here (the golang/groupcache wire
    // has no room for it): this node's own ring does. Not the owner here means the
    // asker could not reach the owner, or briefly sees another ring; either way a
    // short-lived copy is the safe one to keep.
    const fallback =
      picker.owns === undefined ? picker.pickPeer(key) !== undefined : !picker.owns(key);
    this.#stats.loads++;
    const loading = this.#localFlights
      .do(key, (flight) => this.#loadLocally(key, flight, fallback, undefined, false, span), {
        signal: options?.signal,
      })
      .then((loaded) => {
        const view = viewOf(key)(loaded);
        return { value: viewBytes(view), expireAt: hitExpireAt(loaded), minuteQps: 0, generation };
      });
    if (this.#graceMs === 0) return loading;
    return loading.catch((err: unknown) => {
      const stale = this.#staleEntry(key, err, options?.signal);
      if (stale === undefined) throw err;
      return { value: viewBytes(stale.view), expireAt: stale.expireAt, minuteQps: 0, generation };
    });
  }

  /**
   * #keepHot decides whether a value fetched from its owner goes into the hot cache: with
   * probability `hotCacheChance`, and always when this node's hot-key sketch counts the key
   * among its heavy hitters (so the keys asked most stay close however often a write drops
   * their copies). A `hotCacheChance` of 0 keeps nothing.
   */
  #keepHot(key: string): boolean {
    const chance = this.#hotCacheChance;
    if (chance === 0) return false;
    return this.#random() < chance || this.#hotKeys?.heavy(key) === true;
  }

  /**
   * #refreshIfDue starts the background reload of a hit inside its refreshAhead window:
   * on the owner with the loader, elsewhere from the owner (whose own hit may in turn
   * reload it). One at a time per key; it shares the key's flight with any caller's miss,
   * and a write supersedes it as it does any load. Its outcome reaches no caller.
   */
  #refreshIfDue(key: string, due: number): void {
    if (due === 0 || due > this.#now() || this.#refreshing.has(key)) return;
    this.#refreshing.add(key);
    const picker = this.#peers();
    const owner = picker.pickPeer(key);
    let refresh: Promise<unknown>;
    if (owner === undefined) {
      if (picker.member === false) {
        this.#refreshing.delete(key);
        return;
      }
      this.#stats.refreshes++;
      refresh = this.#localFlights.do(key, (flight) =>
        this.#loadLocally(key, flight, false, undefined, true),
      );
    } else {
      this.#stats.refreshes++;
      refresh = this.#remoteFlights.do(key, (flight) =>
        this.#askPeer(this.#askOf(key, owner, flight, false, undefined, true), owner),
      );
    }
    refresh
      .catch((err: unknown) => {
        this.#log.debug(
          { group: this.name, key, err: err instanceof Error ? err.message : String(err) },
          'refresh failed',
        );
      })
      .finally(() => this.#refreshing.delete(key));
  }

  /**
   * #staleEntry is the value of `key` that expired less than graceMs ago, to answer
   * instead of `err`, the failure of loading it again; undefined when `err` must stand:
   * a not-found (the key is gone), the caller's own cancellation or deadline, or no
   * stale value.
   */
  #staleEntry(
    key: string,
    err: unknown,
    signal: AbortSignal | undefined,
  ): { view: ByteView; expireAt: number } | undefined {
    if (isCacheError(err, 'NOT_FOUND') || signal?.aborted) return undefined;
    if (isCacheError(err, 'CANCELLED') || isCacheError(err, 'INVALID_ARGUMENT')) return undefined;
    const stale = this.#cache.stale(key);
    if (stale === undefined || stale.view === null) return undefined;
    this.#stats.staleHits++;
    return { view: stale.view, expireAt: stale.expireAt };
  }

  /**
   * #staleOr answers a get whose load failed with `err` from a stale value, or rethrows:
   * a caller whose own signal or deadline ended the get gets its error.
   */
  #staleOr(key: string, err: unknown, options: GetOptions | undefined): ByteView {
    const deadline = options?.deadline;
    if (deadline !== undefined && deadline <= this.#clock.now()) throw err;
    const stale = this.#staleEntry(key, err, options?.signal);
    if (stale === undefined) throw err;
    return stale.view;
  }

  /**
   * setFromPeer stores a value a peer sent to this node, its owner, and
   * supersedes this node's loads of `key` in flight.
   */
  setFromPeer(key: string, value: Uint8Array, expireAt: number, options?: CallOptions): void {
    const bad = this.#checkKey(key);
    if (bad !== undefined) throw bad;
    this.#checkValue(value.byteLength);
    this.#catchUp(options);
    this.#cache.add('main', key, value, expireAt);
    this.#supersede(key);
  }

  /** removeFromPeer drops `key` from this node's caches and supersedes its loads in flight. */
  removeFromPeer(key: string, options?: CallOptions): void {
    const bad = this.#checkKey(key);
    if (bad !== undefined) throw bad;
    this.#catchUp(options);
    this.#dropCopy(key);
  }

  /**
   * generation is the group's generation: 0 until the group is first cleared, then
   * the generation of the latest clear, made here or learnt from a peer.
   */
  get generation(): number {
    return this.#generation;
  }

  /** clearPending lists the peers (URLs) still owed the notice of the latest clear. */
  get clearPending(): string[] {
    return [...this.#unclear];
  }

  /**
   * clear empties the group on every node. Here, at once: the main and hot caches
   * are emptied, loads in flight lose the right to store what they find (their
   * callers still get it), and the group takes a new generation, higher than any it
   * has seen (the clock's time in ms, or one more than the last). Then every other
   * peer is sent the notice, and does the same. Resolves once each has acknowledged,
   * with the peers that do not take notices (see {@link ClearResult}). Rejects with
   * ClearIncompleteError naming the peers that could not be told; those are told
   * again in the background (after 1 s, doubling up to 30 s) until each acknowledges
   * or leaves the ring. Meanwhile every request and answer between peers carries the
   * generation, so a node that missed the notice clears itself at its first exchange
   * with one that did not, and none of its older values is kept by an up-to-date
   * node (see docs/consistency.md). `options.signal` and `deadline` bound the wait
   * for the acknowledgements; the local clear has happened by then either way.
   */
  async clear(options?: CallOptions): Promise<ClearResult> {
    const generation = Math.max(this.#generation + 1, Math.floor(this.#now()));
    this.#adopt(generation, 'clear');
    const peers = this.#peers().otherPeers();
    const call = { signal: options?.signal, deadline: options?.deadline };
    const outcomes = await Promise.allSettled(
      peers.map((peer) => this.#tellClear(peer, generation, call)),
    );
    const unsupported: string[] = [];
    const missed: string[] = [];
    let cause: unknown;
    outcomes.forEach((outcome, i) => {
      const url = (peers[i] as PeerClient).url;
      if (outcome.status === 'rejected') {
        missed.push(url);
        cause ??= outcome.reason;
        this.#unclear.add(url);
        return;
      }
      this.#unclear.delete(url);
      if (!outcome.value) unsupported.push(url);
    });
    if (missed.length === 0) return { generation, unsupported };
    this.#clearRetryMs = CLEAR_RETRY_MS;
    this.#scheduleClearRetry();
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new ClearIncompleteError(
      `clear ${this.name}: emptied here, but ${missed.join(', ')} could not be told (${why}); telling ${missed.length === 1 ? 'it' : 'them'} again in the background`,
      missed,
      generation,
      { cause },
    );
  }

  /**
   * clearFromPeer applies a peer's clear notice: a `generation` higher than the
   * group's empties it, as `clear` does here, and becomes its generation; a lower or
   * equal one changes nothing. Anything but a positive whole number is an
   * InvalidArgumentError.
   */
  clearFromPeer(generation: number): void {
    const g = parseGeneration(generation);
    if (g === undefined) {
      throw new InvalidArgumentError(
        `generation must be a positive whole number, got ${String(generation)}`,
      );
    }
    if (g > this.#generation) this.#adopt(g, 'a clear notice');
  }

  /**
   * #adopt takes `generation`, higher than the group's: it empties both caches and
   * supersedes every load in flight, in one synchronous step, so no load that began
   * under the older generation can store its value after it (see #supersede: the
   * same race as a write's, for every key at once).
   */
  #adopt(generation: number, from: string): void {
    this.#generation = generation;
    this.#cache.clear();
    this.#localFlights.supersedeAll();
    this.#remoteFlights.supersedeAll();
    this.#log.info({ group: this.name, generation, from }, 'group cleared');
  }

  /** #catchUp clears the group first when a peer's request carries a higher generation. */
  #catchUp(options: CallOptions | undefined): void {
    const g = options?.generation;
    if (g !== undefined && g > this.#generation) this.#adopt(g, 'a request');
  }

  /** #writeCall is the options of a write's peer calls: the caller's signal and deadline, the generation. */
  #writeCall(options: CallOptions | undefined): CallOptions {
    return {
      signal: options?.signal,
      deadline: options?.deadline,
      generation: this.#generation,
      onGeneration: this.#sawGeneration,
    };
  }

  /**
   * #tellClear sends `peer` the clear notice: true once it acknowledged, false when it
   * does not take notices (no `clear`, or it answered NOT_FOUND: it does not know the call).
   */
  #tellClear(peer: PeerClient, generation: number, options: CallOptions): Promise<boolean> {
    if (peer.clear === undefined) return Promise.resolve(false);
    let telling: Promise<void>;
    try {
      telling = peer.clear(this.name, generation, options);
    } catch (err) {
      telling = Promise.reject(err);
    }
    return telling.then(
      () => true,
      (err: unknown) => {
        if (isCacheError(err, 'NOT_FOUND')) return false;
        throw err;
      },
    );
  }

  /**
   * cancelClearRetries stops telling the peers still owed the latest clear notice (see
   * {@link Group.clear}); a node that closes calls it for its groups. Idempotent.
   */
  cancelClearRetries(): void {
    if (this.#clearTimer !== undefined) this.#clock.clearTimeout(this.#clearTimer);
    this.#clearTimer = undefined;
    this.#unclear.clear();
  }

  /** #scheduleClearRetry sets the timer of the next retry of the clear notice, if one is owed. */
  #scheduleClearRetry(): void {
    if (this.#clearTimer !== undefined || this.#unclear.size === 0) return;
    this.#clearTimer = this.#clock.setTimeout(() => {
      this.#clearTimer = undefined;
      void this.#retryClear();
    }, this.#clearRetryMs);
  }

  /**
   * #retryClear sends the notice of the latest clear again to the peers that have not
   * acknowledged it; a peer no longer on the ring is owed nothing. The wait doubles
   * after each round, up to CLEAR_RETRY_MAX_MS.
   */
  async #retryClear(): Promise<void> {
    const generation = this.#generation;
    const current = new Map(
      this.#peers()
        .otherPeers()
        .map((p) => [p.url, p]),
    );
    const owed: PeerClient[] = [];
    for (const url of this.#unclear) {
      const peer = current.get(url);
      if (peer === undefined) this.#unclear.delete(url);
      else owed.push(peer);
    }
    const outcomes = await Promise.allSettled(
      owed.map((peer) => this.#tellClear(peer, generation, {})),
    );
    outcomes.forEach((outcome, i) => {
      const url = (owed[i] as PeerClient).url;
      if (outcome.status === 'fulfilled') {
        this.#unclear.delete(url);
        this.#log.info({ group: this.name, generation, peer: url }, 'clear notice delivered');
      }
    });
    this.#clearRetryMs = Math.min(this.#clearRetryMs * 2, CLEAR_RETRY_MAX_MS);
    this.#scheduleClearRetry();
  }

  /** stats returns a snapshot of the group's counters. */
  get stats(): GroupStats {
    return { ...this.#stats };
  }

  /**
   * hotKeys returns up to `n` keys this node was asked for most over about the
   * last minute (by its callers and by peers), most first, from a fixed-size
   * heavy-hitters sketch of a sample of the gets (see `hotKeySampleEvery`):
   * each `count` estimates the key's gets, `error` how much it may overstate
   * them. Empty when `hotKeyCapacity` is 0.
   */
  hotKeys(n = 10): HotKey[] {
    return this.#hotKeys?.top(n) ?? [];
  }

  /**
   * inspect tells what this node's main and hot caches hold of `key` (a `null`
   * view is a cached not-found), without loading it, asking a peer, or counting
   * a get. An invalid key holds nothing.
   */
  inspect(key: string): { main?: Entry | undefined; hot?: Entry | undefined } {
    if (this.#checkKey(key) !== undefined) return {};
    return { main: this.#cache.inspect('main', key), hot: this.#cache.inspect('hot', key) };
  }

  /** cacheStats returns a snapshot of the main or hot cache's stats. */
  cacheStats(which: CacheType): CacheStats {
    return this.#cache.stats(which);
  }

  /** maxKeyBytes is the largest key this group accepts, in UTF-8 bytes. */
  get maxKeyBytes(): number {
    return this.#maxKeyBytes;
  }

  /** maxValueBytes is the largest value this group accepts, in bytes. */
  get maxValueBytes(): number {
    return this.#maxValueBytes;
  }

  /** cacheBytes is the group's byte budget. */
  get cacheBytes(): number {
    return this.#cache.budget;
  }

  /**
   * Load on a miss: from the owner peer if another node owns the key (from its
   * fallback owner when it cannot be reached), else locally. A client-only node
   * never loads.
   */
  #loadAnywhere(
    key: string,
    options: GetOptions | undefined,
    span?: TelemetrySpan,
    batch?: OwnerBatches,
  ): Promise<ByteView> {
    const deadline = options?.deadline;
    const signal = batch === undefined ? this.#waitSignal(options) : batch.signal;
    // A batch's keys have no span each: their peer requests and loads are the batch's.
    if (batch !== undefined) span = batch.span;
    const picker = this.#peers();
    const owner = picker.pickPeer(key);
    const flightOptions = signal === undefined ? undefined : { signal };
    if (owner === undefined) {
      if (picker.member === false) {
        return Promise.reject(new UnavailableError(`no cache node owns ${key}: the ring is empty`));
      }
      return this.#localFlights
        .do(
          key,
          (flight) => this.#loadLocally(key, flight, false, undefined, false, span),
          flightOptions,
        )
        .then(viewOf(key));
    }
    // A flight started by a caller without a signal can only time out (its starter
    // never leaves), and the peer call carries that deadline itself: it then goes
    // without the flight's signal, so no AbortController is made for it.
    const cancellable = signal !== undefined;
    return this.#remoteFlights.do(
      key,
      (flight) => {
        const ask = this.#askOf(key, owner, flight, cancellable, deadline, false, span);
        return batch === undefined ? this.#askPeer(ask, owner) : batch.add(owner, ask);
      },
      flightOptions,
    );
  }

  /**
   * #waitSignal is what ends a caller's wait: its signal, and its deadline as a timer
   * signal; undefined when it has neither.
   */
  #waitSignal(options: GetOptions | undefined): AbortSignal | undefined {
    const deadline = options?.deadline;
    const signal = options?.signal;
    if (deadline === undefined) return signal;
    const left = Math.max(0, deadline - this.#clock.now());
    const timeout = timeoutSignal(this.#clock, left);
    return signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
  }

  /**
   * #askOf is the question a remote flight asks the owner. The request's deadline is the
   * starting caller's, capped by the flight's (loadTimeoutMs): callers who join later
   * with more time still get a local load if the owner does not answer by then. The
   * flight starts right after the caller's cache miss, so the cache is not looked at
   * again.
   */
  #askOf(
    key: string,
    owner: PeerClient,
    flight: FlightContext,
    cancellable: boolean,
    callerDeadline: number | undefined,
    refresh = false,
    span?: TelemetrySpan,
  ): Ask {
    this.#stats.loadsDeduped++;
    const until = Math.min(callerDeadline ?? Number.POSITIVE_INFINITY, flight.deadline);
    const ask: Ask = {
      key,
      owner,
      flight,
      signal: cancellable ? flight.signal : undefined,
      deadline: Number.isFinite(until) ? until : undefined,
      refresh,
      span,
    };
    return ask;
  }

  /**
   * Ask `peer` for the key of `ask`: its owner, or its fallback owner once the
   * owner could not be reached. A value from the owner may go into hot (at
   * `hotCacheChance`); one from a fallback owner too, but as a fallback copy,
   * for `fallbackTtlMs` at most.
   */
  #askPeer(ask: Ask, peer: PeerClient): Promise<ByteView> {
    const { key } = ask;
    const peerSpan =
      ask.span === undefined
        ? undefined
        : this.#span('peercache.peer.get', 'client', key, ask.span, { 'peercache.peer': peer.url });
    let asked: Promise<PeerValue>;
    try {
      asked = peer.get(this.name, key, {
        signal: ask.signal,
        deadline: ask.deadline,
        maxValueBytes: this.#maxValueBytes,
        traceparent: peerSpan?.traceparent,
        generation: this.#generation,
      });
    } catch (err) {
      asked = Promise.reject(err);
    }
    if (peerSpan !== undefined) settleSpan(peerSpan, asked);
    return asked.then(
      (got) => this.#peerAnswered(ask, peer, got),
      (err: unknown) => this.#peerFailed(ask, peer, err),
    );
  }

  /**
   * #askOwnerMany asks `owner` for the keys of `asks` in one request (its `getMany`),
   * and settles each remote flight as {@link Group.#askPeer} would have settled it with
   * the key's own answer: a value, or the key's error, or, when the request as a whole
   * failed, that failure. The request ends early only once every flight of it has been
   * abandoned (every caller of each key left), and carries the earliest deadline.
   */
  #askOwnerMany(
    owner: PeerClient,
    asks: readonly Queued[],
    parent: TelemetrySpan | undefined,
  ): void {
    if (owner.getMany === undefined) {
      // No batch on this wire (HTTP): each key is a get of its own, exactly as `get` sends it.
      for (const { ask, settle } of asks) settle(this.#askPeer(ask, owner));
      return;
    }
    const keys = asks.map((q) => q.ask.key);
    let deadline: number | undefined;
    const signals: AbortSignal[] = [];
    for (const { ask } of asks) {
      if (ask.deadline !== undefined) deadline = Math.min(deadline ?? ask.deadline, ask.deadline);
      if (ask.signal !== undefined) signals.push(ask.signal);
    }
    const peerSpan =
      parent === undefined || this.#tel === undefined
        ? undefined
        : this.#tel.startSpan(
            'peercache.peer.getMany',
            'client',
            {
              'peercache.group': this.name,
              'peercache.keys': keys.length,
              'peercache.peer': owner.url,
            },
            parent,
          );
    let asked: Promise<PeerGetManyResult>;
    try {
      asked = owner.getMany(this.name, keys, {
        signal: signals.length === asks.length ? allAborted(signals) : undefined,
        deadline,
        maxValueBytes: this.#maxValueBytes,
        traceparent: peerSpan?.traceparent,
        generation: this.#generation,
      });
    } catch (err) {
      asked = Promise.reject(err);
    }
    if (peerSpan !== undefined) settleSpan(peerSpan, asked);
    asked.then(
      (answer) => {
        for (const { ask, settle } of asks) {
          const got = answer.get(ask.key);
          if (got === undefined) {
            const missing = new InternalError(
              `get ${this.name}/${ask.key} from ${owner.url}: the answer left the key out`,
            );
            settle(this.#peerFailed(ask, owner, missing));
          } else if (got instanceof CacheError) {
            settle(this.#peerFailed(ask, owner, got));
          } else {
            settle(tryAnswer(() => this.#peerAnswered(ask, owner, got)));
          }
        }
      },
      (err: unknown) => {
        for (const { ask, settle } of asks) settle(this.#peerFailed(ask, owner, err));
      },
    );
  }

  /**
   * #peerAnswered keeps what `peer` answered for the key of `ask`: a value from the owner
   * may go into hot (at `hotCacheChance`); one from a fallback owner too, but as a
   * fallback copy, for `fallbackTtlMs` at most.
   */
  #peerAnswered(ask: Ask, peer: PeerClient, got: PeerValue): ByteView {
    const { key, flight } = ask;
    this.#stats.peerLoads++;
    // The peer may have answered before a write that has since reached this
    // node (and superseded this flight): its answer is then not kept. Either
    // way the value is copied, unless the client made it a copy of its own
    // (`owned`): a peer client (possibly the user's own) may reuse its buffer,
    // and a wire buffer may be a range of a larger body.
    // A refresh replaces the hot copy it was started from.
    let stale = flight.superseded;
    const generation = got.generation ?? 0;
    if (generation !== this.#generation) {
      // The owner found the value after a clear this node missed: this node clears
      // itself now, and the value, newer than the clear, may be kept. A value found
      // before this node's latest clear (or by a peer that knows no generations) is
      // answered but not kept.
      if (generation > this.#generation) this.#adopt(generation, peer.url);
      else stale = true;
    }
    // An owned value is the group's already: adopted, it is copied only into the arena.
    const value = got.owned === true ? adoptBytes(got.value) : got.value;
    if (!stale && (ask.refresh || this.#keepHot(key))) {
      let expireAt: number | undefined = got.expireAt;
      if (peer !== ask.owner) {
        // A fallback owner's answer is a fallback copy: kept for fallbackTtlMs at most.
        const bound = this.#now() + this.#fallbackTtl;
        expireAt =
          this.#fallbackTtl === 0 ? undefined : expireAt === 0 ? bound : Math.min(expireAt, bound);
      }
      if (expireAt !== undefined) {
        const refreshAt = peer === ask.owner ? this.#refreshAt(expireAt, true) : 0;
        const stored = hitView(this.#cache.add('hot', key, value, expireAt, refreshAt));
        if (stored !== null) return stored;
      }
    }
    return value instanceof ByteView ? value : ByteView.from(value);
  }

  /**
   * After a peer failed: its answer (NOT_FOUND, its loader's error) and the
   * caller's abort are final. Only a peer that could not be reached (see
   * {@link peerUnreachable}) sends the key on: from the owner to the key's
   * fallback owner, and from there (or when there is none) to a local load,
   * the last resort, whose value is kept only briefly (`fallbackTtlMs`).
   */
  #peerFailed(ask: Ask, peer: PeerClient, err: unknown): Promise<ByteView> {
    const { key, owner, signal, flight } = ask;
    if (isCacheError(err, 'NOT_FOUND')) {
      if (this.#notFoundTtl > 0 && !flight.superseded) {
        this.#cache.add('hot', key, null, this.#now() + this.#notFoundTtl);
      }
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (isCacheError(err, 'TOO_LARGE')) {
      // The key passed this node's limits: a peer's value (or a key) over a limit on
      // the way back is a mismatch between the nodes' limits, not the caller's fault.
      return Promise.reject(
        new InternalError(`get ${this.name}/${key} from ${peer.url}: ${err.message}`, {
          cause: err,
          remote: err.remote,
        }),
      );
    }
    const picker = this.#peers();
    if (peerLeaving(err) && peer === owner && (ask.moves ?? 0) < MAX_WRITE_TRIES) {
      // The owner is leaving the cluster, and its client, which saw the answer first,
      // has taken it off the routing: the key now belongs to the next member on the
      // ring, as it will once the owner is gone. That member is asked as the owner, or,
      // when it is this node, the key is loaded here as its owner (into main, not as a
      // fallback copy that would be loaded again once it expires). Not a fault.
      const next = picker.pickPeer(key);
      if (next !== undefined && next !== owner) {
        return this.#askPeer({ ...ask, owner: next, moves: (ask.moves ?? 0) + 1 }, next);
      }
      if (next === undefined && picker.member !== false) return this.#loadHere(ask, false);
    }
    if (!peerUnreachable(err)) return Promise.reject(err);
    this.#stats.peerErrors++;
    // The fallback owner is tried once, after the owner; if it fails too, or is the
    // owner itself on a ring that changed meanwhile, the key is loaded here.
    const next = peer === owner ? picker.pickFallback?.(key) : undefined;
    const fallback =
      next === undefined || next === 'self' || next.url === owner.url ? undefined : next;
    const clientOnly = picker.member === false;
    const held = this.#peerLog.take(`get ${peer.url}`);
    if (held !== undefined) {
      const then =
        fallback !== undefined
          ? `asking its fallback owner ${fallback.url}`
          : clientOnly
            ? 'failing the get: a client-only node never loads'
            : 'loading locally';
      this.#log.warn(
        {
          group: this.name,
          key,
          peer: peer.url,
          err: err instanceof Error ? err.message : String(err),
          alsoFailed: held,
        },
        `peer error, ${then}`,
      );
    }
    if (fallback !== undefined) return this.#askPeer(ask, fallback);
    if (clientOnly) {
      const tried = peer === owner ? '' : `, nor its fallback owner ${peer.url}`;
      return Promise.reject(
        new UnavailableError(
          `get ${this.name}/${key}: its owner ${owner.url} could not be reached${tried}, and a client-only node never loads (${err instanceof Error ? err.message : String(err)})`,
          { cause: err },
        ),
      );
    }
    return this.#loadHere(ask, true);
  }

  /**
   * #loadHere goes on from the remote flight of `ask` to a local load: as the key's
   * owner, or (`fallback`) as its fallback owner or the last resort.
   */
  #loadHere(ask: Ask, fallback: boolean): Promise<ByteView> {
    const { key, signal, flight } = ask;
    return this.#localFlights
      .do(
        key,
        (local) => this.#loadLocally(key, local, fallback, flight, false, ask.span),
        signal === undefined ? undefined : { signal },
      )
      .then(viewOf(key));
  }

  /**
   * #loadLocally runs the loader for a local flight and stores the value in
   * main, unless the flight was superseded by a write meanwhile. With
   * `fallback` (this node does not own the key) the value is a fallback copy,
   * kept in hot for `fallbackTtl` at most. `remote` is the remote flight whose
   * peers could not be reached, when the load goes on from one: then nothing is
   * kept if either flight was superseded, and the load was counted there.
   */
  async #loadLocally(
    key: string,
    flight: FlightContext,
    fallback: boolean,
    remote: FlightContext | undefined,
    refresh = false,
    parent?: TelemetrySpan,
  ): Promise<Hit> {
    // A refresh reloads a value that is still cached; any other load first looks again.
    if (!refresh) {
      const cached = this.#cache.getHit(key);
      if (cached !== undefined) return cached;
    }
    // A load that goes on from a remote flight is the same load: counted once.
    if (remote === undefined) this.#stats.loadsDeduped++;
    let result: LoadResult;
    try {
      // The loader's signal is the flight's, made only if the loader reads it.
      const group = this.name;
      const load = (): LoadResult | Promise<LoadResult> =>
        this.#batch !== undefined
          ? this.#batch.load(key, flight.signal)
          : this.#load(key, {
              get signal() {
                return flight.signal;
              },
              group,
            });
      const tel = this.#tel;
      if (parent !== undefined && tel !== undefined) {
        // The loader runs inside its span: the spans it makes (a query) are its children.
        const span = tel.startSpan('peercache.load', 'internal', this.#attributes(key), parent);
        result = await settleSpan(
          span,
          Promise.resolve().then(() => tel.with(span, load)),
        );
      } else {
        result = await load();
      }
    } catch (err) {
      this.#stats.localLoadErrs++;
      if (flight.aborted) throw abortError(flight.signal);
      let e = isCacheError(err) ? err : toCacheError(err, `load ${this.name}/${key}`);
      if (e.code === 'NOT_FOUND') return this.#notFound(key, flight, fallback, remote);
      // A loader's value too large for it (e.g. an origin's body over the limit) is the
      // server's fault, not the request's: INTERNAL, never a 413 to a GET.
      if (e.code === 'TOO_LARGE') {
        e = new InternalError(`load ${this.name}/${key}: ${e.message}`, { cause: e });
      }
      this.#log.warn({ group: this.name, key, err: e.message }, 'load failed');
      throw e;
    }
    if (result === null || result === undefined) {
      this.#stats.localLoadErrs++;
      return this.#notFound(key, flight, fallback, remote);
    }
    let loaded: Loaded;
    try {
      loaded = this.#loadedOf(key, result);
    } catch (err) {
      this.#stats.localLoadErrs++;
      this.#log.warn({ group: this.name, key, err: (err as Error).message }, 'load failed');
      throw err;
    }
    this.#stats.localLoads++;
    this.#log.debug({ group: this.name, key, bytes: loaded.bytes }, 'loaded');
    // The cache copies the loader's bytes (into its arena when they fit): the
    // loader may reuse its buffer, and callers get the cache's copy.
    return this.#store(key, loaded.value, loaded.expireAt, flight, fallback, remote);
  }

  /**
   * #store keeps what a local load found — in main, or in hot for a short
   * while when it is a fallback copy — unless a write superseded the load while
   * the loader ran (see #supersede): the callers of the load get it all the
   * same, but the cache keeps the write.
   */
  #store(
    key: string,
    value: CacheValue | null,
    expireAt: number,
    flight: FlightContext,
    fallback: boolean,
    remote: FlightContext | undefined,
  ): Hit {
    if (flight.superseded || remote?.superseded) return unstoredHit(value, expireAt);
    if (!fallback) {
      return this.#cache.add('main', key, value, expireAt, this.#refreshAt(expireAt));
    }
    if (this.#fallbackTtl === 0) return unstoredHit(value, expireAt);
    const bound = this.#now() + this.#fallbackTtl;
    return this.#cache.add('hot', key, value, expireAt === 0 ? bound : Math.min(expireAt, bound));
  }

  /**
   * #refreshAt is when a value expiring at `expireAt` is due for a refresh (0: never). A
   * value loaded here lives from now; one from the owner may be well into its life
   * already, so its window is taken from the group's `ttl` when there is one.
   */
  #refreshAt(expireAt: number, fromPeer = false): number {
    if (this.#refreshAhead === 0 || expireAt === 0) return 0;
    const life = fromPeer && this.#ttl > 0 ? this.#ttl : Math.max(0, expireAt - this.#now());
    return expireAt - life * this.#refreshAhead;
  }

  #notFound(
    key: string,
    flight: FlightContext,
    fallback: boolean,
    remote: FlightContext | undefined,
  ): never {
    if (this.#notFoundTtl > 0) {
      this.#store(key, null, this.#now() + this.#notFoundTtl, flight, fallback, remote);
    }
    throw new NotFoundError(`not found: ${key}`);
  }

  /**
   * #loadedOf checks a loader's result. A result of the wrong type or over the
   * value limit is the loader's fault, not the caller's: an InternalError that
   * names the group, the key and what was wrong.
   */
  #loadedOf(key: string, result: Exclude<LoadResult, null | undefined>): Loaded {
    let value: unknown = result;
    let ttl = this.#ttl;
    if (
      typeof result === 'object' &&
      !(result instanceof Uint8Array) &&
      !(result instanceof ByteView)
    ) {
      value = result.value;
      const own = result.ttlMs ?? result.ttl;
      if (own !== undefined) {
        if (typeof own !== 'number' || Number.isNaN(own) || own < 0) {
          throw new InternalError(
            `load ${this.name}/${key}: the loader returned a ttlMs of ${String(own)}; want a number >= 0`,
          );
        }
        ttl = own;
      }
    }
    if (
      typeof value !== 'string' &&
      !(value instanceof Uint8Array) &&
      !(value instanceof ByteView)
    ) {
      throw new InternalError(
        `load ${this.name}/${key}: the loader returned ${value === null ? 'null' : typeof value}; want a string, Uint8Array, ByteView, { value, ttlMs } or null`,
      );
    }
    const bytes = valueBytes(value as CacheValue);
    if (bytes > this.#maxValueBytes) {
      throw new InternalError(
        `load ${this.name}/${key}: the loader returned ${bytes} bytes, over the group's limit of ${this.#maxValueBytes}`,
      );
    }
    return { value, bytes, expireAt: ttl > 0 ? this.#now() + ttl : 0 };
  }

  #checkKey(key: unknown): CacheError | undefined {
    if (typeof key !== 'string')
      return new InvalidArgumentError(`key must be a string, got ${typeof key}`);
    if (key.length === 0) return new InvalidArgumentError('key must not be empty');
    // A UTF-16 code unit is at most 3 UTF-8 bytes: count bytes only when it could matter.
    if (key.length * 3 > this.#maxKeyBytes && Buffer.byteLength(key) > this.#maxKeyBytes) {
      return new TooLargeError(`key is longer than ${this.#maxKeyBytes} bytes`);
    }
    return undefined;
  }

  #checkValue(bytes: number): void {
    if (bytes > this.#maxValueBytes) {
      throw new TooLargeError(
        `value of ${bytes} bytes is over the limit of ${this.#maxValueBytes}`,
      );
    }
  }
}

/**
 * GetManyResult is what {@link Group.getMany} returns: a Map of each key found to its
 * value, and `errors`, each key whose get failed (other than not found) to its error.
 */
export class GetManyResult extends Map<string, ByteView> {
  /** errors maps each key whose get failed, other than by not existing, to its error. */
  readonly errors = new Map<string, CacheError>();
}

/** Ask is one remote flight's question: the key, its owner, and how long to wait. */
interface Ask {
  key: string;
  owner: PeerClient;
  flight: FlightContext;
  /** The flight's signal, when a caller can cancel; else the deadline alone ends the request. */
  signal: AbortSignal | undefined;
  deadline: number | undefined;
  /** A background refresh (refreshAhead): its value replaces the hot copy. */
  refresh: boolean;
  /** The span of the get that started the flight, when tracing. */
  span: TelemetrySpan | undefined;
  /** How many owners have answered that they are leaving the cluster. */
  moves?: number;
}

/** Queued is a remote flight waiting in an {@link OwnerBatches} for its owner's answer. */
interface Queued {
  ask: Ask;
  /** Settles the flight with the outcome of its key. */
  settle: (outcome: ByteView | Promise<ByteView>) => void;
}

/**
 * OwnerBatches gathers, during one {@link Group.getMany}, the remote flights its keys
 * start, by owner, to be asked together once every key has been looked at. Keys whose
 * flight was already running (a get or another batch asked first) join that flight
 * instead, and are not gathered.
 */
class OwnerBatches {
  /** The flights to ask each owner for, in the order their keys came. */
  readonly byOwner = new Map<PeerClient, Queued[]>();
  /** What ends the caller's wait (its signal and its deadline), made once for every key. */
  readonly signal: AbortSignal | undefined;
  /** The getMany's span, when tracing. */
  readonly span: TelemetrySpan | undefined;

  constructor(signal: AbortSignal | undefined, span: TelemetrySpan | undefined) {
    this.signal = signal;
    this.span = span;
  }

  /** add queues `ask` for `owner`; the promise settles once the owner's answer is in. */
  add(owner: PeerClient, ask: Ask): Promise<ByteView> {
    return new Promise<ByteView>((resolve) => {
      const queued: Queued = { ask, settle: resolve };
      const asks = this.byOwner.get(owner);
      if (asks === undefined) this.byOwner.set(owner, [queued]);
      else asks.push(queued);
    });
  }
}

/**
 * allAborted is a signal that aborts once every one of `signals` has (with the last one's
 * reason): a request for many flights ends only when none of them is waited for.
 */
function allAborted(signals: readonly AbortSignal[]): AbortSignal {
  if (signals.length === 1) return signals[0] as AbortSignal;
  const controller = new AbortController();
  let left = signals.length;
  const onAbort = (event: Event): void => {
    left--;
    if (left === 0) controller.abort((event.target as AbortSignal).reason);
  };
  for (const signal of signals) {
    if (signal.aborted) left--;
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  if (left === 0) controller.abort(signals[signals.length - 1]?.reason);
  return controller.signal;
}

/** tryAnswer runs `fn`, turning what it throws into a rejected promise. */
function tryAnswer(fn: () => ByteView): ByteView | Promise<ByteView> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Loaded is a loader's value, checked, before the cache copies it. */
interface Loaded {
  value: CacheValue;
  bytes: number;
  expireAt: number;
}

function viewOf(key: string): (hit: Hit) => ByteView {
  return (hit) => {
    const view = hitView(hit);
    if (view === null) throw new NotFoundError(`not found: ${key}`);
    return view;
  };
}

/** neverLoads is the loader of a client-only node's group given none: no get reaches it. */
const neverLoads: LoadFn = (key, ctx) => {
  throw new InternalError(`load ${ctx.group}/${key}: a client-only node never loads`);
};

/** copyValue is `answer` with bytes of its own. */
function copyValue(answer: PeerValue): PeerValue {
  return { ...answer, value: Uint8Array.prototype.slice.call(answer.value) };
}

/**
 * answerPeer is how this package's transport servers serve a peer's get: for a
 * {@link Group}, its answer without the copy `getForPeer` makes (the bytes may be
 * a cached view's storage: they are only read, to write them to the wire); for
 * any other {@link PeerServedGroup}, its `getForPeer`. Not exported by any
 * package entry.
 */
export function answerPeer(
  group: PeerServedGroup,
  key: string,
  options?: CallOptions,
): PeerValue | Promise<PeerValue> {
  return group instanceof Group
    ? answerPeerSlot(group, key, options)
    : group.getForPeer(key, options);
}

/** getterToLoad adapts a seed-style {@link Getter} to a {@link LoadFn}. */
function getterToLoad(getter: Getter): LoadFn {
  return async (key, ctx) => {
    const sink = new ByteViewSink();
    const returned = await getter.get(key, sink, ctx);
    if (sink.value !== undefined) return sink.value;
    if (returned === undefined) {
      throw new InternalError(
        `getter of ${ctx.group} neither filled the sink nor returned a value`,
      );
    }
    return returned;
  };
}
