import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteBudget } from './byte-budget.js';

test('ByteBudget never reserves past its limit and counts refusals', () => {
  const b = new ByteBudget(100);
  assert.equal(b.tryReserve(60), true);
  assert.equal(b.tryReserve(41), false, 'past the limit');
  assert.equal(b.reserved, 60, 'a refused reservation takes nothing');
  assert.equal(b.tryReserve(40), true, 'exactly the limit fits');
  assert.equal(b.reserved, 100);
  assert.equal(b.refused, 1);
  b.release(60);
  assert.equal(b.reserved, 40);
  assert.equal(b.tryReserve(60), true, 'released bytes can be reserved again');
  assert.equal(b.peak, 100);
});

test('ByteBudget refuses bad limits and over-release', () => {
  assert.throws(() => new ByteBudget(-1), TypeError);
  assert.throws(() => new ByteBudget(1.5), TypeError);
  const b = new ByteBudget(10);
  b.tryReserve(5);
  assert.throws(() => b.release(6), RangeError);
  assert.equal(b.tryReserve(-1), false);
});
