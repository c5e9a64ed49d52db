// format.ts: renders a node's pino JSON log line as short readable text, for the demo.

const levelNames: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/**
 * formatLogLine turns a pino JSON line into `HH:MM:SS.mmm LEVEL message k=v ...`
 * (UTC time; strings with spaces or quotes are JSON-quoted, objects as JSON).
 * A line that is not a pino JSON object comes back unchanged.
 */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return line;
  const time =
    typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = levelNames[entry.level as number] ?? String(entry.level ?? '');
  const fields = Object.entries(entry)
    .filter(([k]) => !hidden.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  return [time, level.padEnd(5), String(entry.msg ?? ''), ...fields]
    .filter((s) => s !== '')
    .join(' ');
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}
