import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultMaxConnections, openFileLimit } from './fd-limit.js';

const limits = (soft: string) =>
  `Limit                     Soft Limit           Hard Limit           Units     \n` +
  `Max processes             1000                 1000                 processes \n` +
  `Max open files            ${soft}                 4096                 files     \n`;

test('openFileLimit reads the soft limit on open files', () => {
  assert.equal(openFileLimit(limits('1024')), 1024);
  assert.equal(openFileLimit(limits('unlimited')), 1 << 20);
  assert.equal(openFileLimit('nothing useful'), 1024);
  assert.ok(openFileLimit() > 0, 'this process has a limit');
});

test('defaultMaxConnections takes a share of the limit, within bounds', () => {
  assert.equal(defaultMaxConnections(0.5, 4096, 1024), 512);
  assert.equal(defaultMaxConnections(0.5, 4096, 1 << 20), 4096);
  assert.equal(defaultMaxConnections(0.25, 4096, 20), 16);
});
