// secret.test.ts: property-based fuzzing of the decoding of `Authorization` values (HTTP headers,
// gRPC metadata) against a bearer secret: it matches exactly the values that present the secret.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/errors.js';
import { bearer, checkSecret, secretCheck } from '../../src/security/secret.js';
import { fuzzRuns, fuzzSeed } from './runs.js';

const seed = fuzzSeed();

/** presents is the model: does `value` present `secret` as `Bearer <secret>` (scheme in any case)? */
function presents(value: unknown, secret: string): boolean {
  if (Array.isArray(value)) return value.length === 1 && presents(value[0], secret);
  if (typeof value !== 'string') return false;
  if (value.slice(0, 6).toLowerCase() !== 'bearer' || value[6] !== ' ') return false;
  let rest = value.slice(6);
  while (rest.startsWith(' ')) rest = rest.slice(1);
  while (rest.endsWith(' ')) rest = rest.slice(0, -1);
  return rest === secret;
}

const secret = fc.stringMatching(/^[\x21-\x7e]{1,16}$/);

describe(`bearer secret decoding fuzz (FUZZ_SEED=${seed})`, () => {
  it('accepts exactly the values that present the secret, whatever else arrives', () => {
    const near = (s: string) =>
      fc
        .tuple(
          fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr', 'Basic', 'Bearer:', ''),
          fc.stringMatching(/^[ \t]{0,3}$/),
          fc.oneof(fc.constant(s), fc.constant(s.slice(1)), fc.constant(`${s}x`), fc.string()),
          fc.stringMatching(/^[ \t]{0,2}$/),
        )
        .map(([scheme, gap, token, tail]) => `${scheme}${gap}${token}${tail}`);
    const value = (s: string) =>
      fc.oneof(
        near(s),
        fc.constant(bearer(s)),
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.array(fc.oneof(near(s), fc.constant(bearer(s))), { maxLength: 3 }),
        fc.constant(undefined),
      );
    fc.assert(
      fc.property(
        secret.chain((s) => fc.tuple(fc.constant(s), value(s))),
        ([s, v]) => {
          assert.equal(checkSecret('secret', s), s);
          assert.equal(secretCheck(s)(v), presents(v, s), JSON.stringify(v));
        },
      ),
      fuzzRuns(1000, seed),
    );
  });

  it('refuses as a secret anything but visible ASCII, with an InvalidArgumentError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.anything()), (s) => {
        const usable = typeof s === 'string' && /^[\x21-\x7e]+$/.test(s);
        if (usable) assert.equal(checkSecret('secret', s), s);
        else if (s !== undefined)
          assert.throws(() => checkSecret('secret', s), InvalidArgumentError);
      }),
      fuzzRuns(300, seed),
    );
  });
});
