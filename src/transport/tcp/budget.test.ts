// budget.test.ts: the server-wide byte budget: reservations within it pass, the rest wait in order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteBudget } from './budget.js';

function waiter(bytes: number, granted: number[], name: number) {
  return { bytes, grant: () => granted.push(name) };
}

test('reservations within the limit pass; the rest wait and are granted in order', () => {
  const budget = new ByteBudget(100);
  const granted: number[] = [];
  assert.equal(budget.reserve(waiter(60, granted, 1)), true);
  assert.equal(budget.reserve(waiter(50, granted, 2)), false);
  // It would fit, but it does not jump the queue.
  assert.equal(budget.reserve(waiter(10, granted, 3)), false);
  assert.equal(budget.used, 60);
  assert.equal(budget.waiting, 2);
  budget.release(60);
  assert.deepEqual(granted, [2, 3]);
  assert.equal(budget.used, 60);
  assert.equal(budget.waiting, 0);
});

test('a reservation over the whole limit passes only when nothing is reserved', () => {
  const budget = new ByteBudget(100);
  const granted: number[] = [];
  assert.equal(budget.reserve(waiter(250, granted, 1)), true);
  assert.equal(budget.reserve(waiter(300, granted, 2)), false);
  budget.release(250);
  assert.deepEqual(granted, [2]);
  assert.equal(budget.used, 300);
});

test('a waiter that leaves no longer blocks the ones behind it', () => {
  const budget = new ByteBudget(100);
  const granted: number[] = [];
  budget.reserve(waiter(70, granted, 1));
  const big = waiter(90, granted, 2);
  budget.reserve(big);
  budget.reserve(waiter(20, granted, 3));
  budget.cancel(big);
  assert.deepEqual(granted, [3]);
  assert.equal(budget.used, 90);
});
