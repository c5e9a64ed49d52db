// session.ts: DnsMembership, the polling loop of DNS membership: look the members up
// every interval (with jitter), apply the set when it changed, and keep the last good
// set through failed lookups and short-lived empty answers.
import type { Logger } from '../../core/logger.js';
import { UnavailableError } from '../../errors.js';
import type { Clock } from '../../util/clock.js';
import { memberChange } from '../member-set.js';
import type { Membership } from '../membership.js';
import { type DnsResolver, type LookupResult, lookupMembers } from './lookup.js';
import type { ResolvedDnsOptions } from './options.js';

/** DnsMembershipStatus is what `status()` reports, for `/peers`. */
export interface DnsMembershipStatus {
  /** name is the DNS name looked up. */
  name: string;
  /** records is the record type read: `A/AAAA` or `SRV`. */
  records: 'A/AAAA' | 'SRV';
  /** servers are the DNS servers asked, or null for the system's. */
  servers: string[] | null;
  /** intervalMs is the time between lookups (before jitter). */
  intervalMs: number;
  /** members is the size of the member set in force (self included). */
  members: number;
  /** lastLookupAt is when the last lookup ended (ISO 8601), or null before the first. */
  lastLookupAt: string | null;
  /** lastError is the text of the last failed lookup, or null. */
  lastError: string | null;
  /** failedLookups is the number of failed lookups in a row now (0: the last one answered). */
  failedLookups: number;
  /** emptyLookups is the number of empty answers in a row now. */
  emptyLookups: number;
  /** lastChangeAt is when the member set last changed (ISO 8601), or null. */
  lastChangeAt: string | null;
}

function describe(err: unknown): { message: string; code: string | undefined } {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return { message, code: typeof code === 'string' ? code : undefined };
}

/**
 * DnsMembership is a {@link Membership} that polls DNS. Each lookup's answer is
 * compared with the set in force as a set and applied in one step when it
 * differs; self is always a member. A lookup that fails keeps the set in force
 * (logged once per streak of failures); so does an empty answer, until
 * `emptyPolls` lookups in a row have answered empty. The first lookup is applied
 * whatever it answers, there being no earlier set to keep.
 */
export class DnsMembership implements Membership {
  readonly name = 'dns';
  readonly #o: ResolvedDnsOptions;
  readonly #resolver: DnsResolver;
  readonly #log: Logger;
  readonly #clock: Clock;
  #apply: ((peers: readonly string[]) => void) | undefined;
  #started: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #stopped = false;
  #timer: unknown;
  #inFlight: Promise<void> | undefined;

  #applied: string[] | undefined;
  #failed = 0;
  #empty = 0;
  #lastError: string | undefined;
  #lastLookupAt: number | undefined;
  #lastChangeAt: number | undefined;

  constructor(options: ResolvedDnsOptions, resolver: DnsResolver) {
    this.#o = options;
    this.#resolver = resolver;
    this.#log = options.logger;
    this.#clock = options.clock;
  }

  /**
   * start looks the members up once and applies the answer, then polls in the
   * background. It resolves after that first lookup, whether or not DNS answered
   * (a failure is logged; the node keeps the set it had). Calling it again
   * returns the same promise.
   */
  start(apply: (peers: readonly string[]) => void): Promise<void> {
    if (this.#closing) return Promise.reject(new UnavailableError('dns membership is closed'));
    this.#started ??= this.#start(apply);
    return this.#started;
  }

  async #start(apply: (peers: readonly string[]) => void): Promise<void> {
    this.#apply = apply;
    const o = this.#o;
    this.#log.info(
      {
        name: o.name,
        records: o.srv ? 'SRV' : 'A/AAAA',
        port: o.port ?? null,
        servers: o.servers ?? null,
        intervalMs: o.intervalMs,
        self: o.self ?? null,
      },
      'dns membership: polling',
    );
    await this.#poll();
  }

  /** #poll runs one lookup, handles its answer, and schedules the next. */
  #poll(): Promise<void> {
    this.#timer = undefined;
    const run = (async () => {
      let result: LookupResult | undefined;
      let error: unknown;
      try {
        result = await lookupMembers(this.#resolver, this.#o);
      } catch (err) {
        error = err;
      }
      if (this.#stopped) return;
      this.#lastLookupAt = this.#clock.now();
      if (result === undefined) this.#onFailure(error);
      else if (result.empty) this.#onEmpty();
      else this.#onAnswer(result.peers);
      this.#schedule();
    })();
    this.#inFlight = run;
    return run;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const { intervalMs, jitter } = this.#o;
    const delay = intervalMs * (1 - jitter + 2 * jitter * this.#o.random());
    this.#timer = this.#clock.setTimeout(() => void this.#poll(), Math.max(1, delay));
  }

  #onAnswer(peers: string[]): void {
    if (this.#failed > 0 || this.#empty > 0) {
      this.#log.info(
        { name: this.#o.name, failedLookups: this.#failed, emptyLookups: this.#empty },
        'dns lookup answered again',
      );
    }
    this.#failed = 0;
    this.#empty = 0;
    this.#lastError = undefined;
    this.#set(peers);
  }

  #onEmpty(): void {
    this.#empty++;
    const { name, emptyPolls } = this.#o;
    if (this.#applied === undefined || this.#empty >= emptyPolls) {
      if (this.#applied !== undefined) {
        this.#log.warn(
          { name, emptyLookups: this.#empty },
          'dns: still no records: the member set is now this node only',
        );
      }
      this.#set([]);
      return;
    }
    if (this.#empty === 1) {
      this.#log.warn(
        { name, emptyPolls },
        'dns: no records: keeping the last member set unless the next lookups agree',
      );
    }
  }

  #onFailure(err: unknown): void {
    const { message, code } = describe(err);
    this.#failed++;
    this.#lastError = message;
    if (this.#failed === 1) {
      this.#log.warn(
        { name: this.#o.name, servers: this.#o.servers ?? null, err: message, code },
        'dns lookup failed: keeping the last member set',
      );
    }
  }

  /** #set applies `peers` plus self, when that differs from the set in force. */
  #set(peers: readonly string[]): void {
    const self = this.#o.self;
    const change = memberChange(this.#applied, self === undefined ? peers : [...peers, self]);
    if (change === undefined) return;
    this.#applied = change.members;
    this.#lastChangeAt = this.#clock.now();
    // The node logs the change it applies at info.
    this.#log.debug({ ...change }, 'dns members changed');
    this.#apply?.(change.members);
  }

  /** close stops polling and cancels a lookup in flight. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolver.cancel();
    await this.#inFlight;
  }

  /** status reports the last lookup and the set in force, for `/peers`. */
  status(): Record<string, unknown> {
    const o = this.#o;
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
    const status: DnsMembershipStatus = {
      name: o.name,
      records: o.srv ? 'SRV' : 'A/AAAA',
      servers: o.servers ?? null,
      intervalMs: o.intervalMs,
      members: this.#applied?.length ?? 0,
      lastLookupAt: iso(this.#lastLookupAt),
      lastError: this.#lastError ?? null,
      failedLookups: this.#failed,
      emptyLookups: this.#empty,
      lastChangeAt: iso(this.#lastChangeAt),
    };
    return { ...status };
  }
}
