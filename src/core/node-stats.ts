// node-stats.ts: the report a node gives of itself over the peer protocol (its groups'
// counters, caches and hot keys, and what it holds of one key), and how a node builds it.
import type { ByteView } from './byteview.js';
import { viewBytes } from './byteview-internal.js';
import type { Group } from './group.js';
import type { CacheStats, GroupStats } from './stats.js';

/**
 * NodeStatsRequest asks a node for its stats and, with a non-empty `group` and
 * `key`, what it holds of that key.
 */
export interface NodeStatsRequest {
  group?: string | undefined;
  key?: string | undefined;
}

/** HotKeyReport is one of a group's hot keys: gets over about the last minute (an upper bound). */
export interface HotKeyReport {
  key: string;
  count: number;
}

/** GroupReport is one group's part of a {@link NodeStats}. */
export interface GroupReport {
  stats: GroupStats;
  main: CacheStats;
  hot: CacheStats;
  /** cacheBytes is the group's byte budget (main and hot together). */
  cacheBytes: number;
  /** hotKeys are the group's most asked-for keys over about the last minute, most first. */
  hotKeys: HotKeyReport[];
  /** peerGets is as {@link NodeStats.peerGets}, for this group's gets from peers alone. */
  peerGets?: { count: number; p50Ms: number | null; p99Ms: number | null } | undefined;
}

/** HeldCopy is a node's copy of a key in one of its caches. */
export interface HeldCopy {
  /** bytes is the value's size. */
  bytes: number;
  /** expireAt is the absolute expiry in ms since the epoch, 0 for never. */
  expireAt: number;
}

/** KeyReport is what a node holds of one key. */
export interface KeyReport {
  group: string;
  key: string;
  /** exists is false when the node has no such group. */
  exists: boolean;
  main?: HeldCopy | undefined;
  hot?: HeldCopy | undefined;
  /** preview is the first {@link PREVIEW_BYTES} of the value, base64, when a copy is held. */
  preview?: string | undefined;
  /** notFound is true when the node caches that the key does not exist. */
  notFound?: boolean | undefined;
}

/** NodeStats is a node's report of itself, as a JSON document on the wire. */
export interface NodeStats {
  /** version is the node's peercache version. */
  version: string;
  /** startedAt is when the node's process started, in ms since the epoch. */
  startedAt: number;
  /** now is the node's clock when it answered, in ms since the epoch. */
  now: number;
  groups: Record<string, GroupReport>;
  /**
   * peerGets is this node's gets from peers since it started, all groups
   * together: how many, and their median and 99th percentile latency in ms
   * (null before the first).
   */
  peerGets?: { count: number; p50Ms: number | null; p99Ms: number | null } | undefined;
  key?: KeyReport | undefined;
}

/** NodeStatsSource answers a stats request: what a transport server asks of the node. */
export interface NodeStatsSource {
  nodeStats(request: NodeStatsRequest): NodeStats;
}

/** PREVIEW_BYTES is how much of a value a {@link KeyReport} shows: 4 KiB. */
export const PREVIEW_BYTES = 4096;

/** HOT_KEYS_REPORTED is how many hot keys each group reports. */
export const HOT_KEYS_REPORTED = 20;

/** MAX_NODE_STATS_BYTES bounds a stats answer on the wire: 1 MiB. */
export const MAX_NODE_STATS_BYTES = 1024 * 1024;

/** groupReport is `group`'s part of a {@link NodeStats}. */
export function groupReport(group: Group): GroupReport {
  return {
    stats: group.stats,
    main: group.cacheStats('main'),
    hot: group.cacheStats('hot'),
    cacheBytes: group.cacheBytes,
    hotKeys: group.hotKeys(HOT_KEYS_REPORTED).map((k) => ({ key: k.key, count: k.count })),
  };
}

/** keyReport is what `group` (undefined: no such group) holds of `key`, without loading it. */
export function keyReport(groupName: string, group: Group | undefined, key: string): KeyReport {
  if (group === undefined) return { group: groupName, key, exists: false };
  const held = group.inspect(key);
  const report: KeyReport = { group: groupName, key, exists: true };
  let view: ByteView | null = null;
  for (const which of ['main', 'hot'] as const) {
    const copy = held[which];
    if (copy === undefined) continue;
    if (copy.view === null) {
      report.notFound = true;
      continue;
    }
    report[which] = { bytes: copy.view.length, expireAt: copy.expireAt };
    view ??= copy.view;
  }
  if (view !== null) {
    const bytes = viewBytes(view).subarray(0, PREVIEW_BYTES);
    report.preview = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
      'base64',
    );
  }
  return report;
}

/**
 * buildNodeStats answers `request` for a node whose groups `groupOf` finds and
 * `groups` lists.
 */
export function buildNodeStats(
  request: NodeStatsRequest,
  node: {
    groups(): Group[];
    getGroup(name: string): Group | undefined;
    version: string;
    startedAt: number;
    now(): number;
    /** The latency of gets from peers: of every group, or of `group`'s. */
    peerGets?: (group?: string) => NonNullable<NodeStats['peerGets']>;
  },
): NodeStats {
  const groups: Record<string, GroupReport> = {};
  for (const g of node.groups()) {
    const report = groupReport(g);
    if (node.peerGets !== undefined) report.peerGets = node.peerGets(g.name);
    groups[g.name] = report;
  }
  const out: NodeStats = {
    ...(node.peerGets === undefined ? {} : { peerGets: node.peerGets() }),
    version: node.version,
    startedAt: node.startedAt,
    now: node.now(),
    groups,
  };
  // An empty group or key is no key (a protobuf string left unset reads as empty).
  if (request.group && request.key) {
    out.key = keyReport(request.group, node.getGroup(request.group), request.key);
  }
  return out;
}

/** encodeNodeStats is the JSON bytes of `stats` on the wire. */
export function encodeNodeStats(stats: NodeStats): Uint8Array {
  return Buffer.from(JSON.stringify(stats), 'utf8');
}

/**
 * decodeNodeStats reads a stats answer, or throws TypeError when it is not a
 * JSON object with `version` and `groups`.
 */
export function decodeNodeStats(bytes: Uint8Array): NodeStats {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const parsed = JSON.parse(text) as Partial<NodeStats> | null;
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    typeof parsed.version !== 'string' ||
    typeof parsed.groups !== 'object' ||
    parsed.groups === null
  ) {
    throw new TypeError('a stats answer must be a JSON object with version and groups');
  }
  return parsed as NodeStats;
}
