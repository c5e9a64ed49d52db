import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
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
  assert.throws(() => new ByteBudget(-1), InvalidArgumentError);
  assert.throws(() => new ByteBudget(1.5), InvalidArgumentError);
  const b = new ByteBudget(10);
  b.tryReserve(5);
  assert.throws(() => b.release(6), RangeError);
  assert.equal(b.tryReserve(-1), false);
});

function waiter(bytes: number, granted: number[], name: number) {
  return { bytes, grant: () => granted.push(name) };
}

test('reservations within the limit pass; the rest wait and are granted in order', () => {
  const budget = new ByteBudget(100);
  const granted: number[] = [];
  assert.equal(budget.reserveOrWait(waiter(60, granted, 1)), true);
  assert.equal(budget.reserveOrWait(waiter(50, granted, 2)), false);
  // It would fit, but it does not jump the queue.
  assert.equal(budget.reserveOrWait(waiter(10, granted, 3)), false);
  assert.equal(budget.reserved, 60);
  assert.equal(budget.waiting, 2);
  budget.release(60);
  assert.deepEqual(granted, [2, 3]);
  assert.equal(budget.reserved, 60);
  assert.equal(budget.waiting, 0);
});

test('a reservation over the whole limit passes only when nothing is reserved', () => {
  const budget = new ByteBudget(100);
  const granted: number[] = [];
  assert.equal(budget.reserveOrWait(waiter(250, granted, 1)), true);
  assert.equal(budget.reserveOrWait(waiter(300, granted, 2)), false);
  budget.release(250);
  assert.deepEqual(granted, [2]);
  assert.equal(budget.reserved, 300);
});

test('a waiter that leaves no longer blocks the ones behind it', () => {
  const budget = new ByteBudget(100);
  const granted: number[] = [];
  budget.reserveOrWait(waiter(70, granted, 1));
  const big = waiter(90, granted, 2);
  budget.reserveOrWait(big);
  budget.reserveOrWait(waiter(20, granted, 3));
  budget.cancel(big);
  assert.deepEqual(granted, [3]);
  assert.equal(budget.reserved, 90);
});
