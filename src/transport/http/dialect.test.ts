// dialect.test.ts: the dialects' wire facts byte for byte: GetResponse and SetRequest with
// `expire` in Unix nanoseconds, the `_remove-keys` JSON, and how each dialect reads a path.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../../errors.js';
import { unescapePathSegment } from '../../util/path-escape.js';
import { expireAtFromNanos, nanosFromExpireAt } from '../expiry.js';
import {
  decodeGetResponse,
  decodeSetRequest,
  encodeGetResponse,
  encodeSetRequest,
} from './codec.js';
import {
  batchKeys,
  decodeRemoveKeys,
  dialectRules,
  encodeRemoveKeys,
  HTTP_DIALECTS,
  REMOVE_KEYS_BATCH_BYTES,
} from './dialect.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replaceAll(' ', ''), 'hex'));
const utf8 = (s: string) => new TextEncoder().encode(s);

// 2023-11-14T22:13:20.123Z: in ms on our side, in ns on the wire.
const expireMs = 1_700_000_000_123;
// varint(1_700_000_000_123_000_000), worked out by hand from the number, not by our encoder.
const expireNsVarint = 'c0 a9 fb eb e3 9f e7 cb 17';

describe('golden bytes of the protobuf messages (ANCHORS §7: the same in every dialect)', () => {
  test('GetResponse{1 value, 3 expire in Unix ns}', () => {
    const bytes = encodeGetResponse(utf8('hi'), nanosFromExpireAt(expireMs), 0);
    // 0a = field 1, bytes; 18 = field 3, varint. No minute_qps (field 2).
    assert.deepEqual(bytes, hex(`0a 02 68 69 18 ${expireNsVarint}`));
    const decoded = decodeGetResponse(bytes);
    assert.equal(decoded.expire, 1_700_000_000_123_000_000n);
    assert.equal(expireAtFromNanos(decoded.expire), expireMs);
  });

  test('GetResponse: 1 ms after the epoch is 1,000,000 ns; never is no field', () => {
    assert.deepEqual(
      encodeGetResponse(utf8('hi'), nanosFromExpireAt(1), 0),
      hex('0a 02 68 69 18 c0 84 3d'),
    );
    assert.deepEqual(encodeGetResponse(utf8('hi'), nanosFromExpireAt(0), 0), hex('0a 02 68 69'));
  });

  test('a v2/v3 GetResponse: expire always present, 0 for never, nanoseconds rounded down', () => {
    // groupcache-go and mailgun v2 always set expire, 0 when the value never expires.
    assert.equal(expireAtFromNanos(decodeGetResponse(hex('0a 01 76 18 00')).expire), 0);
    // 1_700_000_000_123_456_789 ns: the 456,789 ns past the millisecond are dropped.
    const sub = decodeGetResponse(hex('0a 01 76 18 95 9a 97 ec e3 9f e7 cb 17'));
    assert.equal(sub.expire, 1_700_000_000_123_456_789n);
    assert.equal(expireAtFromNanos(sub.expire), expireMs);
    assert.equal(sub.minuteQps, 0, 'groupcache-go never sets minute_qps');
  });

  test('SetRequest{1 group, 2 key, 3 value, 4 expire in Unix ns}', () => {
    const bytes = encodeSetRequest('g', 'k', utf8('v'), nanosFromExpireAt(expireMs));
    assert.deepEqual(bytes, hex(`0a 01 67 12 01 6b 1a 01 76 20 ${expireNsVarint}`));
    const decoded = decodeSetRequest(bytes);
    assert.equal(decoded.group, 'g');
    assert.equal(decoded.key, 'k');
    assert.equal(expireAtFromNanos(decoded.expire), expireMs);
    // Never: no field 4, as peercache sends it; a Go client's explicit 0 means never too.
    assert.deepEqual(encodeSetRequest('g', 'k', utf8('v'), 0n), hex('0a 01 67 12 01 6b 1a 01 76'));
    assert.equal(decodeSetRequest(hex('0a 01 67 12 01 6b 1a 01 76 20 00')).expire, 0n);
  });
});

describe('the _remove-keys JSON (groupcache-go)', () => {
  test('is what Go’s encoding/json writes for RemoveKeysRequest', () => {
    assert.equal(
      new TextDecoder().decode(encodeRemoveKeys('g', ['k1', 'k2'])),
      '{"group":"g","keys":["k1","k2"]}',
    );
  });

  test('decodes Go’s bodies, keys absent when empty (omitempty), HTML-escaped characters', () => {
    assert.deepEqual(decodeRemoveKeys(utf8('{"group":"g","keys":["k1","k2"]}')), {
      group: 'g',
      keys: ['k1', 'k2'],
    });
    assert.deepEqual(decodeRemoveKeys(utf8('{"group":"g"}')), { group: 'g', keys: [] });
    // Go escapes <, > and & as \u003c, \u003e, \u0026.
    assert.deepEqual(decodeRemoveKeys(utf8('{"group":"g","keys":["a\\u003cb\\u0026c"]}')), {
      group: 'g',
      keys: ['a<b&c'],
    });
  });

  test('refuses what is not that shape, with a reason', () => {
    for (const body of [
      '',
      'not json',
      '[]',
      'null',
      '{"group":1}',
      '{"keys":"k"}',
      '{"keys":[1]}',
    ]) {
      assert.equal(typeof decodeRemoveKeys(utf8(body)), 'string', body);
    }
    assert.equal(typeof decodeRemoveKeys(Uint8Array.from([0x7b, 0xff, 0x7d])), 'string');
  });

  test('a long list of keys goes in batches under the byte bound, in order', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `key-${i}-${'x'.repeat(30)}`);
    const batches = batchKeys('g', keys);
    assert.ok(batches.length > 1);
    assert.deepEqual(batches.flat(), keys);
    for (const batch of batches) {
      assert.ok(encodeRemoveKeys('g', batch).byteLength <= REMOVE_KEYS_BATCH_BYTES);
    }
    assert.deepEqual(batchKeys('g', []), []);
  });
});

describe('dialect rules', () => {
  test('the default is golang; an unknown name is an InvalidArgumentError', () => {
    assert.equal(dialectRules(undefined).name, 'golang');
    assert.deepEqual(
      HTTP_DIALECTS.map((d) => dialectRules(d).name),
      ['golang', 'mailgun', 'groupcache-go'],
    );
    assert.throws(() => dialectRules('v3'), InvalidArgumentError);
    assert.throws(() => dialectRules('toString'), InvalidArgumentError);
  });

  test('a loader failure is 500 on golang, 503 on the v2 and v3 lineages; unavailable the other way', () => {
    assert.equal(dialectRules('golang').failureStatus('INTERNAL'), 500);
    assert.equal(dialectRules('golang').failureStatus('UNAVAILABLE'), 503);
    for (const d of ['mailgun', 'groupcache-go'] as const) {
      assert.equal(dialectRules(d).failureStatus('INTERNAL'), 503);
      assert.equal(dialectRules(d).failureStatus('UNAVAILABLE'), 500);
      assert.equal(dialectRules(d).failureStatus('NOT_FOUND'), 404);
    }
  });

  test('a + in a path is a space from golang’s QueryEscape, a + from v2’s and v3’s PathEscape', () => {
    assert.equal(unescapePathSegment('a+b%2Bc', dialectRules('golang').plusIsSpace), 'a b+c');
    assert.equal(unescapePathSegment('a+b%20c', dialectRules('mailgun').plusIsSpace), 'a+b c');
    assert.equal(
      unescapePathSegment('a+b%20c', dialectRules('groupcache-go').plusIsSpace),
      'a+b c',
    );
    assert.equal(unescapePathSegment('a+b', false), 'a+b');
  });
});
