// memory-probe.ts: reads a node process's memory from outside: its resident set from
// /proc/PID/status, its open files from /proc/PID/fd, its V8 heap from its API's /metrics.
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'undici';

/** MemorySample is one reading of a node's memory, in bytes, at `t` ms from the start. */
export interface MemorySample {
  t: number;
  rss: number;
  /** V8 heap figures; undefined when /metrics did not answer (e.g. a stopped process). */
  heapUsed?: number | undefined;
  heapTotal?: number | undefined;
  /** Open file descriptors (sockets included). */
  fds: number;
}

/** residentBytes is VmRSS of process `pid` from /proc/PID/status, in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

/** openFiles counts the open file descriptors of process `pid` (sockets included). */
export async function openFiles(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** heapBytes reads `nodejs_heap_size_used_bytes` and `_total_bytes` from `apiUrl`/metrics. */
export async function heapBytes(
  apiUrl: string,
  timeoutMs = 2000,
): Promise<{ used: number; total: number }> {
  const res = await request(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${apiUrl}/metrics: ${res.statusCode}`);
  const gauge = (name: string) => {
    const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, 'm').exec(text);
    if (!m) throw new Error(`no ${name} in ${apiUrl}/metrics`);
    return Number(m[1]);
  };
  return {
    used: gauge('nodejs_heap_size_used_bytes'),
    total: gauge('nodejs_heap_size_total_bytes'),
  };
}
