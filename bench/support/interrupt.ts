// interrupt.ts: a benchmark stopped with Ctrl-C or SIGTERM still stops the processes it started.
import type { ProcessRegistry } from '../../test/support/process.js';

/**
 * stopOnInterrupt stops every process of `registry` on SIGINT or SIGTERM, then exits 130;
 * returns `registry`. `first`, when given, runs before the processes are stopped (e.g.
 * to resume a process the benchmark paused, or to stop servers it started elsewhere);
 * its failure does not keep the processes running.
 */
export function stopOnInterrupt(
  registry: ProcessRegistry,
  first?: () => void | Promise<void>,
): ProcessRegistry {
  const interrupt = () => {
    void Promise.resolve()
      .then(first)
      .catch(() => {})
      .then(() => registry.stopAll(1000))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  return registry;
}
