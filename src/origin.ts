// origin.ts: the `peercache/origin` entry: a loader that reads values from an HTTP origin (loads undici).

export {
  createOriginLoader,
  type OriginLoader,
  type OriginLoaderOptions,
} from './loaders/origin.js';
