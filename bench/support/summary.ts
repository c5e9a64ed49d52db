// summary.ts: the suite's summary: the headline figures of every script, as one markdown
// table and as an SVG chart of each ratio against its target.
import type { Headline } from './report.js';

/** readHeadlines parses the JSON lines the scripts appended, in suite order. */
export function readHeadlines(text: string): Headline[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Headline)
    .sort((a, b) => a.item - b.item);
}

/** summaryTable renders the headlines as a markdown table. */
export function summaryTable(headlines: readonly Headline[]): string {
  const lines = ['| # | what | measured | target | met | note |', '|---|---|---:|---:|---|---|'];
  for (const h of headlines) {
    const met = h.met === undefined ? '' : h.met ? 'yes' : '**no**';
    lines.push(
      `| ${h.item} | ${h.name} | ${h.measured} | ${h.target} | ${met} | ${h.note ?? ''} |`,
    );
  }
  return lines.join('\n');
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * chartSvg draws one horizontal bar per charted headline: its ratio against its
 * anchor on a shared linear scale, a dashed line at 1.0 (the anchor) and a mark at
 * the target. Bars that meet their target are green, others orange, reference
 * rows grey.
 */
export function chartSvg(headlines: readonly Headline[], title: string): string {
  const rows = headlines.filter((h) => h.chart !== undefined);
  const label = 360;
  const plot = 420;
  const rowH = 26;
  const top = 48;
  const height = top + rows.length * rowH + 36;
  const width = label + plot + 90;
  const max =
    Math.max(1.6, ...rows.map((h) => Math.max(h.chart!.ratio, h.chart!.target ?? 0))) * 1.05;
  const x = (v: number) => label + (v / max) * plot;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="12" y="22" font-size="14" font-weight="bold">${xml(title)}</text>`,
    `<text x="12" y="38" fill="#555">ratio to the anchor measured in the same run (1.0 = anchor); ▲ = target</text>`,
  ];
  rows.forEach((h, i) => {
    const c = h.chart!;
    const y = top + i * rowH;
    const color = h.met === undefined ? '#9e9e9e' : h.met ? '#2e7d32' : '#ef6c00';
    const direction = c.higherIsBetter ? 'higher is better' : 'lower is better';
    out.push(
      `<text x="${label - 8}" y="${y + 15}" text-anchor="end">${xml(`${h.item}. ${h.name}`)}</text>`,
      `<rect x="${label}" y="${y + 4}" width="${Math.max(1, x(c.ratio) - label).toFixed(1)}" height="${rowH - 10}" fill="${color}"><title>${xml(`${h.measured} (${direction})`)}</title></rect>`,
      `<text x="${(x(c.ratio) + 4).toFixed(1)}" y="${y + 15}">${c.ratio.toFixed(2)}×</text>`,
    );
    if (c.target !== undefined) {
      const tx = x(c.target).toFixed(1);
      out.push(`<path d="M${tx} ${y + rowH - 6} l-5 6 h10 z" fill="black"/>`);
    }
  });
  const axisY = top + rows.length * rowH + 4;
  out.push(
    `<line x1="${x(1).toFixed(1)}" y1="${top}" x2="${x(1).toFixed(1)}" y2="${axisY}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<line x1="${label}" y1="${axisY}" x2="${label + plot}" y2="${axisY}" stroke="#333"/>`,
  );
  for (let t = 0; t <= max; t += 0.5) {
    out.push(
      `<text x="${x(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#555">${t.toFixed(1)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
