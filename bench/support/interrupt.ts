// interrupt.ts: a benchmark stopped with Ctrl-C or SIGTERM still stops the processes it started.
import type { ProcessRegistry } from '../../test/support/process.js';

/** stopOnInterrupt stops every process of `registry` on SIGINT or SIGTERM, then exits 130; returns `registry`. */
export function stopOnInterrupt(registry: ProcessRegistry): ProcessRegistry {
  const interrupt = () => {
    void registry.stopAll(1000).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  return registry;
}
