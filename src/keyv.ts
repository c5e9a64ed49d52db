// keyv.ts: the `peercache/keyv` entry: a Keyv storage adapter over a peercache group, for
// Keyv, cache-manager and NestJS's cache module.

export {
  createKeyvStore,
  type KeyvGroupHost,
  PeercacheKeyvStore,
  type PeercacheKeyvStoreOptions,
} from './keyv/store.js';
