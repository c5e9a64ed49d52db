// session.ts: EtcdMembership, the session loop of etcd membership: register this
// node under a lease and keep it alive (re-granting a lost lease), mirror the
// service's keys with a get and a watch (re-watching after a disconnect, reading
// afresh after a compaction), and hand the node the whole member set, coalesced.
import type { Logger } from '../../core/logger.js';
import { type CacheError, errorFromCode, toCacheError, UnavailableError } from '../../errors.js';
import { type Clock, holdOpen } from '../../util/clock.js';
import { memberChange } from '../member-set.js';
import type { Membership } from '../membership.js';
import { Backoff, pause } from './backoff.js';
import { type EtcdClient, type EtcdEvent, isConnectionError } from './client.js';
import { nodeKey, nodesPrefix, nodeValue, peerFromKey } from './keys.js';
import type { ResolvedEtcdOptions } from './options.js';

/** EtcdMembershipStatus is what `status()` reports, for `/peers`. */
export interface EtcdMembershipStatus {
  /** endpoints are the configured etcd URLs. */
  endpoints: string[];
  /** connected says whether the last call to etcd got an answer. */
  connected: boolean;
  /** leaseId is the current lease in hex, as etcdctl prints it, or null (watch only, or none yet). */
  leaseId: string | null;
  /** lastError is the text of the last failed call, or null. */
  lastError: string | null;
  /** lastChangeAt is when the member set last changed (ISO 8601), or null. */
  lastChangeAt: string | null;
  /** revision is the etcd revision the member set reflects (0 before the first read). */
  revision: number;
  /** registered says whether this node's key is in etcd under a live lease. */
  registered: boolean;
}

/** Lease is the lease this node's key hangs on, as this side knows it. */
interface Lease {
  id: bigint;
  /** ttl is the TTL etcd granted, in seconds. */
  ttl: number;
  /**
   * deadline is when the lease has surely expired on etcd's side unless a
   * keepalive sent before it got through (ms on the session's clock): the send time of the
   * last answered grant or keepalive plus the TTL it answered.
   */
  deadline: number;
}

/** hex prints a lease ID as etcdctl does. */
function hex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/**
 * EtcdMembership is a {@link Membership} backed by etcd. Two loops share one
 * client: registration (only with `self`) and discovery. Neither ever applies
 * a set because etcd is unreachable: while it is, the last set stays in force,
 * and the loops retry with backoff until etcd answers again.
 */
export class EtcdMembership implements Membership {
  readonly name = 'etcd';
  readonly #o: ResolvedEtcdOptions;
  readonly #client: EtcdClient;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #nodes: string;
  readonly #key: string | undefined;
  readonly #stop = new AbortController();
  #value: Uint8Array | undefined;
  #apply: ((peers: readonly string[]) => void) | undefined;
  #started: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #loops: Promise<void>[] = [];

  // Registration.
  #lease: Lease | undefined;
  /** A lease given up on this side that etcd may still hold: revoked once the key has moved. */
  #staleLease: bigint | undefined;
  #registered = false;
  /** The revision of our last put: a deletion of our key after it means we must put again. */
  #registeredRevision = 0;
  #wake: (() => void) | undefined;

  // Discovery.
  #members = new Map<string, string>();
  #revision = 0;
  #clusterId: string | undefined;
  #synced = false;
  #applied: string[] | undefined;
  #applyTimer: unknown;

  // Status.
  #connected: boolean | undefined;
  #lastError: string | undefined;
  #lastLoggedError: string | undefined;
  #lastChangeAt: string | undefined;

  constructor(options: ResolvedEtcdOptions, client: EtcdClient) {
    this.#o = options;
    this.#client = client;
    this.#log = options.logger;
    this.#clock = options.clock;
    this.#nodes = nodesPrefix(options.prefix, options.service);
    this.#key =
      options.self === undefined
        ? undefined
        : nodeKey(options.prefix, options.service, options.self);
  }

  get #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /**
   * start registers this node (with `self`) and reads the member set, then keeps
   * both up to date in the background. It resolves after the first attempt at
   * each, whether or not etcd answered; with `failFast` a failed first attempt
   * rejects instead (and everything is stopped). Calling it again returns the
   * same promise.
   */
  start(apply: (peers: readonly string[]) => void): Promise<void> {
    if (this.#closing) return Promise.reject(new UnavailableError('etcd membership is closed'));
    this.#started ??= this.#start(apply);
    return this.#started;
  }

  async #start(apply: (peers: readonly string[]) => void): Promise<void> {
    this.#apply = apply;
    const o = this.#o;
    this.#log.info(
      {
        endpoints: o.endpoints.map((e) => e.url),
        service: o.service,
        prefix: o.prefix,
        self: o.self ?? null,
        leaseTtlSeconds: o.leaseTtlSeconds,
      },
      o.self === undefined ? 'etcd membership: watching' : 'etcd membership: registering',
    );
    let firstError: CacheError | undefined;
    if (this.#key !== undefined) {
      this.#value = nodeValue(o.self!, new Date(), o.metadata);
      firstError = await new Promise<CacheError | undefined>((first) =>
        this.#loops.push(this.#registrationLoop(first)),
      );
    }
    if (!(firstError && o.failFast) && !this.#stopped) {
      const err = await new Promise<CacheError | undefined>((first) =>
        this.#loops.push(this.#discoveryLoop(first)),
      );
      firstError ??= err;
    }
    if (firstError === undefined) return;
    const where = o.endpoints.map((e) => e.url).join(', ');
    if (o.failFast) {
      await this.close();
      const message = isConnectionError(firstError)
        ? `cannot reach etcd at ${where}: ${firstError.message}`
        : `etcd at ${where} refused: ${firstError.message}`;
      throw isConnectionError(firstError)
        ? new UnavailableError(message, { cause: firstError })
        : errorFromCode(firstError.code, message, { cause: firstError });
    }
    this.#log.warn(
      { endpoints: where, err: firstError.message },
      'etcd not ready yet: retrying in the background',
    );
  }

  // ---- Registration -------------------------------------------------------

  /**
   * #registrationLoop keeps this node's key in etcd. Each round either grants a
   * lease (none yet, or the old one lost), puts the key, or renews the lease;
   * after a success it waits a keepalive interval (or until woken because the
   * key vanished), after a failure a backoff delay. `first` gets the outcome of
   * the first round.
   */
  async #registrationLoop(first: (err: CacheError | undefined) => void): Promise<void> {
    const backoff = new Backoff(this.#o.retryMinMs, this.#o.retryMaxMs);
    let reported = false;
    const report = (err: CacheError | undefined) => {
      if (reported) return;
      reported = true;
      first(err);
    };
    while (!this.#stopped) {
      try {
        if (!(await this.#registrationStep())) continue;
        this.#ok();
        backoff.reset();
        report(undefined);
        await this.#sleepUntilWoken(this.#keepaliveIntervalMs());
      } catch (err) {
        if (this.#stopped) break;
        const e = toCacheError(err);
        report(e);
        if (e.code === 'NOT_FOUND' && this.#lease !== undefined) {
          // The put named a lease etcd no longer has (revoked, or expired while
          // we could not reach it): get a new one at once.
          this.#loseLease('etcd no longer has it', false);
          continue;
        }
        this.#failure(e);
        await pause(backoff.next(), this.#stop.signal, this.#clock);
      }
    }
    report(undefined);
  }

  /**
   * #registrationStep does the next thing registration needs and says whether
   * it is done for this round (false: go again at once, e.g. the lease is lost).
   */
  async #registrationStep(): Promise<boolean> {
    const signal = this.#stop.signal;
    if (this.#lease !== undefined && this.#clock.now() >= this.#lease.deadline) {
      // No keepalive got through for a whole TTL: etcd has expired the lease, or
      // will, so this side cannot count on it. Its key may still be there; a put
      // under the new lease moves it, then the old lease is revoked.
      this.#loseLease(`no keepalive answered for ${this.#lease.ttl} s`, true);
    }
    let lease = this.#lease;
    if (lease === undefined) {
      const sent = this.#clock.now();
      const granted = await this.#client.grant(this.#o.leaseTtlSeconds, { signal });
      lease = { id: granted.id, ttl: granted.ttl, deadline: sent + granted.ttl * 1000 };
      this.#lease = lease;
      this.#registered = false;
      this.#log.info({ lease: hex(lease.id), ttl: lease.ttl }, 'etcd lease granted');
    }
    if (!this.#registered) {
      const revision = await this.#client.put(this.#key!, this.#value!, lease.id, { signal });
      this.#registered = true;
      this.#registeredRevision = revision;
      this.#log.info({ key: this.#key, lease: hex(lease.id) }, 'registered in etcd');
      const stale = this.#staleLease;
      this.#staleLease = undefined;
      if (stale !== undefined && stale !== lease.id) {
        this.#client.revoke(stale, { signal }).catch(() => {
          // Best effort: the key has moved, so the old lease only runs out.
        });
      }
      return true;
    }
    const sent = this.#clock.now();
    const timeoutMs = Math.min(this.#o.requestTimeoutMs, Math.max(1000, lease.deadline - sent));
    const ttl = await this.#client.keepAlive(lease.id, { signal, timeoutMs });
    if (ttl <= 0) {
      this.#loseLease('etcd says it expired or was revoked', false);
      return false;
    }
    lease.deadline = sent + ttl * 1000;
    return true;
  }

  #loseLease(reason: string, mayStillExist: boolean): void {
    const lease = this.#lease;
    if (lease === undefined) return;
    this.#lease = undefined;
    this.#registered = false;
    if (mayStillExist) this.#staleLease = lease.id;
    this.#log.warn({ lease: hex(lease.id), reason }, 'etcd lease lost: re-granting');
  }

  #keepaliveIntervalMs(): number {
    return (
      this.#o.keepaliveIntervalMs ?? ((this.#lease?.ttl ?? this.#o.leaseTtlSeconds) * 1000) / 3
    );
  }

  /** #sleepUntilWoken waits `ms`, or less when closed or {@link #reregister} wakes it. */
  #sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const clock = this.#clock;
      const timer = holdOpen(clock.setTimeout(done, ms));
      const signal = this.#stop.signal;
      function done() {
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** #reregister puts our key again at once: it was deleted after our last put. */
  #reregister(revision: number): void {
    if (this.#key === undefined || this.#stopped || revision <= this.#registeredRevision) return;
    if (!this.#registered) return;
    this.#registered = false;
    this.#log.warn({ key: this.#key, revision }, 'our etcd key was deleted: registering again');
    this.#wake?.();
  }

  // ---- Discovery ----------------------------------------------------------

  /**
   * #discoveryLoop mirrors the service's keys: a read of the prefix, then a
   * watch from that revision + 1, so no change between them is missed. A broken
   * watch is re-established from the last revision seen; if etcd has compacted
   * that revision away (or is a different cluster) the prefix is read afresh.
   */
  async #discoveryLoop(first: (err: CacheError | undefined) => void): Promise<void> {
    const backoff = new Backoff(this.#o.retryMinMs, this.#o.retryMaxMs);
    let reported = false;
    const report = (err: CacheError | undefined) => {
      if (reported) return;
      reported = true;
      first(err);
    };
    while (!this.#stopped) {
      try {
        if (!this.#synced) await this.#sync();
        report(undefined);
        await this.#watch(backoff);
      } catch (err) {
        if (this.#stopped) break;
        const e = toCacheError(err);
        report(e);
        this.#failure(e);
        await pause(backoff.next(), this.#stop.signal, this.#clock);
      }
    }
    report(undefined);
  }

  async #sync(): Promise<void> {
    const range = await this.#client.range(this.#nodes, { signal: this.#stop.signal });
    const members = new Map<string, string>();
    for (const kv of range.kvs) {
      const url = peerFromKey(kv.key, this.#nodes);
      if (url === undefined)
        this.#log.debug({ key: kv.key }, 'etcd: ignoring a key that names no peer URL');
      else members.set(kv.key, url);
    }
    this.#members = members;
    this.#revision = range.revision;
    this.#clusterId = range.clusterId;
    this.#synced = true;
    this.#ok();
    if (this.#key !== undefined && !members.has(this.#key)) this.#reregister(range.revision);
    this.#flush();
  }

  /** #watch runs one watch until it breaks (rejects), or needs a fresh read or a stop (resolves). */
  #watch(backoff: Backoff): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.#stop.signal;
      let over = false;
      const finish = (err?: CacheError) => {
        if (over) return;
        over = true;
        signal.removeEventListener('abort', onStop);
        watch.close();
        if (err) reject(err);
        else resolve();
      };
      const onStop = () => finish();
      const watch = this.#client.watch(this.#nodes, this.#revision + 1, {
        onCreated: (clusterId) => {
          this.#ok();
          backoff.reset();
          if (this.#clusterId !== undefined && clusterId !== this.#clusterId) {
            this.#log.warn(
              { was: this.#clusterId, now: clusterId },
              'etcd is a different cluster now: reading the whole set again',
            );
            this.#synced = false;
            finish();
          }
        },
        onEvents: (events) => {
          if (!over) this.#onEvents(events);
        },
        onCompacted: (compactRevision) => {
          this.#log.warn(
            { revision: this.#revision, compactRevision },
            'etcd watch revision compacted: reading the whole set again',
          );
          this.#synced = false;
          finish();
        },
        onError: (err) => finish(err),
      });
      signal.addEventListener('abort', onStop, { once: true });
    });
  }

  #onEvents(events: readonly EtcdEvent[]): void {
    for (const ev of events) {
      if (ev.modRevision > this.#revision) this.#revision = ev.modRevision;
      if (ev.type === 'delete') {
        this.#members.delete(ev.key);
        if (ev.key === this.#key) this.#reregister(ev.modRevision);
        continue;
      }
      const url = peerFromKey(ev.key, this.#nodes);
      if (url === undefined)
        this.#log.debug({ key: ev.key }, 'etcd: ignoring a key that names no peer URL');
      else this.#members.set(ev.key, url);
    }
    this.#ok();
    this.#scheduleApply();
  }

  #scheduleApply(): void {
    if (this.#applyTimer !== undefined) return;
    this.#applyTimer = holdOpen(this.#clock.setTimeout(() => this.#flush(), this.#o.coalesceMs));
  }

  /** #flush hands the node the whole member set, if it differs from the last one. */
  #flush(): void {
    if (this.#applyTimer !== undefined) this.#clock.clearTimeout(this.#applyTimer);
    this.#applyTimer = undefined;
    if (this.#stopped) return;
    const change = memberChange(this.#applied, this.#members.values());
    if (change === undefined) return;
    this.#applied = change.members;
    this.#lastChangeAt = new Date().toISOString();
    // The node logs the change it applies at info; this line adds the revision.
    this.#log.debug({ ...change, revision: this.#revision }, 'etcd members changed');
    this.#apply?.(change.members);
  }

  // ---- Connection state -----------------------------------------------------

  #ok(): void {
    if (this.#connected === false) {
      this.#log.info({ endpoint: this.#client.endpoint }, 'etcd connection restored');
    }
    this.#connected = true;
    this.#lastLoggedError = undefined;
  }

  #failure(err: CacheError): void {
    this.#lastError = err.message;
    if (isConnectionError(err)) {
      if (this.#connected !== false) {
        this.#log.warn(
          { endpoint: this.#client.endpoint, err: err.message },
          this.#connected === undefined ? 'etcd unreachable' : 'etcd connection lost',
        );
      }
      this.#connected = false;
    } else if (err.message !== this.#lastLoggedError) {
      this.#lastLoggedError = err.message;
      this.#log.error({ err: err.message, code: err.code }, 'etcd call failed');
    }
  }

  // ---- Lifecycle ------------------------------------------------------------

  /**
   * close stops both loops and revokes the lease, so peers drop this node at
   * once (if etcd cannot be reached, the lease runs out after its TTL instead).
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    if (this.#applyTimer !== undefined) this.#clock.clearTimeout(this.#applyTimer);
    this.#applyTimer = undefined;
    await Promise.allSettled(this.#loops);
    const lease = this.#lease;
    this.#lease = undefined;
    this.#registered = false;
    if (lease !== undefined) {
      try {
        await this.#client.revoke(lease.id, {
          timeoutMs: Math.min(this.#o.requestTimeoutMs, 2000),
        });
        this.#log.info({ key: this.#key, lease: hex(lease.id) }, 'left etcd: lease revoked');
      } catch (err) {
        this.#log.warn(
          { lease: hex(lease.id), err: toCacheError(err).message, ttl: lease.ttl },
          'could not revoke the etcd lease: peers drop this node when it expires',
        );
      }
    }
    this.#client.close();
  }

  /** status reports the connection, lease and revision, for `/peers`. */
  status(): Record<string, unknown> {
    const lease = this.#lease;
    const status: EtcdMembershipStatus = {
      endpoints: this.#o.endpoints.map((e) => e.url),
      connected: this.#connected === true,
      leaseId: lease === undefined ? null : hex(lease.id),
      lastError: this.#lastError ?? null,
      lastChangeAt: this.#lastChangeAt ?? null,
      revision: this.#revision,
      registered: this.#registered && lease !== undefined && this.#clock.now() < lease.deadline,
    };
    return { ...status };
  }
}
