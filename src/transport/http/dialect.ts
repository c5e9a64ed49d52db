// dialect.ts: the HTTP dialects of the three Go groupcache lineages, and what sets them apart
// on the wire: how a `+` in a path is read, the batch remove, and what an error status means.

import { type ErrorCode, httpStatus, InvalidArgumentError } from '../../errors.js';

/**
 * HttpDialect names the Go lineage whose HTTP wire a cluster speaks:
 * `golang` (golang/groupcache, with peercache's PUT and DELETE), `mailgun`
 * (mailgun/groupcache v2) or `groupcache-go` (groupcache/groupcache-go v3).
 * The names are those of the ring kinds, so one setting picks both.
 */
export type HttpDialect = 'golang' | 'mailgun' | 'groupcache-go';

/** HTTP_DIALECTS lists every {@link HttpDialect}, the default first. */
export const HTTP_DIALECTS: readonly HttpDialect[] = ['golang', 'mailgun', 'groupcache-go'];

/** DialectRules are the facts of one dialect that the client and the server act on. */
export interface DialectRules {
  readonly name: HttpDialect;
  /**
   * plusIsSpace: the lineage's clients escape with `url.QueryEscape`, so a raw
   * `+` in a path means a space (golang/groupcache); mailgun v2's and
   * groupcache-go's `url.PathEscape` leaves a `+` meaning `+`.
   */
  readonly plusIsSpace: boolean;
  /** removeKeys: the lineage serves and sends `POST {group}/_remove-keys/`. */
  readonly removeKeys: boolean;
  /**
   * probeWithoutKey: a health probe asks for `{basePath}{group}` with no key.
   * groupcache-go's server does not survive a request for a group it lacks
   * (it calls a method of the nil group it looked up, and Go's HTTP server
   * drops the connection), so the probe asks for a path it refuses with `400`
   * before it looks the group up. Every server answers that path so.
   */
  readonly probeWithoutKey: boolean;
  /**
   * failureStatus is the status a server answers a failed get with: the
   * golang dialect keeps peercache's table (500 for a loader's failure, which
   * the requester takes as final; 503 when the node cannot serve, which sends
   * the requester elsewhere); the v2 and v3 dialects answer a loader's failure
   * with 503, their "final" status, and a node that cannot serve with 500, on
   * which their requesters load the key themselves.
   */
  readonly failureStatus: (code: ErrorCode) => number;
  /**
   * finalStatus says whether a 5xx status is the owner's final word on a get
   * (its loader failed: the requester does not load the key itself), rather
   * than a sign that the owner could not serve the request.
   */
  readonly finalStatus: (status: number) => boolean;
}

const golang: DialectRules = {
  name: 'golang',
  plusIsSpace: true,
  removeKeys: false,
  probeWithoutKey: false,
  failureStatus: (code) => httpStatus[code],
  finalStatus: (status) => status === 500,
};

/** The v2 and v3 status rules: 503 is the owner's loader failing, 500 is the node failing. */
const lineageStatus = (code: ErrorCode): number => {
  if (code === 'INTERNAL') return 503;
  if (code === 'UNAVAILABLE') return 500;
  return httpStatus[code];
};

const mailgun: DialectRules = {
  name: 'mailgun',
  plusIsSpace: false,
  removeKeys: false,
  probeWithoutKey: false,
  failureStatus: lineageStatus,
  finalStatus: (status) => status === 503,
};

const groupcacheGo: DialectRules = {
  name: 'groupcache-go',
  plusIsSpace: false,
  removeKeys: true,
  probeWithoutKey: true,
  failureStatus: lineageStatus,
  finalStatus: (status) => status === 503,
};

const rules: Readonly<Record<HttpDialect, DialectRules>> = {
  golang,
  mailgun,
  'groupcache-go': groupcacheGo,
};

/**
 * dialectRules returns the rules of `dialect` (default `golang`). Throws
 * InvalidArgumentError for a name that is not an {@link HttpDialect}.
 */
export function dialectRules(dialect: string | undefined): DialectRules {
  const name = dialect ?? 'golang';
  if (!Object.hasOwn(rules, name)) {
    throw new InvalidArgumentError(
      `dialect must be one of ${HTTP_DIALECTS.map((d) => `'${d}'`).join(', ')}: ${JSON.stringify(dialect)}`,
    );
  }
  return rules[name as HttpDialect];
}

/** REMOVE_KEYS_SEGMENT is the key segment of groupcache-go's batch remove: `POST {group}/_remove-keys/`. */
export const REMOVE_KEYS_SEGMENT = '_remove-keys/';

/**
 * REMOVE_KEYS_BATCH_BYTES bounds the JSON body of one `_remove-keys` request a
 * client sends: a longer list of keys goes in several requests.
 */
export const REMOVE_KEYS_BATCH_BYTES = 1 << 20;

/**
 * encodeRemoveKeys writes groupcache-go's RemoveKeysRequest as its Go client
 * does (`encoding/json` of the generated struct): `{"group":"g","keys":["k1"]}`.
 */
export function encodeRemoveKeys(group: string, keys: readonly string[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ group, keys }));
}

/** RemoveKeysRequest is a decoded `_remove-keys` body. */
export interface RemoveKeysRequest {
  /** The group the body names, when it names one (groupcache-go reads the group from the URL). */
  group: string | undefined;
  keys: string[];
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * decodeRemoveKeys reads a `_remove-keys` body: a JSON object with an optional
 * string `group` and an optional array of strings `keys` (absent when empty, as
 * Go's `omitempty` leaves it). Returns a reason instead for a body that is not
 * UTF-8, not JSON, or not of that shape.
 */
export function decodeRemoveKeys(body: Uint8Array): RemoveKeysRequest | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fatalUtf8.decode(body));
  } catch {
    return 'not UTF-8 JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'not a JSON object';
  }
  const { group, keys } = parsed as { group?: unknown; keys?: unknown };
  if (group !== undefined && group !== null && typeof group !== 'string') {
    return '"group" is not a string';
  }
  if (keys !== undefined && keys !== null) {
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      return '"keys" is not an array of strings';
    }
  }
  return {
    group: typeof group === 'string' ? group : undefined,
    keys: Array.isArray(keys) ? (keys as string[]) : [],
  };
}

/**
 * batchKeys splits `keys` into lists whose `_remove-keys` body stays under
 * {@link REMOVE_KEYS_BATCH_BYTES} (a key longer than that goes alone).
 */
export function batchKeys(group: string, keys: readonly string[]): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  // {"group":<g>,"keys":[ ... ]}: the fixed part, then each key quoted with a comma.
  const fixed = Buffer.byteLength(JSON.stringify(group)) + 20;
  let size = fixed;
  for (const key of keys) {
    const cost = Buffer.byteLength(JSON.stringify(key)) + 1;
    if (batch.length > 0 && size + cost > REMOVE_KEYS_BATCH_BYTES) {
      batches.push(batch);
      batch = [];
      size = fixed;
    }
    batch.push(key);
    size += cost;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
