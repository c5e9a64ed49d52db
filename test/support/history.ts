// history.ts: a recorded history of cache operations (writes, reads, loads) and a checker
// that every read which starts after a write's ack returns that write or a later value.

/**
 * History records operations on a logical clock: every event (an operation's start or
 * end, a load's start) takes the next tick, so within one process the ticks order the
 * events exactly as they happened, with no clock to skew.
 */
export class History {
  #tick = 0;
  /** Writes in the order they started. */
  readonly writes: WriteOp[] = [];
  /** Reads in the order they started. */
  readonly reads: ReadOp[] = [];
  /** Loads by the value they returned (every loader value is unique). */
  readonly loads = new Map<string, LoadOp>();

  /** now takes the next tick. */
  now(): number {
    return ++this.#tick;
  }

  /** write runs `fn` as a write of `key` (`value` for a set, undefined for a remove) and records it. */
  async write(
    key: string,
    value: string | undefined,
    node: number,
    fn: () => Promise<void>,
  ): Promise<void> {
    const op: WriteOp = { key, value, node, start: this.now(), end: Number.POSITIVE_INFINITY };
    this.writes.push(op);
    try {
      await fn();
      op.end = this.now();
    } catch (err) {
      // Not acknowledged: it may or may not have taken effect, so it never ends.
      op.error = err instanceof Error ? err.message : String(err);
    }
  }

  /** read runs `fn` as a read of `key` and records what it returned. */
  async read(key: string, node: number, fn: () => Promise<string>): Promise<void> {
    const op: ReadOp = { key, node, start: this.now(), end: 0 };
    this.reads.push(op);
    try {
      op.value = await fn();
    } catch (err) {
      op.error = err instanceof Error ? err.message : String(err);
    }
    op.end = this.now();
  }

  /**
   * load records the start of a load of `key` and returns the unique value it will
   * return; call it when the loader is entered.
   */
  load(key: string, node: number): string {
    const start = this.now();
    const value = `load:${key}:${start}`;
    this.loads.set(value, { key, node, start });
    return value;
  }
}

/** WriteOp is a set (with its unique value) or a remove (value undefined). */
export interface WriteOp {
  key: string;
  value: string | undefined;
  node: number;
  start: number;
  /** The tick of its ack; Infinity when it failed. */
  end: number;
  error?: string;
}

/** ReadOp is a get and what it returned: a value, or an error. */
export interface ReadOp {
  key: string;
  node: number;
  start: number;
  end: number;
  value?: string;
  error?: string;
}

/** LoadOp is one run of a loader. */
export interface LoadOp {
  key: string;
  node: number;
  start: number;
}

/** Violation is a read that returned a value older than a write acknowledged before it began. */
export interface Violation {
  read: ReadOp;
  /** The write acknowledged before the read began that the value is older than. */
  write: WriteOp;
  why: string;
}

/** CheckResult counts what the checker saw. */
export interface CheckResult {
  reads: number;
  writes: number;
  loads: number;
  /** Reads that started after at least one acknowledged write of their key. */
  readsAfterWrites: number;
  /** Reads that failed (not checked: no value). */
  readErrors: number;
  /** Writes that failed (never acknowledged). */
  writeErrors: number;
  violations: Violation[];
}

/** The write with the latest start among some writes, and the runner-up. */
interface Latest {
  first: WriteOp | undefined;
  second: WriteOp | undefined;
}

/**
 * checkHistory checks that every read returned a value no older than the writes of its
 * key acknowledged before it began. For each such write W, the value must come from:
 * - W itself, or a set that had not been acknowledged when W began (it may have been
 *   applied after W);
 * - a load that started after W began (after a remove, or after a set's value expired).
 * A value from a set acknowledged before W began, or from a load that started before
 * W, is older than W: a violation. A value the history does not know is one too.
 */
export function checkHistory(history: History): CheckResult {
  const result: CheckResult = {
    reads: history.reads.length,
    writes: history.writes.length,
    loads: history.loads.size,
    readsAfterWrites: 0,
    readErrors: 0,
    writeErrors: history.writes.filter((w) => w.error !== undefined).length,
    violations: [],
  };
  const setsByValue = new Map<string, WriteOp>();
  for (const w of history.writes) if (w.value !== undefined) setsByValue.set(w.value, w);

  // Per key: acknowledged writes by ack tick, with the two latest starts of each prefix,
  // so a read finds the writes acked before it began with one binary search.
  const byKey = new Map<string, { acked: WriteOp[]; latest: Latest[] }>();
  for (const w of history.writes) {
    if (w.end === Number.POSITIVE_INFINITY) continue;
    let k = byKey.get(w.key);
    if (k === undefined) {
      k = { acked: [], latest: [] };
      byKey.set(w.key, k);
    }
    k.acked.push(w);
  }
  for (const k of byKey.values()) {
    k.acked.sort((a, b) => a.end - b.end);
    let latest: Latest = { first: undefined, second: undefined };
    for (const w of k.acked) {
      if (latest.first === undefined || w.start > latest.first.start) {
        latest = { first: w, second: latest.first };
      } else if (latest.second === undefined || w.start > latest.second.start) {
        latest = { first: latest.first, second: w };
      }
      k.latest.push(latest);
    }
  }

  for (const read of history.reads) {
    if (read.value === undefined) {
      result.readErrors++;
      continue;
    }
    const k = byKey.get(read.key);
    const n = k === undefined ? 0 : ackedBefore(k.acked, read.start);
    if (k === undefined || n === 0) {
      if (!setsByValue.has(read.value) && !history.loads.has(read.value)) {
        result.violations.push({
          read,
          write: { key: read.key, value: undefined, node: -1, start: 0, end: 0 },
          why: `unknown value ${read.value}`,
        });
      }
      continue;
    }
    result.readsAfterWrites++;
    const latest = k.latest[n - 1] as Latest;
    const violation = olderThan(read, latest, setsByValue, history.loads);
    if (violation !== undefined) result.violations.push(violation);
  }
  return result;
}

/** How many of `acked` (sorted by ack) were acknowledged before tick `t`. */
function ackedBefore(acked: readonly WriteOp[], t: number): number {
  let lo = 0;
  let hi = acked.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((acked[mid] as WriteOp).end < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The violation if `read`'s value is older than the latest-starting write acked before it. */
function olderThan(
  read: ReadOp,
  latest: Latest,
  sets: ReadonlyMap<string, WriteOp>,
  loads: ReadonlyMap<string, LoadOp>,
): Violation | undefined {
  const value = read.value as string;
  const set = sets.get(value);
  if (set !== undefined) {
    if (set.key !== read.key) {
      return { read, write: set, why: `a value of key ${set.key}` };
    }
    // Checked against the latest-starting acknowledged write other than itself: if it
    // did not end before that one began, it did not end before any earlier one either.
    const w = latest.first === set ? latest.second : latest.first;
    if (w !== undefined && set.end < w.start) {
      return { read, write: w, why: `set ${value}, acknowledged before this write began` };
    }
    return undefined;
  }
  const load = loads.get(value);
  if (load !== undefined) {
    const w = latest.first as WriteOp;
    if (load.key !== read.key) return { read, write: w, why: `a load of key ${load.key}` };
    if (load.start < w.start) {
      return { read, write: w, why: `${value}: a load that started before this write` };
    }
    return undefined;
  }
  return { read, write: latest.first as WriteOp, why: `unknown value ${value}` };
}

/** describeViolation prints one violation for a failure message. */
export function describeViolation(v: Violation): string {
  const w = v.write;
  const what = w.value === undefined ? 'remove' : `set ${w.value}`;
  return `read of ${v.read.key} on node ${v.read.node} [${v.read.start}-${v.read.end}] returned ${v.read.value} after ${what} on node ${w.node} [${w.start}-${w.end}]: ${v.why}`;
}
