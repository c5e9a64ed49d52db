// batch-loader.ts: BatchLoader, which gathers the keys a group loads within one turn of the
// event loop (or up to `batchMax` of them) into one call of the group's `loadMany`, as
// DataLoader does, while every key keeps its own singleflight.
import { InternalError, InvalidArgumentError, toCacheError } from '../errors.js';

/** LoadManyContext is passed to a batch loader. */
export interface LoadManyContext {
  /** Aborts when every caller of every key of the batch has given up. Made when first read. */
  readonly signal: AbortSignal;
  /** The group's name. */
  group: string;
}

/**
 * LoadManyFn loads many keys from the source of truth in one call. It returns, for each
 * key it found, its value (as a `load` would: a string, bytes, or `{ value, ttl }`), as a
 * `Map` or a plain object keyed by key; a key it leaves out (or maps to `null`/`undefined`)
 * does not exist. Throwing fails every key of the batch.
 */
export type LoadManyFn<R> = (
  keys: string[],
  ctx: LoadManyContext,
) => Map<string, R> | Record<string, R> | Promise<Map<string, R> | Record<string, R>>;

/** BatchLoaderOptions configure a {@link BatchLoader}. */
export interface BatchLoaderOptions<R> {
  loadMany: LoadManyFn<R>;
  /** The group's name, for the context and errors. */
  group: string;
  /** The most keys in one call; a batch that reaches it is sent at once. Default 100. */
  batchMax?: number | undefined;
  /** Runs `fn` after the current turn of the event loop. Default `setImmediate`. */
  schedule?: ((fn: () => void) => void) | undefined;
  /**
   * maxTurns is how many turns of the event loop a batch may wait while keys keep
   * arriving (requests read from sockets over several turns); it is sent after the first
   * turn that added none, or after this many. Default 8.
   */
  maxTurns?: number | undefined;
}

interface Pending<R> {
  key: string;
  signal: AbortSignal | undefined;
  resolve: (value: R | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * BatchLoader collects `load(key)` calls and sends them to `loadMany` together, in calls of
 * at most `batchMax` keys: a batch goes out after the first turn of the event loop that
 * added no key to it (or after `maxTurns` turns), so keys that arrive from the network
 * over a few turns still share a call. A key asked twice in one batch is sent once
 * (singleflight normally sees to that already).
 */
export class BatchLoader<R> {
  readonly #loadMany: LoadManyFn<R>;
  readonly #group: string;
  readonly #batchMax: number;
  readonly #schedule: (fn: () => void) => void;
  readonly #maxTurns: number;
  #batch: Pending<R>[] = [];
  /** The batch's size at the last turn's check, and how many turns it has waited. */
  #seen = 0;
  #turns = 0;

  constructor(options: BatchLoaderOptions<R>) {
    const batchMax = options.batchMax ?? 100;
    if (!Number.isSafeInteger(batchMax) || batchMax < 1) {
      throw new InvalidArgumentError(
        `batchMax must be a positive integer, got ${String(batchMax)}`,
      );
    }
    this.#loadMany = options.loadMany;
    this.#group = options.group;
    this.#batchMax = batchMax;
    this.#schedule = options.schedule ?? ((fn) => setImmediate(fn));
    this.#maxTurns = options.maxTurns ?? 8;
  }

  /**
   * load resolves with what `loadMany` returned for `key` (undefined when it returned
   * nothing for it). `signal` is the key's flight's: the batch's signal aborts once every
   * key's has.
   */
  load(key: string, signal?: AbortSignal): Promise<R | undefined> {
    return new Promise<R | undefined>((resolve, reject) => {
      if (this.#batch.length === 0) {
        this.#seen = 0;
        this.#turns = 0;
        this.#schedule(this.#tick);
      }
      this.#batch.push({ key, signal, resolve, reject });
      if (this.#batch.length >= this.#batchMax) this.#flush();
    });
  }

  /** #tick ends a turn: the batch goes out once a turn added nothing, or it waited long enough. */
  readonly #tick = (): void => {
    const size = this.#batch.length;
    if (size === 0) return;
    this.#turns++;
    if (size > this.#seen && this.#turns < this.#maxTurns) {
      this.#seen = size;
      this.#schedule(this.#tick);
      return;
    }
    this.#flush();
  };

  #flush(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    void this.#run(batch);
  }

  async #run(batch: Pending<R>[]): Promise<void> {
    const keys = [...new Set(batch.map((p) => p.key))];
    const group = this.#group;
    const signals = batch.map((p) => p.signal);
    let controller: AbortController | undefined;
    const ctx: LoadManyContext = {
      get signal() {
        controller ??= abortWhenAll(signals);
        return controller.signal;
      },
      group,
    };
    let found: Map<string, R> | Record<string, R>;
    try {
      found = await this.#loadMany(keys, ctx);
    } catch (err) {
      const e = toCacheError(err, `loadMany ${group} (${keys.length} keys)`);
      for (const p of batch) p.reject(e);
      return;
    }
    if (found === null || typeof found !== 'object') {
      const e = new InternalError(
        `loadMany of ${group} returned ${String(found)}, not a Map or an object`,
      );
      for (const p of batch) p.reject(e);
      return;
    }
    const get =
      found instanceof Map
        ? (k: string) => found.get(k)
        : (k: string) => (Object.hasOwn(found, k) ? (found as Record<string, R>)[k] : undefined);
    for (const p of batch) p.resolve(get(p.key));
  }
}

/** abortWhenAll is a controller that aborts once every signal has (never, if one is missing). */
function abortWhenAll(signals: Array<AbortSignal | undefined>): AbortController {
  const controller = new AbortController();
  if (signals.some((s) => s === undefined)) return controller;
  let left = signals.length;
  for (const s of signals as AbortSignal[]) {
    const done = () => {
      left--;
      if (left === 0) controller.abort(s.reason);
    };
    if (s.aborted) done();
    else s.addEventListener('abort', done, { once: true });
  }
  return controller;
}
