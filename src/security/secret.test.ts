// secret.test.ts: bearer secrets: what counts as presenting the secret, and which secrets are usable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearer, checkSecret, secretCheck } from './secret.js';

describe('secretCheck', () => {
  const check = secretCheck('s3cret-Token_1');

  it('accepts exactly the secret, sent as a bearer credential', () => {
    assert.equal(check(bearer('s3cret-Token_1')), true);
    assert.equal(check('Bearer s3cret-Token_1'), true);
    // The scheme is case-insensitive (RFC 9110); the secret is not.
    assert.equal(check('bearer s3cret-Token_1'), true);
    assert.equal(check('BEARER   s3cret-Token_1'), true);
    assert.equal(check(['Bearer s3cret-Token_1']), true);
  });

  it('refuses a missing, wrong, partial, longer or differently-cased secret', () => {
    for (const value of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      's3cret-Token_1',
      'Bearer s3cret-token_1',
      'Bearer s3cret-Token_',
      'Bearer s3cret-Token_12',
      'Bearer s3cret-Token_1 extra',
      'Basic s3cret-Token_1',
      'Token s3cret-Token_1',
    ]) {
      assert.equal(check(value), false, JSON.stringify(value));
    }
  });

  it('refuses a repeated header, even when one copy is right', () => {
    assert.equal(check(['Bearer s3cret-Token_1', 'Bearer s3cret-Token_1']), false);
    assert.equal(check(['Bearer wrong', 'Bearer s3cret-Token_1']), false);
    assert.equal(check([]), false);
    assert.equal(check([Buffer.from('Bearer s3cret-Token_1')]), false);
  });
});

describe('checkSecret', () => {
  it('passes a usable secret and undefined through', () => {
    assert.equal(checkSecret('peerSecret', 'abc.DEF~123/+='), 'abc.DEF~123/+=');
    assert.equal(checkSecret('peerSecret', undefined), undefined);
  });

  it('refuses empty secrets, spaces, control characters, non-ASCII and non-strings', () => {
    for (const bad of ['', 'with space', 'tab\there', 'new\nline', 'ünïcode', 42, null, {}]) {
      assert.throws(() => checkSecret('peerSecret', bad), /peerSecret must be/, String(bad));
    }
  });
});
