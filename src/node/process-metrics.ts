// process-metrics.ts: the process's own memory on a node's /metrics (resident set, V8
// heap, memory outside the heap), read at scrape time, under prom-client's default names.
import type { Gauge, Registry } from 'prom-client';

/** The gauges, by the field of `process.memoryUsage()` each one reports. */
const GAUGES = [
  ['process_resident_memory_bytes', 'Resident memory size in bytes.', 'rss'],
  ['nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', 'heapTotal'],
  ['nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', 'heapUsed'],
  ['nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', 'external'],
] as const;

/**
 * registerProcessMetrics adds to `registry` four gauges (made with `GaugeClass`,
 * prom-client's, which the caller has loaded) of this process's memory,
 * read from `process.memoryUsage()` when scraped: `process_resident_memory_bytes`,
 * `nodejs_heap_size_total_bytes`, `nodejs_heap_size_used_bytes` and
 * `nodejs_external_memory_bytes`. They bear the names of prom-client's default
 * metrics so that existing dashboards read them, without the rest of
 * `collectDefaultMetrics` (its event-loop monitor and GC observer are never
 * stopped, which a process making and closing many nodes cannot afford).
 */
export function registerProcessMetrics(GaugeClass: typeof Gauge, registry: Registry): void {
  for (const [name, help, field] of GAUGES) {
    new GaugeClass({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(process.memoryUsage()[field]);
      },
    });
  }
}
