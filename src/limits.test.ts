// limits.test.ts: tests how a request is held to its group's limits within a transport's
// ceiling, and how a client bounds the value it takes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  acceptedValueBytes,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_WIRE_MAX_VALUE_BYTES,
  servedLimits,
} from './limits.js';

const ceiling = { maxKeyBytes: 4096, maxValueBytes: 256 << 20 };

test("servedLimits are the group's own, never past the ceiling", () => {
  assert.deepEqual(servedLimits({ maxKeyBytes: 16, maxValueBytes: 1000 }, ceiling), {
    maxKeyBytes: 16,
    maxValueBytes: 1000,
  });
  assert.deepEqual(
    servedLimits({ maxKeyBytes: 1 << 20, maxValueBytes: 1 << 30 }, ceiling),
    ceiling,
  );
  assert.deepEqual(servedLimits({}, ceiling), ceiling, 'a group that does not tell its limits');
  assert.deepEqual(servedLimits(undefined, ceiling), ceiling);
  assert.equal(servedLimits({ maxValueBytes: 0 }, ceiling).maxValueBytes, 0);
});

test("acceptedValueBytes is the caller's limit within the ceiling", () => {
  assert.equal(acceptedValueBytes(1000, { maxValueBytes: 10 }), 10);
  assert.equal(acceptedValueBytes(1000, { maxValueBytes: 5000 }), 1000);
  assert.equal(acceptedValueBytes(1000, {}), 1000);
  assert.equal(acceptedValueBytes(1000, undefined), 1000);
});

test("the wire's default ceiling leaves room above a group's default limit", () => {
  assert.ok(DEFAULT_WIRE_MAX_VALUE_BYTES >= 2 * DEFAULT_MAX_VALUE_BYTES);
});
