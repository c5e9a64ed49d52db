// local.ts: a single-process read-through cache: one group, a slow "database",
// concurrent callers, expiry and stats. Run it with `npm run example`.
import { setTimeout as sleep } from 'node:timers/promises';
import { createNode, NotFoundError } from '../src/index.js';

const db: Record<string, string> = { Tom: '630', Jack: '589', Sam: '567' };
let queries = 0;

// A node with no peers is a local cache: no network at all.
const node = createNode();
const scores = node.newGroup('scores', {
  cacheBytes: 64 * 1024 * 1024,
  ttlMs: 60_000,
  async load(key, { signal }) {
    queries++;
    await sleep(50, undefined, { signal });
    return db[key] ?? null; // null: the key does not exist
  },
});

// 100 concurrent callers of one cold key: the database is asked once.
const views = await Promise.all(Array.from({ length: 100 }, () => scores.get('Tom')));
console.log(`Tom = ${views[0]?.toString()}, ${views.length} callers, ${queries} query`);

// Hits are served from memory.
console.log(`Tom again = ${(await scores.get('Tom')).toString()}, still ${queries} query`);

// Not found is its own error, distinct from a failing loader.
try {
  await scores.get('Nobody');
} catch (err) {
  console.log(`Nobody: ${err instanceof NotFoundError ? 'not found' : err}`);
}

// Writes and removes.
await scores.set('Ann', '701', { ttlMs: 5_000 });
console.log(`Ann = ${(await scores.get('Ann')).toString()}`);
await scores.remove('Ann');

console.log('stats', scores.stats);
console.log('main cache', scores.cacheStats('main'));
await node.close();
