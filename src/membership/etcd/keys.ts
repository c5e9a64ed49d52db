// keys.ts: the etcd key layout of peercache's membership: where a node registers,
// how a key maps back to a peer URL, and the byte range that covers a prefix.
import { parsePeerUrl } from '../../util/address.js';

const encoder = new TextEncoder();

/**
 * nodesPrefix is the key prefix under which the nodes of `service` register:
 * `{prefix}/{service}/nodes/`. It ends with `/`, so `service` `a` never matches `ab`.
 */
export function nodesPrefix(prefix: string, service: string): string {
  return `${prefix}/${service}/nodes/`;
}

/**
 * nodeKey is the key a node registers under: {@link nodesPrefix} followed by its
 * peer URL as is, e.g. `/peercache/peercache/nodes/http://10.0.0.1:8001`.
 */
export function nodeKey(prefix: string, service: string, peerUrl: string): string {
  return nodesPrefix(prefix, service) + peerUrl;
}

/**
 * peerFromKey returns the peer URL a node key names, or undefined when `key` is
 * not under `nodes` or what follows is not a peer base URL. The address comes
 * from the key, never from the value: etcd's DELETE events carry no value.
 */
export function peerFromKey(key: string, nodes: string): string | undefined {
  if (!key.startsWith(nodes)) return undefined;
  const url = key.slice(nodes.length);
  try {
    return parsePeerUrl(url);
  } catch {
    return undefined;
  }
}

/**
 * prefixRangeEnd is the end of etcd's range `[prefix, end)` that holds exactly the
 * keys starting with `prefix`: the prefix with its last byte below 0xff
 * incremented and what follows dropped (`/a/` → `/a0`). A prefix of only 0xff
 * bytes has no such bound; etcd's `\0` (every key from the prefix on) stands in.
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/** utf8 encodes a key for etcd, which stores keys as bytes. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** NodeValue is the JSON a node stores under its key; readers need none of it. */
export interface NodeValue {
  /** url is the node's peer URL (the key holds it too). */
  url: string;
  /** startedAt is when the membership started (ISO 8601). */
  startedAt: string;
  /** pid is the node's process id. */
  pid: number;
  [field: string]: unknown;
}

/**
 * nodeValue builds the stored value: `metadata` (e.g. `{ version }`) with `url`,
 * `startedAt` and `pid` set over it.
 */
export function nodeValue(
  url: string,
  startedAt: Date,
  metadata: Readonly<Record<string, unknown>>,
): Uint8Array {
  const value: NodeValue = {
    ...metadata,
    url,
    startedAt: startedAt.toISOString(),
    pid: process.pid,
  };
  return encoder.encode(JSON.stringify(value));
}
