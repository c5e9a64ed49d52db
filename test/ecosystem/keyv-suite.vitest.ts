// keyv-suite.vitest.ts: Keyv's own adapter test suite (@keyv/test-suite, unchanged) run
// against the peercache Keyv store on a 3-node cluster; each store the suite asks for is on
// the next node in turn, so sets, gets, deletes and clears cross nodes.
import keyvTestSuite from '@keyv/test-suite';
import Keyv from 'keyv';
import * as Vitest from 'vitest';
import { createKeyvStore } from '../../src/keyv/store.js';
import type { CacheNode } from '../../src/node/node.js';
import { startCluster, stopCluster } from './cluster.js';

const nodes: CacheNode[] = await startCluster(3);
Vitest.afterAll(() => stopCluster(nodes));

let next = 0;
const store = () => createKeyvStore(nodes[next++ % nodes.length] as CacheNode);

keyvTestSuite(Vitest, Keyv, store);
