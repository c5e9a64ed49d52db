// peer-health.ts: HealthCheckedPeer, a PeerClient wrapper that notices when one peer
// stops answering, fails calls to it at once while it is down, and probes it until it
// answers again.

import {
  type CacheError,
  InvalidArgumentError,
  isCacheError,
  peerUnreachable,
  UnavailableError,
} from '../errors.js';
import { ChurnMap } from '../util/churn-map.js';
import { type Clock, systemClock } from '../util/clock.js';
import { LogThrottle } from '../util/log-throttle.js';
import { peerLeaving } from './leave.js';
import type { Logger } from './logger.js';
import { noopLogger } from './logger.js';
import {
  type CallOptions,
  clearAt,
  type PeerClient,
  type PeerGetManyResult,
  type PeerValue,
  removeKeys,
} from './peers.js';

/**
 * PROBE_GROUP is the group a health probe asks for. No node serves it, so every
 * peercache server and golang/groupcache answer at once with `no such group`:
 * an answer, which is all a probe wants.
 */
export const PROBE_GROUP = '_peercache_health_probe';

/** HealthClock is the time source of a {@link HealthCheckedPeer}: the project's {@link Clock}. */
export type HealthClock = Clock;

export { systemClock };

/** PeerHealthOptions tune how a {@link HealthCheckedPeer} judges its peer. */
export interface PeerHealthOptions {
  /**
   * enabled turns health tracking on. When false only `requestTimeoutMs`
   * applies: every call goes to the peer. Default true.
   */
  enabled?: boolean | undefined;
  /**
   * failureThreshold is how many calls in a row may fail to reach the peer
   * (refused, reset, timed out) before it is marked unhealthy without waiting
   * for a probe. Default 5.
   */
  failureThreshold?: number | undefined;
  /**
   * suspectAfterMs: when calls have been waiting this long and the peer has
   * answered nothing meanwhile, it is probed. Default 500.
   */
  suspectAfterMs?: number | undefined;
  /**
   * probeTimeoutMs is how long a probe waits for an answer (from it, or from
   * any call) before the peer is marked unhealthy. Default 2,000.
   */
  probeTimeoutMs?: number | undefined;
  /**
   * probeIntervalMs is how often an unhealthy peer is probed: a probe is sent
   * this long after the previous one was, or as soon as that one has failed if
   * it took longer. Default 1,000.
   */
  probeIntervalMs?: number | undefined;
}

/** HealthCheckedPeerOptions configure a {@link HealthCheckedPeer}. */
export interface HealthCheckedPeerOptions extends PeerHealthOptions {
  /**
   * requestTimeoutMs caps every call: its deadline is the earlier of the
   * caller's and now + this. Default 5,000.
   */
  requestTimeoutMs?: number | undefined;
  /** logger receives health transitions and throttled failure counts. Default: silent. */
  logger?: Logger | undefined;
  /** clock drives deadlines, suspicion and probes. Default {@link systemClock}. */
  clock?: HealthClock | undefined;
  /** logIntervalMs is the least time between two log lines about one peer's failures. Default 10,000. */
  logIntervalMs?: number | undefined;
  /**
   * onLeaving hears that the peer said it is leaving the cluster (a "leaving"
   * answer, or its leave notice): its keys should go to their next owners.
   * Default: nothing.
   */
  onLeaving?: ((url: string) => void) | undefined;
  /**
   * onReturned hears that a peer that had said it was leaving answers a probe
   * again (it was restarted at the same address): it owns its keys again.
   * Default: nothing.
   */
  onReturned?: ((url: string) => void) | undefined;
  /**
   * observer hears how each get, set and remove (and batch of them) sent to the peer
   * ended, as the wrapped client settled it: the request metrics, taken in this
   * wrapper's own callbacks instead of a promise layer of their own. Clear notices
   * and probes are not observed. It is closed with this wrapper.
   */
  observer?: PeerCallObserver | undefined;
}

/** PeerCallOp is the kind of a call as the request metrics count it: a batch counts as its kind. */
export type PeerCallOp = 'get' | 'set' | 'remove';

/** PeerCallObserver hears of the calls a {@link HealthCheckedPeer} sends to its peer. */
export interface PeerCallObserver {
  /** start is the time a call is sent, as `answered` and `failed` take it back. */
  start(): number;
  /** answered: the call of `op` for `group` sent at `started` got its answer. */
  answered(op: PeerCallOp, group: string, started: number): void;
  /** failed: the call of `op` for `group` sent at `started` failed with `err`. */
  failed(op: PeerCallOp, group: string, started: number, err: unknown): void;
  /** close: the wrapper is closed; calls that end later are no longer observed. */
  close?(): void;
}

/** PeerHealthState is what a {@link HealthCheckedPeer} knows about its peer. */
export interface PeerHealthState {
  /** healthy is false while calls to the peer fail at once. */
  healthy: boolean;
  /** since is when the peer last changed state (ms since the epoch), or when tracking began. */
  since: number;
  /** reason says why the peer is unhealthy; absent while healthy. */
  reason?: string;
  /** leaving is true while the peer has said it is leaving and has not answered a probe since. */
  leaving?: boolean;
}

/** The defaults of {@link HealthCheckedPeerOptions}. */
export const PEER_HEALTH_DEFAULTS = Object.freeze({
  requestTimeoutMs: 5_000,
  failureThreshold: 5,
  suspectAfterMs: 500,
  probeTimeoutMs: 2_000,
  probeIntervalMs: 1_000,
});

/**
 * probeAnswered tells whether a probe's failure is nonetheless an answer from
 * the peer: any error the peer sent back (`remote`, a not-found, refused
 * credentials), or the `no such group` every transport reports for
 * {@link PROBE_GROUP}, whichever code the client maps it to.
 */
export function probeAnswered(err: unknown): boolean {
  if (!peerUnreachable(err)) return true;
  return isCacheError(err) && err.message.includes('no such group');
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new InvalidArgumentError(`${name} must be a positive number of ms, got ${value}`);
  }
  return v;
}

/** ResolvedPeerHealth is {@link HealthCheckedPeerOptions}' numbers with the defaults filled in. */
export interface ResolvedPeerHealth {
  enabled: boolean;
  requestTimeoutMs: number;
  failureThreshold: number;
  suspectAfterMs: number;
  probeTimeoutMs: number;
  probeIntervalMs: number;
}

/**
 * resolvePeerHealth fills in the defaults of `options` and checks them: an
 * InvalidArgumentError names the first bad one.
 */
export function resolvePeerHealth(
  options: PeerHealthOptions & { requestTimeoutMs?: number | undefined } = {},
): ResolvedPeerHealth {
  const d = PEER_HEALTH_DEFAULTS;
  const threshold = options.failureThreshold ?? d.failureThreshold;
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new InvalidArgumentError(
      `failureThreshold must be a whole number >= 1, got ${threshold}`,
    );
  }
  return {
    enabled: options.enabled ?? true,
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, d.requestTimeoutMs),
    failureThreshold: threshold,
    suspectAfterMs: positive('suspectAfterMs', options.suspectAfterMs, d.suspectAfterMs),
    probeTimeoutMs: positive('probeTimeoutMs', options.probeTimeoutMs, d.probeTimeoutMs),
    probeIntervalMs: positive('probeIntervalMs', options.probeIntervalMs, d.probeIntervalMs),
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * HealthCheckedPeer wraps the client of one peer. Every call's deadline is
 * capped by `requestTimeoutMs`. The peer is marked unhealthy when a probe gets
 * no answer or `failureThreshold` calls in a row fail to reach it; then the
 * calls waiting on it fail at once, new calls fail at once with an
 * UnavailableError (the group asks the key's fallback owner), and the peer is probed every
 * `probeIntervalMs` until it answers. Its first answer — to a probe or to a
 * call sent before it went down — makes it healthy again.
 *
 * A probe is sent when a call fails to reach the peer, or when calls have been
 * waiting `suspectAfterMs` and the peer has answered nothing meanwhile: a hung
 * peer is found in about `suspectAfterMs + probeTimeoutMs`, whatever the
 * calls' own timeouts, while an owner that is merely slow to load keeps
 * answering probes and stays healthy. Errors the peer answered with (its
 * loader failed, not found) prove it alive and never count against it.
 */
export class HealthCheckedPeer implements PeerClient {
  /** url is the peer's base URL. */
  readonly url: string;
  readonly #inner: PeerClient;
  readonly #clock: HealthClock;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #enabled: boolean;
  readonly #timeoutMs: number;
  readonly #threshold: number;
  readonly #suspectAfterMs: number;
  readonly #probeTimeoutMs: number;
  readonly #probeIntervalMs: number;

  #healthy = true;
  #reason: string | undefined;
  #since: number;
  /** Calls in a row that failed to reach the peer. */
  #failures = 0;
  /** Calls waiting for the peer, by id: how to fail each at once. */
  readonly #waiting = new ChurnMap<number, (err: CacheError) => void>();
  #nextId = 0;
  /** When the peer last answered anything. */
  #lastAnswerAt = Number.NEGATIVE_INFINITY;
  /** When the calls now waiting began to wait (the first of them to be sent). */
  #busySince = 0;
  /** The suspicion timer, armed while calls wait and the peer is healthy. */
  #watch: unknown;
  /** The timer of the next probe of an unhealthy peer. */
  #nextProbe: unknown;
  #probing = false;
  #closed = false;
  /** The peer said it is leaving: not used, probed until it answers as a member again. */
  #leaving = false;
  readonly #onLeaving: ((url: string) => void) | undefined;
  readonly #onReturned: ((url: string) => void) | undefined;
  readonly #observer: PeerCallObserver | undefined;
  /**
   * getMany asks the peer for many keys (see {@link PeerClient.getMany}) in one call,
   * counted as one. A key answered "leaving" marks the peer leaving before the answer
   * returns, as a get's answer does, so the caller's next pick of that key skips it.
   * Only where the wrapped client has one: a group then sends one `get` per key, each
   * with its own deadline and counted as a get is.
   */
  readonly getMany: PeerClient['getMany'];

  constructor(inner: PeerClient, options: HealthCheckedPeerOptions = {}) {
    const config = resolvePeerHealth(options);
    this.url = inner.url;
    this.#inner = inner;
    const getMany = inner.getMany;
    this.getMany =
      getMany === undefined
        ? undefined
        : (group, keys, o) => this.#getMany(getMany, group, keys, o);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? noopLogger;
    this.#throttle = new LogThrottle({
      intervalMs: options.logIntervalMs,
      now: () => this.#clock.now(),
    });
    this.#enabled = config.enabled;
    this.#timeoutMs = config.requestTimeoutMs;
    this.#threshold = config.failureThreshold;
    this.#suspectAfterMs = config.suspectAfterMs;
    this.#probeTimeoutMs = config.probeTimeoutMs;
    this.#probeIntervalMs = config.probeIntervalMs;
    this.#since = this.#clock.now();
    this.#onLeaving = options.onLeaving;
    this.#onReturned = options.onReturned;
    this.#observer = options.observer;
  }

  /** healthy is false while calls to the peer fail at once. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** state describes the peer's health for `/peers`. */
  state(): PeerHealthState {
    if (this.#leaving) {
      return { healthy: false, since: this.#since, reason: 'leaving the cluster', leaving: true };
    }
    return this.#healthy || this.#reason === undefined
      ? { healthy: this.#healthy, since: this.#since }
      : { healthy: false, since: this.#since, reason: this.#reason };
  }

  /** leaving is true while the peer has said it is leaving and has not answered a probe since. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /**
   * markLeaving records that the peer said it is leaving the cluster: it is not
   * asked for keys any more (`onLeaving`), calls already sent to it get its
   * answers, and it is probed every `probeIntervalMs` until it answers as a member
   * again (restarted at its address), which ends it (`onReturned`). Its failures
   * meanwhile are not counted. Idempotent.
   */
  markLeaving(): void {
    if (this.#closed || this.#leaving) return;
    this.#leaving = true;
    this.#healthy = false;
    this.#reason = 'leaving the cluster';
    this.#since = this.#clock.now();
    this.#failures = 0;
    this.#stopWatch();
    this.#log.info({ peer: this.url }, 'peer is leaving: its keys go to their next owners');
    this.#onLeaving?.(this.url);
    this.#scheduleProbe();
  }

  /** rejoined ends a leave the membership has seen undone: the peer joined the ring again. */
  rejoined(): void {
    if (this.#leaving) this.#markHealthy();
  }

  /** get asks the peer for `key` of `group` (see {@link PeerClient.get}). */
  get(group: string, key: string, options?: CallOptions): Promise<PeerValue> {
    return this.#call('get', group, options, (o) => this.#inner.get(group, key, o));
  }

  /** set stores a value at the peer (see {@link PeerClient.set}). */
  set(
    group: string,
    key: string,
    value: Uint8Array,
    expireAt: number,
    options?: CallOptions,
  ): Promise<void> {
    return this.#call('set', group, options, (o) =>
      this.#inner.set(group, key, value, expireAt, o),
    );
  }

  /** remove drops a key at the peer (see {@link PeerClient.remove}). */
  remove(group: string, key: string, options?: CallOptions): Promise<void> {
    return this.#call('remove', group, options, (o) => this.#inner.remove(group, key, o));
  }

  /** #getMany is {@link HealthCheckedPeer.getMany} over `getMany`, the wrapped client's. */
  #getMany(
    getMany: NonNullable<PeerClient['getMany']>,
    group: string,
    keys: readonly string[],
    options?: CallOptions,
  ): Promise<PeerGetManyResult> {
    const inner = this.#inner;
    return this.#call('get', group, options, (o) => getMany.call(inner, group, keys, o)).then(
      (answer) => {
        for (const outcome of answer.values()) {
          if (peerLeaving(outcome)) {
            this.markLeaving();
            break;
          }
        }
        return answer;
      },
    );
  }

  /** removeMany drops many keys at the peer (see {@link PeerClient.removeMany}). */
  removeMany(group: string, keys: readonly string[], options?: CallOptions): Promise<void> {
    return this.#call('remove', group, options, (o) => removeKeys(this.#inner, group, keys, o));
  }

  /** clear sends the peer a group's clear notice (see {@link PeerClient.clear}). */
  clear(group: string, generation: number, options?: CallOptions): Promise<void> {
    return this.#call(undefined, group, options, (o) => clearAt(this.#inner, group, generation, o));
  }

  /**
   * close stops probing and closes the wrapped client, if it can be closed.
   * Calls still waiting settle as the wrapped client settles them.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopWatch();
    if (this.#nextProbe !== undefined) this.#clock.clearTimeout(this.#nextProbe);
    this.#nextProbe = undefined;
    this.#throttle.forget(this.url);
    this.#observer?.close?.();
    await (this.#inner as { close?: () => unknown }).close?.();
  }

  /**
   * #call sends a call through `send` with its deadline capped, and settles it as the
   * wrapped client does unless the peer is marked unhealthy first. A call of `op` (all
   * but clear notices) is told to the observer when the wrapped client settles it.
   */
  #call<T>(
    op: PeerCallOp | undefined,
    group: string,
    options: CallOptions | undefined,
    send: (o: CallOptions) => Promise<T>,
  ): Promise<T> {
    // A leaving peer is still sent what reaches it (a write's drops): it answers until it closes.
    if (!this.#healthy && !this.#leaving) {
      return Promise.reject(
        new UnavailableError(
          `peer ${this.url} is unhealthy (${this.#reason ?? 'no answer'}): not asked until it answers a probe`,
        ),
      );
    }
    const now = this.#clock.now();
    const cap = now + this.#timeoutMs;
    const callerDeadline = options?.deadline;
    // ours: the deadline that binds is this wrapper's, so a timeout is the peer's
    // fault, not a caller in a hurry.
    const ours = callerDeadline === undefined || callerDeadline >= cap;
    const signal = options?.signal;
    const observer = op === undefined ? undefined : this.#observer;
    const started = observer === undefined ? 0 : observer.start();
    let sent: Promise<T>;
    try {
      sent = send({ ...options, signal, deadline: ours ? cap : callerDeadline });
    } catch (err) {
      sent = Promise.reject(err);
    }
    if (!this.#enabled) {
      return sent.then(
        (value) => {
          observer?.answered(op as PeerCallOp, group, started);
          return value;
        },
        (err: unknown) => {
          observer?.failed(op as PeerCallOp, group, started, err);
          if (peerLeaving(err)) this.markLeaving();
          throw err;
        },
      );
    }
    if (this.#waiting.size === 0) this.#busySince = now;
    const id = this.#nextId++;
    this.#armWatch();
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, reject);
      sent.then(
        (value) => {
          observer?.answered(op as PeerCallOp, group, started);
          this.#answered();
          if (this.#waiting.delete(id)) resolve(value);
        },
        (err: unknown) => {
          observer?.failed(op as PeerCallOp, group, started, err);
          // #failed may mark the peer unhealthy, which fails every waiting call at
          // once, this one included, with the wrapper's UnavailableError; the
          // delete then finds nothing, and this call's own error is not passed on
          // a second time.
          this.#failed(err, ours, signal);
          if (this.#waiting.delete(id)) reject(err);
        },
      );
    });
  }

  /** The peer answered something: it is alive (a leaving peer is back only by a probe). */
  #answered(): void {
    this.#lastAnswerAt = this.#clock.now();
    this.#failures = 0;
    if (!this.#healthy && !this.#leaving) this.#markHealthy();
  }

  /** A call failed: count it against the peer only if the peer, not the caller, is why. */
  #failed(err: unknown, ours: boolean, signal: AbortSignal | undefined): void {
    if (peerLeaving(err)) {
      // Not a fault: the peer answered that it is going. Marked before the caller sees
      // the error, so that the caller's next pick already skips it.
      this.markLeaving();
      return;
    }
    if (this.#leaving) return;
    if (!peerUnreachable(err)) {
      this.#answered();
      return;
    }
    if (signal?.aborted) return; // the caller left: that says nothing about the peer
    if (!ours && isCacheError(err, 'DEADLINE_EXCEEDED')) return; // the caller's deadline, not ours
    if (!this.#healthy || this.#closed) return;
    this.#failures++;
    if (this.#failures >= this.#threshold) {
      this.#markUnhealthy(
        `${this.#failures} requests in a row failed to reach it, the last: ${messageOf(err)}`,
      );
      return;
    }
    const held = this.#throttle.take(this.url);
    if (held !== undefined) {
      this.#log.warn(
        { peer: this.url, err: messageOf(err), failedInARow: this.#failures, heldBack: held },
        'peer request failed to reach the peer; probing it',
      );
    }
    this.#probe();
  }

  #armWatch(): void {
    if (this.#watch !== undefined || !this.#healthy || this.#closed) return;
    this.#watch = this.#clock.setTimeout(() => this.#onWatch(), this.#suspectAfterMs);
  }

  #stopWatch(): void {
    if (this.#watch !== undefined) this.#clock.clearTimeout(this.#watch);
    this.#watch = undefined;
  }

  /**
   * The suspicion timer fired. If calls are waiting and the peer has answered
   * nothing for `suspectAfterMs` (counted from when they began to wait), probe
   * it; either way look again while calls wait.
   */
  #onWatch(): void {
    this.#watch = undefined;
    if (!this.#healthy || this.#closed || this.#waiting.size === 0) return;
    const now = this.#clock.now();
    const quietFor = now - Math.max(this.#lastAnswerAt, this.#busySince);
    if (quietFor >= this.#suspectAfterMs) {
      this.#probe();
      this.#watch = this.#clock.setTimeout(() => this.#onWatch(), this.#suspectAfterMs);
    } else {
      this.#watch = this.#clock.setTimeout(() => this.#onWatch(), this.#suspectAfterMs - quietFor);
    }
  }

  /** Send one probe unless one is out; its answer or silence decides the peer's state. */
  #probe(): void {
    if (this.#probing || this.#closed) return;
    this.#probing = true;
    const started = this.#clock.now();
    let done = false;
    // The probe's own timer decides, not the client's deadline, and only once the
    // I/O that is already in has been read. Step by step: when this process was
    // itself busy (a long synchronous task, a CPU-starved machine), the timer is
    // overdue by the time the event loop turns; timers run before the loop polls
    // the sockets, so an answer that arrived meanwhile would not have been read
    // yet, and a live peer would be marked unhealthy for our own delay. So the
    // timer only schedules the verdict with setImmediate, which runs after the
    // poll phase: an answer already received settles the probe first. For the
    // same reason the client gets a deadline later than the timer: its own timeout
    // would also fire before the poll phase.
    const timer = this.#clock.setTimeout(
      () => setImmediate(() => finish(undefined, true)),
      this.#probeTimeoutMs,
    );
    const finish = (err: unknown, timedOut = false) => {
      if (done) return;
      done = true;
      this.#clock.clearTimeout(timer);
      this.#probing = false;
      if (this.#closed) return;
      if (this.#leaving) {
        // Only the probe's own answer ends a leave: the calls a leaving peer answers
        // (drops) come from the process that is going.
        if (!timedOut && (err === undefined || probeAnswered(err))) this.#markHealthy();
        else this.#scheduleProbe(started + this.#probeIntervalMs - this.#clock.now());
        return;
      }
      // A call answered while the probe waited (its connection may have queued
      // behind theirs) proves the peer alive as well as the probe would have.
      if (
        this.#lastAnswerAt >= started ||
        (!timedOut && (err === undefined || probeAnswered(err)))
      ) {
        this.#answered();
      } else {
        // The client may give up first (a dial unanswered, a stalled connection reset).
        const reason = timedOut
          ? `peer ${this.url}: no answer to a health probe within ${this.#probeTimeoutMs} ms`
          : `a health probe failed: ${messageOf(err)}`;
        this.#probeFailed(reason, started);
      }
    };
    let asked: Promise<unknown>;
    try {
      asked = this.#inner.get(PROBE_GROUP, 'probe', {
        deadline: started + 2 * this.#probeTimeoutMs,
      });
    } catch (err) {
      asked = Promise.reject(err);
    }
    asked.then(
      () => finish(undefined),
      (err: unknown) => finish(err ?? new UnavailableError('probe failed')),
    );
  }

  /** A probe sent at `started` got no answer, for `reason`. */
  #probeFailed(reason: string, started: number): void {
    if (this.#healthy) {
      this.#markUnhealthy(reason);
      return;
    }
    const held = this.#throttle.take(this.url);
    if (held !== undefined) {
      this.#log.warn(
        { peer: this.url, err: reason, failedProbes: held + 1 },
        'peer still unhealthy',
      );
    }
    // Counted from when it was sent, not from its failure: a probe that waited out its
    // timeout (a dial left unanswered by a partition) does not stretch the interval, so a
    // peer whose link comes back is asked again within probeIntervalMs.
    this.#scheduleProbe(started + this.#probeIntervalMs - this.#clock.now());
  }

  /** scheduleProbe probes the unhealthy peer in `delayMs` (default probeIntervalMs). */
  #scheduleProbe(delayMs = this.#probeIntervalMs): void {
    if (this.#closed || this.#nextProbe !== undefined) return;
    this.#nextProbe = this.#clock.setTimeout(
      () => {
        this.#nextProbe = undefined;
        if (!this.#healthy) this.#probe();
      },
      Math.max(0, delayMs),
    );
  }

  /**
   * Mark the peer unhealthy and fail every call waiting on it now, so that
   * their groups turn to the keys' fallback owners at once instead of waiting
   * out their timeouts.
   * The requests themselves stay with the transport until their deadlines.
   */
  #markUnhealthy(reason: string): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#reason = reason;
    this.#since = this.#clock.now();
    this.#stopWatch();
    this.#throttle.take(this.url); // the transition line below opens the interval
    this.#log.warn(
      { peer: this.url, reason, abandoned: this.#waiting.size },
      'peer unhealthy: its keys go to their fallback owners until it answers a probe',
    );
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    const err = new UnavailableError(`peer ${this.url} stopped answering: ${reason}`);
    for (const reject of waiting) reject(err);
    this.#scheduleProbe();
  }

  #markHealthy(): void {
    const downMs = this.#clock.now() - this.#since;
    const wasLeaving = this.#leaving;
    this.#leaving = false;
    this.#healthy = true;
    this.#reason = undefined;
    this.#since = this.#clock.now();
    this.#failures = 0;
    if (this.#nextProbe !== undefined) this.#clock.clearTimeout(this.#nextProbe);
    this.#nextProbe = undefined;
    this.#throttle.forget(this.url);
    if (wasLeaving) {
      this.#log.info({ peer: this.url, awayMs: downMs }, 'peer is back after leaving');
      this.#onReturned?.(this.url);
      return;
    }
    this.#log.info({ peer: this.url, downMs }, 'peer healthy again');
  }
}

/** healthOf returns the health of a peer client made by a node, or undefined for an unwrapped one. */
export function healthOf(client: PeerClient): PeerHealthState | undefined {
  for (let c: PeerClient | undefined = client; c !== undefined; c = c.inner) {
    if (c instanceof HealthCheckedPeer) return c.state();
  }
  return undefined;
}

/** healthCheckedOf returns the {@link HealthCheckedPeer} a peer client made by a node wraps, if any. */
export function healthCheckedOf(client: PeerClient): HealthCheckedPeer | undefined {
  for (let c: PeerClient | undefined = client; c !== undefined; c = c.inner) {
    if (c instanceof HealthCheckedPeer) return c;
  }
  return undefined;
}

/**
 * peerRejoined tells the {@link HealthCheckedPeer} a client wraps that its peer
 * joined the ring again, which ends a leave it had announced.
 */
export function peerRejoined(client: PeerClient): void {
  healthCheckedOf(client)?.rejoined();
}

/**
 * peerHealthy tells whether a peer client made by a node is used: false while
 * the {@link HealthCheckedPeer} it wraps finds its peer unhealthy, true for a
 * client with no health tracking. It reads the state without copying it.
 */
export function peerHealthy(client: PeerClient): boolean {
  for (let c: PeerClient | undefined = client; c !== undefined; c = c.inner) {
    if (c instanceof HealthCheckedPeer) return c.healthy;
  }
  return true;
}
