// member-set.test.ts: memberChange compares member sets as sets and says who joined and who left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberChange } from './member-set.js';

test('memberChange: the first set, the same set in another order, and a change', () => {
  assert.deepEqual(memberChange(undefined, ['b', 'a', 'b']), {
    members: ['a', 'b'],
    added: ['a', 'b'],
    removed: [],
  });
  assert.equal(memberChange(['a', 'b'], ['b', 'a', 'a']), undefined);
  assert.deepEqual(memberChange(['a', 'b'], ['c', 'a']), {
    members: ['a', 'c'],
    added: ['c'],
    removed: ['b'],
  });
  assert.deepEqual(memberChange(['a'], []), { members: [], added: [], removed: ['a'] });
});
