// soak-client.ts: the soak benchmark's client: mixed API gets, sets and removes at a steady
// rate, spread round-robin over the nodes it is told to use, with a bound on requests in
// flight; every answer is checked and every failure counted by operation and reason.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { isSoakValue, setValue, soakKey } from './soak-values.js';

/** OpKind is one of the client's operations. */
export type OpKind = 'get' | 'set' | 'remove';

/** SoakTarget is one node's API the client may send to. */
export interface SoakTarget {
  /** Name shown in reports, e.g. `A` or `D#3`. */
  readonly name: string;
  readonly apiUrl: string;
}

/** SoakClientOptions configure a {@link SoakClient}. */
export interface SoakClientOptions {
  /** Operations started per second, all kinds together. */
  rate: number;
  /** Keys are `soakKey(0)` .. `soakKey(keys - 1)`, each op picking one at random. */
  keys: number;
  /** Share of gets and of sets among operations; the rest are removes. */
  mix: { get: number; set: number };
  /** Share of sets that carry a `ttl` (of `ttlMs`). */
  ttlShare: number;
  ttlMs: number;
  /** Operations in flight at most; an operation due beyond it is not sent, and counted. */
  maxInFlight: number;
  /** Client-side deadline of each request, in ms. */
  timeoutMs: number;
  /** The group asked for. */
  group: string;
  /** ownerOf names the owner of `key` as the bench knows the ring when an operation starts. */
  ownerOf: (key: string) => string;
  /**
   * causeOf names what a failed operation ran into — `hung owner`, `owner leaving or gone` —
   * given the peer it failed on (the one its error names, else the owner it started
   * with) and when it started (`performance.now()`), or undefined when neither
   * explains it.
   */
  causeOf: (peer: string, startedAt: number) => string | undefined;
  /** hung says whether a node is hung on purpose right now (to count gets started meanwhile). */
  hung: () => boolean;
}

/** Latencies collects the latency of successful operations, in ms. */
class Latencies {
  #values: number[] = [];

  add(ms: number): void {
    this.#values.push(ms);
  }

  /** percentile is the p-th percentile (0–100) of the values so far; NaN when empty. */
  percentile(p: number): number {
    if (this.#values.length === 0) return Number.NaN;
    const sorted = Float64Array.from(this.#values).sort();
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  }

  /** count is the number of values so far. */
  get count(): number {
    return this.#values.length;
  }

  /** max is the largest value so far; 0 when empty. */
  get max(): number {
    return this.#values.reduce((m, v) => Math.max(m, v), 0);
  }
}

/** OpCounts are the counters of one kind of operation. */
export interface OpCounts {
  /** Sent. */
  sent: number;
  /** Answered as they should be (a right value, a 204). */
  ok: number;
  /** Failed: an error status, a wrong value, a transport error or the client deadline. */
  failed: number;
  /** Of `failed`: by the cause `causeOf` gave (`other` when none). */
  causes: Map<string, number>;
  /** Of `failed`: gets started while a node was hung on purpose. */
  duringHang: number;
  /** Failures by reason (`503`, `wrong value`, an error's code...). */
  reasons: Map<string, number>;
  /** The first failure of each cause and reason (`<cause>, <reason>`), described. */
  firstByCause: Map<string, string>;
  /** Latency of the successful ones. */
  latency: Latencies;
  /** Latency of successful gets started while a node was hung (gets only). */
  latencyDuringHang: Latencies;
}

interface Live {
  target: SoakTarget;
  pool: Pool;
  inFlight: number;
  /** Resolved when `inFlight` drops to 0 (for `drain`). */
  idle: (() => void)[];
}

const TICK_MS = 10;
/** TIMELINE_MS is the width of an interval of {@link SoakClient.timeline}. */
export const TIMELINE_MS = 10_000;

/**
 * SoakClient sends the mixed load. `add`/`drain` change the nodes it uses while it
 * runs; `stop` waits for the requests in flight.
 */
export class SoakClient {
  readonly #o: SoakClientOptions;
  readonly #live: Live[] = [];
  #next = 0;
  #sets = 0;
  #due = 0;
  #started = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #settled: (() => void)[] = [];
  /** Operations due while `maxInFlight` were in flight, not sent. */
  skippedAtBound = 0;
  /** Operations due while no node was in use, not sent. */
  skippedNoTarget = 0;
  /** Most operations in flight at once. */
  peakInFlight = 0;
  /**
   * Failures by the 10-second interval they happened in (from `start`), then by
   * `<kind> <status or error> (<cause>)`: when, and what, failed.
   */
  readonly timeline = new Map<number, Map<string, number>>();
  readonly counts: Record<OpKind, OpCounts>;

  constructor(options: SoakClientOptions) {
    this.#o = options;
    const fresh = (): OpCounts => ({
      sent: 0,
      ok: 0,
      failed: 0,
      causes: new Map(),
      firstByCause: new Map(),
      duringHang: 0,
      reasons: new Map(),
      latency: new Latencies(),
      latencyDuringHang: new Latencies(),
    });
    this.counts = { get: fresh(), set: fresh(), remove: fresh() };
  }

  /** add starts sending to `target` too, over a pool of its own. */
  add(target: SoakTarget): void {
    const pool = new Pool(target.apiUrl, { connections: 1024, pipelining: 1 });
    this.#live.push({ target, pool, inFlight: 0, idle: [] });
  }

  /**
   * drain stops sending to the target named `name`, waits for its requests in flight
   * to settle (each does by the client's `timeoutMs` at the latest: a node stopped
   * meanwhile would cut them off, and count as failures what is the bench's doing),
   * then closes its pool and forgets it.
   */
  async drain(name: string): Promise<void> {
    const i = this.#live.findIndex((l) => l.target.name === name);
    if (i === -1) return;
    const [live] = this.#live.splice(i, 1) as [Live];
    if (live.inFlight > 0) await new Promise<void>((resolve) => live.idle.push(resolve));
    void live.pool.close().catch(() => {});
  }

  /** start begins sending at the steady rate. */
  start(): void {
    this.#started = performance.now();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** stop stops sending and resolves once every request in flight has settled. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#settled.push(resolve));
    await Promise.all(this.#live.map((l) => l.pool.close().catch(() => {})));
  }

  /** inFlight is the number of requests in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #tick(): void {
    // Open loop: the operations due by now at the rate, whatever the answers take.
    const due = Math.floor(((performance.now() - this.#started) / 1000) * this.#o.rate);
    for (; this.#due < due; this.#due++) {
      if (this.#live.length === 0) {
        this.skippedNoTarget++;
        continue;
      }
      if (this.#inFlight >= this.#o.maxInFlight) {
        this.skippedAtBound++;
        continue;
      }
      const live = this.#live[this.#next++ % this.#live.length] as Live;
      void this.#send(live);
    }
  }

  async #send(live: Live): Promise<void> {
    const o = this.#o;
    const key = soakKey(Math.floor(Math.random() * o.keys));
    const r = Math.random();
    const kind: OpKind = r < o.mix.get ? 'get' : r < o.mix.get + o.mix.set ? 'set' : 'remove';
    const counts = this.counts[kind];
    const owner = o.ownerOf(key);
    const duringHang = o.hung();
    counts.sent++;
    live.inFlight++;
    this.#inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.#inFlight);
    const t0 = performance.now();
    let failure: string | undefined;
    try {
      failure = await this.#request(live, kind, key);
    } catch (err) {
      // undici's errors carry a string code; AbortSignal.timeout's a name (TimeoutError).
      const e = err as { code?: unknown; name?: string; message?: string };
      const label = typeof e.code === 'string' ? e.code : (e.name ?? 'error');
      failure = `${label}${e.message ? `: ${e.message}` : ''}`;
    } finally {
      live.inFlight--;
      this.#inFlight--;
      if (live.inFlight === 0) for (const resolve of live.idle.splice(0)) resolve();
      if (this.#inFlight === 0) for (const resolve of this.#settled.splice(0)) resolve();
    }
    const ms = performance.now() - t0;
    if (failure === undefined) {
      counts.ok++;
      counts.latency.add(ms);
      if (kind === 'get' && duringHang) counts.latencyDuringHang.add(ms);
      return;
    }
    counts.failed++;
    // A node names the peer that failed it (`peer http://...: ...`); that peer, rather
    // than the owner on the bench's own ring, says what happened: the nodes' rings
    // follow etcd a little behind or ahead of the bench's.
    const named = /\bpeer (https?:\/\/[^\s:/]+:\d+)/.exec(failure)?.[1];
    const cause = o.causeOf(named ?? owner, t0) ?? 'other';
    counts.causes.set(cause, (counts.causes.get(cause) ?? 0) + 1);
    if (kind === 'get' && duringHang) counts.duringHang++;
    const reason = failure.split(':')[0] ?? failure;
    counts.reasons.set(reason, (counts.reasons.get(reason) ?? 0) + 1);
    const slot = Math.floor((performance.now() - this.#started) / TIMELINE_MS);
    const at = this.timeline.get(slot) ?? new Map<string, number>();
    const what = `${kind} ${reason} (${cause})`;
    at.set(what, (at.get(what) ?? 0) + 1);
    this.timeline.set(slot, at);
    const first = `${cause}, ${reason}`;
    if (!counts.firstByCause.has(first)) {
      counts.firstByCause.set(first, `${kind} ${key} via ${live.target.name}: ${failure}`);
    }
  }

  /** #request sends one operation and returns why it failed, or undefined. */
  async #request(live: Live, kind: OpKind, key: string): Promise<string | undefined> {
    const o = this.#o;
    const query = new URLSearchParams({ key, group: o.group });
    const signal = AbortSignal.timeout(o.timeoutMs);
    if (kind === 'get') {
      const res = await live.pool.request({ path: `/api?${query}`, method: 'GET', signal });
      const body = new Uint8Array(await res.body.arrayBuffer());
      if (res.statusCode !== 200) {
        return `${res.statusCode}: ${Buffer.from(body).toString().trim().slice(0, 200)}`;
      }
      return isSoakValue(key, body) ? undefined : 'wrong value';
    }
    if (kind === 'set') {
      if (Math.random() < o.ttlShare) query.set('ttl', String(o.ttlMs));
      const res = await live.pool.request({
        path: `/api?${query}`,
        method: 'PUT',
        body: setValue(key, this.#sets++),
        signal,
      });
      const text = await res.body.text();
      return res.statusCode === 204 ? undefined : `${res.statusCode}: ${text.trim().slice(0, 200)}`;
    }
    const res = await live.pool.request({ path: `/api?${query}`, method: 'DELETE', signal });
    const text = await res.body.text();
    return res.statusCode === 204 ? undefined : `${res.statusCode}: ${text.trim().slice(0, 200)}`;
  }
}

/** ms formats a latency in ms for the report: one decimal below 10 ms, `–` for none. */
export function ms(v: number): string {
  return Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0);
}
