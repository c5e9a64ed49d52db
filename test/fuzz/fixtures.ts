// fixtures.ts: what the decoder fuzz tests share: a registry with one deterministic group, the
// limits its servers run with, and arbitraries for the bytes of group names, keys and etcd keys.
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { GroupRegistry } from '../../src/core/registry.js';
import { parsePeerUrl } from '../../src/util/address.js';

/** GROUP is the one group the fuzzed servers serve. */
export const GROUP = 'fuzz';
/** LIMITS are the servers' limits: small, so that fuzzed inputs cross them. */
export const LIMITS = { maxKeyBytes: 64, maxValueBytes: 1024 } as const;

/** loaded is what the group's loader answers for `key`: the key itself, so a folded key shows. */
export function loaded(key: string): string {
  return `value of ${key}`;
}

/** fuzzRegistry returns a registry holding {@link GROUP}, whose loader answers {@link loaded}. */
export function fuzzRegistry(): GroupRegistry {
  const registry = new GroupRegistry();
  registry.newGroup(GROUP, {
    cacheBytes: 1 << 20,
    maxKeyBytes: LIMITS.maxKeyBytes,
    maxValueBytes: LIMITS.maxValueBytes,
    load: (key) => loaded(key),
  });
  return registry;
}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/**
 * Malformed UTF-8 worth trying every time: lone continuation bytes (0x80 and
 * 0xBF, which a lenient decoder folds into U+FFFD), a truncated sequence, an
 * overlong NUL, an encoded surrogate, and a code point past U+10FFFF.
 */
export const MALFORMED_UTF8: readonly Uint8Array[] = [
  [0x80],
  [0xbf],
  [0x6b, 0xe2, 0x82],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
].map((b) => new Uint8Array(b));

/**
 * keyBytes draws the bytes of a key (or a group name): mostly well-formed text
 * of any script, but also empty, over {@link LIMITS}, random bytes, and text
 * with malformed UTF-8 spliced in. U+FFFD itself is well-formed and must be
 * served as itself.
 */
export function keyBytes(): fc.Arbitrary<Uint8Array> {
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map(utf8);
  return fc.oneof(
    { weight: 4, arbitrary: text },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 1, arbitrary: fc.constant(utf8('\uFFFD')) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(text, fc.constantFrom(...MALFORMED_UTF8), text)
        .map(([a, bad, b]) => new Uint8Array(Buffer.concat([a, bad, b]))),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: LIMITS.maxKeyBytes - 2, max: LIMITS.maxKeyBytes + 8 })
        .map((n) => utf8('k'.repeat(n))),
    },
  );
}

/** groupBytes draws a group name's bytes: mostly {@link GROUP}, else as {@link keyBytes}. */
export function groupBytes(): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(utf8(GROUP)) }, keyBytes());
}

/** Expected is what a server must make of a group and key given as bytes. */
export type Expected =
  | { kind: 'malformed' }
  | { kind: 'empty key' }
  | { kind: 'key too large' }
  | { kind: 'no such group' }
  | { kind: 'ok'; key: string };

/**
 * expect is the model every peer server must follow for a group and key as raw
 * bytes: bytes that are not UTF-8 are refused (never folded into U+FFFD), then
 * an empty key, then a key over the limit, then a group not served here.
 */
export function expect(group: Uint8Array, key: Uint8Array): Expected {
  if (!isUtf8(group) || !isUtf8(key)) return { kind: 'malformed' };
  if (key.byteLength === 0) return { kind: 'empty key' };
  if (key.byteLength > LIMITS.maxKeyBytes) return { kind: 'key too large' };
  if (Buffer.from(group).toString('utf8') !== GROUP) return { kind: 'no such group' };
  return { kind: 'ok', key: Buffer.from(key).toString('utf8') };
}

/** mutated applies a few random edits to `bytes`: bit flips, cuts, inserted and dropped bytes. */
export function mutated(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }),
    fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let out = Buffer.from(bytes);
    for (const e of edits) {
      const at = out.length === 0 ? 0 : e.at % out.length;
      if (e.op === 'flip' && out.length > 0) {
        out[at] = (out[at] as number) ^ (1 << e.bit);
      } else if (e.op === 'cut') {
        out = out.subarray(0, at);
      } else if (e.op === 'insert') {
        out = Buffer.concat([out.subarray(0, at), Buffer.from([e.byte]), out.subarray(at)]);
      } else if (e.op === 'drop' && out.length > 0) {
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
      }
    }
    return new Uint8Array(out);
  });
}

/** peerUrl draws peer base URLs of every host form: names, IPv4, IPv6, with and without ports. */
export const peerUrl: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('http', 'https'),
    fc.oneof(
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((a) => `[${a}]`),
    ),
    fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
  )
  .map(([scheme, host, port]) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}`)
  .filter((url) => {
    try {
      parsePeerUrl(url);
      return true;
    } catch {
      return false;
    }
  });

/** keySuffix draws what may follow the prefix in etcd: peer URLs, near misses and any bytes. */
export const keySuffix: fc.Arbitrary<Uint8Array> = fc.oneof(
  peerUrl.map(utf8),
  peerUrl.map((u) => utf8(`${u}/`)),
  peerUrl.chain((u) =>
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3 })).map(([at, bytes]) => {
      const b = Buffer.from(u);
      const i = at % (b.length + 1);
      return new Uint8Array(Buffer.concat([b.subarray(0, i), bytes, b.subarray(i)]));
    }),
  ),
  fc.string({ unit: 'binary', maxLength: 30 }).map(utf8),
  fc.uint8Array({ maxLength: 30 }),
);
