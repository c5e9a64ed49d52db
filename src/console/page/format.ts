// format.ts: numbers as the console shows them.

/** bytes formats a byte count with a binary unit. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** percent formats a ratio (0 to 1) as a percentage; a missing one as a dash. */
export function percent(r: number | null, digits = 1): string {
  return r === null || !Number.isFinite(r) ? '–' : `${(r * 100).toFixed(digits)}%`;
}

/** rate formats a per-second rate. */
export function rate(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '–';
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

/** ms formats a latency in milliseconds; a missing one as a dash. */
export function ms(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  return v >= 10 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`;
}

/** count formats a whole number with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** duration formats milliseconds as the two largest units, e.g. `3h 12m`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** preview shows bytes as UTF-8 text when they are, else as hex. */
export function preview(b64: string): { kind: 'text' | 'hex'; text: string } {
  const bin = atob(b64);
  const bytesOf = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytesOf);
    // Control characters other than whitespace make it binary.
    if (!/[\u0000-\u0008\u000e-\u001f]/.test(text)) return { kind: 'text', text };
  } catch {
    // Not UTF-8: shown as hex.
  }
  const hex = Array.from(bytesOf, (x) => x.toString(16).padStart(2, '0'));
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 16) lines.push(hex.slice(i, i + 16).join(' '));
  return { kind: 'hex', text: lines.join('\n') };
}
