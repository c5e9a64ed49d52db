// chart.ts: one small live line chart (uPlot) of a series over the last five minutes.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** LiveChart draws one series against time and can be fed new data. */
export class LiveChart {
  readonly #plot: uPlot;
  readonly #host: HTMLElement;

  constructor(
    host: HTMLElement,
    label: string,
    format: (v: number) => string,
    range?: [number, number],
  ) {
    this.#host = host;
    const stroke =
      getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#0a58ca';
    const axis =
      getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#57606a';
    const grid =
      getComputedStyle(document.documentElement).getPropertyValue('--line').trim() || '#d0d7de';
    this.#plot = new uPlot(
      {
        width: this.#width(),
        height: 180,
        legend: { show: true },
        scales: { x: { time: true }, y: range === undefined ? {} : { range } },
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          {
            stroke: axis,
            grid: { stroke: grid, width: 1 },
            ticks: { stroke: grid },
            values: (_u, splits) => splits.map(format),
            size: 60,
          },
        ],
        series: [{}, { label, stroke, width: 2, value: (_u, v) => (v === null ? '–' : format(v)) }],
      },
      [[], []],
      host,
    );
    window.addEventListener('resize', () =>
      this.#plot.setSize({ width: this.#width(), height: 180 }),
    );
  }

  #width(): number {
    return Math.max(240, this.#host.clientWidth || 320);
  }

  /** set replaces the data; the host's `data-points` tells how many points it has. */
  set(t: number[], values: (number | null)[]): void {
    this.#plot.setData([t, values]);
    this.#host.dataset.points = String(t.length);
  }
}
