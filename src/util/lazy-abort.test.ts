// lazy-abort.test.ts: the signal is made only when read, and an earlier abort reaches it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LazyAbort } from './lazy-abort.js';

test('no AbortController until the signal is read; the same signal after', () => {
  const Original = globalThis.AbortController;
  let made = 0;
  Object.defineProperty(globalThis, 'AbortController', {
    configurable: true,
    writable: true,
    value: class extends Original {
      constructor() {
        super();
        made++;
      }
    },
  });
  try {
    const a = new LazyAbort();
    a.abort(new Error('early'));
    assert.equal(a.aborted, true);
    assert.equal(made, 0, 'aborting does not make the signal');
    assert.equal(a.signal, a.signal);
    assert.equal(made, 1, 'made once, on first read');
  } finally {
    Object.defineProperty(globalThis, 'AbortController', {
      configurable: true,
      writable: true,
      value: Original,
    });
  }
});

test('an abort before the signal exists reaches it; the first reason wins', () => {
  const a = new LazyAbort();
  const first = new Error('first');
  a.abort(first);
  a.abort(new Error('second'));
  assert.equal(a.signal.aborted, true);
  assert.equal(a.signal.reason, first);
  const b = new LazyAbort();
  const seen: unknown[] = [];
  b.signal.addEventListener('abort', () => seen.push(b.signal.reason));
  b.abort('why');
  b.abort('again');
  assert.deepEqual(seen, ['why']);
});
