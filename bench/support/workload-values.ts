// workload-values.ts: the workload benchmark's keys and values: a key names its index,
// a value carries its key and the database version it was read or written at (so a
// reader can tell how old it is). Which key each request asks is drawn by the
// simulation's ZipfSampler (bench/support/sim/zipf.ts).

/** WORKLOAD_VALUE_BYTES is the size of every value of the workload: 1 KiB. */
export const WORKLOAD_VALUE_BYTES = 1024;

/** workloadKey is the key of index `i`: `key:<i>`. */
export function workloadKey(i: number): string {
  return `key:${i}`;
}

/** keyIndex is the index a workload key names, or -1 for anything else. */
export function keyIndex(key: string): number {
  if (!key.startsWith('key:')) return -1;
  const i = Number(key.slice(4));
  return Number.isInteger(i) && i >= 0 ? i : -1;
}

/** Source says where a value came from: a load from the database, or a write's set. */
export type Source = 'load' | 'write';

/**
 * encodeValue is the value of key `i` at database version `version`, as `source`
 * made it: `key:<i>|<version>|l|` (or `|w|`) padded with dots to
 * {@link WORKLOAD_VALUE_BYTES}, as a string (ASCII: as many bytes as characters).
 */
export function encodeValue(i: number, version: number, source: Source = 'load'): string {
  const s = source === 'load' ? 'l' : 'w';
  return `${workloadKey(i)}|${version}|${s}|`.padEnd(WORKLOAD_VALUE_BYTES, '.');
}

/** ValueVersion is what a value says of itself: its database version and whether a write set it. */
export interface ValueVersion {
  version: number;
  written: boolean;
}

/** HEAD_CHARS is how much of a value {@link valueVersion} needs to read: its key and version. */
export const HEAD_CHARS = 48;

/**
 * valueVersion reads the version out of a value of key `i`, given its length and its
 * first {@link HEAD_CHARS} characters (each cache hands values back in its own type);
 * it throws when the value is another key's, the wrong size, or not a workload value,
 * so a wrong answer is never counted as a read.
 */
export function valueVersion(i: number, length: number, head: string): ValueVersion {
  if (length !== WORKLOAD_VALUE_BYTES) {
    throw new Error(`value of ${workloadKey(i)} has ${length} bytes, not ${WORKLOAD_VALUE_BYTES}`);
  }
  const prefix = `${workloadKey(i)}|`;
  const end = head.indexOf('|', prefix.length);
  const version = Number(head.slice(prefix.length, end));
  const source = head.slice(end + 1, end + 3);
  if (
    !head.startsWith(prefix) ||
    end < 0 ||
    !Number.isInteger(version) ||
    (source !== 'l|' && source !== 'w|')
  ) {
    throw new Error(`not a value of ${workloadKey(i)}: ${head}`);
  }
  return { version, written: source === 'w|' };
}
