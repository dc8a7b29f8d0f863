// Plot specs (vega-lite) per (dataset, architecture): accuracy against temperature, and against eps per attack family.
import type { TopLevelSpec } from 'vega-lite';
import type { RunRecord } from '../types.js';
import { CLEAN_LABEL } from '../config/grid.js';
import { cellStats, type CellStats } from './cells.js';
import { formatNumber } from './runs-csv.js';
import { cellKey, maskedCells, maskingFindings } from './warnings.js';

export type PlotKind = 'accuracy-vs-temperature' | 'accuracy-vs-eps';

export interface Plot {
  dataset: string;
  architecture: string;
  kind: PlotKind;
  /** File name under plots/: `<dataset>__<architecture>__<kind>.svg`. */
  file: string;
  title: string;
  /** Names of the lines, as the legend shows them. */
  series: string[];
  /** How to read the plot, a line each (the plot file shows them under its title, with a line on hollow markers). */
  notes: string[];
  /** Points the masking audit flagged, e.g. "T=100 fgsm-ce(T=1)@0.3 (zero-gradient)"; drawn as hollow markers. */
  maskedPoints: string[];
  /** The plot with its title and notes, as written to plots/; `pageSpec` leaves them to the page around it. */
  spec: TopLevelSpec;
}

const SUBTITLE_CHARS = 56;
const SUBTITLE = 'mean over seeds; band = 95% confidence interval of the mean (Student t over seeds, none with one seed); failed runs left out';
const MARGIN_NOTE = 'dashed: margin loss (CW, DLR), which T does not saturate';
const MASKED_NOTE = 'hollow marker: flagged by the gradient-masking audit';
// A little room below 0 so a line at 0% (a margin-loss attack on a masked model, the key result) stays clear of the x axis.
const ACCURACY_AXIS = { title: 'Accuracy (%)', scale: { domain: [-4, 100], nice: false }, axis: { values: [0, 20, 40, 60, 80, 100] } };
// Margin losses (CW, DLR) do not saturate with T, so their lines are the ones to read masking against: dashed.
const MARGIN_DASH = [6, 3];
// Legend entries are the column names of the tables, so they must not be cut short; opaque so the band's tint does not fade them.
// Below the plot, so the plot keeps its width when the page is narrow; line symbols, so a dashed series shows its dash.
const LEGEND = { labelLimit: 400, titleLimit: 400, symbolOpacity: 1, orient: 'bottom', direction: 'horizontal', symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 400 } as const;
// Text a little larger than vega's 10-11 px defaults: the page scales plots down to fit a phone.
const CONFIG = {
  axis: { labelFontSize: 12, titleFontSize: 13 },
  legend: { labelFontSize: 12, titleFontSize: 13 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start' },
} as const;

/** Every plot of the report, in table order; a group with no finished run has nothing to plot. */
export function plotSpecs(records: RunRecord[]): Plot[] {
  const groups = new Map<string, CellStats[]>();
  for (const cell of cellStats(records)) {
    const key = JSON.stringify([cell.dataset, cell.architecture]);
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  const masked = maskedCells(maskingFindings(records));
  return [...groups.values()].flatMap((cells) => {
    const byEps = accuracyVsEps(cells, masked);
    return byEps ? [accuracyVsTemperature(cells, masked), byEps] : [accuracyVsTemperature(cells, masked)];
  });
}

function accuracyVsTemperature(cells: CellStats[], masked: Map<string, string[]>): Plot {
  const { dataset, architecture } = cells[0];
  const series = unique(cells.map(labelName));
  const temperatures = unique(cells.map((cell) => cell.temperature)).sort((a, b) => a - b);
  const title = `${dataset} / ${architecture}: accuracy against training temperature`;
  const legendTitle = `Attack (${CLEAN_LABEL} = no attack)`;
  const margin = new Set(cells.filter((cell) => cell.loss === 'cw' || cell.loss === 'dlr').map(labelName));
  const maskedPoints = flagged(cells, masked, (cell) => `T=${formatNumber(cell.temperature)} ${labelName(cell)}`);
  const notes = [SUBTITLE, ...(margin.size > 0 ? [MARGIN_NOTE] : [])];
  const spec: TopLevelSpec = {
    title: { text: title, subtitle: subtitle(notes, maskedPoints) },
    config: CONFIG,
    width: 480,
    height: 300,
    data: { values: cells.map((cell) => ({ ...point(cell, masked), temperature: cell.temperature, series: labelName(cell) })) },
    encoding: {
      x: {
        field: 'temperature',
        type: 'quantitative',
        scale: { type: 'log', nice: false, padding: 12 },
        axis: { values: temperatures, format: '~g' },
        title: 'Training temperature T (log scale)',
      },
      color: seriesColor(series, legendTitle),
    },
    // Same field, title and legend settings as the colour, so vega-lite draws one legend with dashed entries.
    layer: bandLineAndPoints({
      strokeDash: {
        field: 'series',
        type: 'nominal',
        scale: { domain: series, range: series.map((name) => (margin.has(name) ? MARGIN_DASH : [1, 0])) },
        legend: { ...LEGEND, columns: legendColumns(series) },
        title: legendTitle,
      },
    }),
  };
  return { dataset, architecture, kind: 'accuracy-vs-temperature', file: fileName(dataset, architecture, 'accuracy-vs-temperature'), title, series, notes, maskedPoints, spec };
}

// One panel per attack family measured at 2+ eps; undefined when there is none.
function accuracyVsEps(cells: CellStats[], masked: Map<string, string[]>): Plot | undefined {
  const { dataset, architecture } = cells[0];
  const attackCells = cells.filter((cell) => cell.label !== CLEAN_LABEL);
  const families = unique(attackCells.map((cell) => cell.family)).filter(
    (family) => new Set(attackCells.filter((cell) => cell.family === family).map((cell) => cell.eps)).size >= 2,
  );
  if (families.length === 0) return undefined;
  const shown = attackCells.filter((cell) => families.includes(cell.family));
  const series = unique([...shown].sort((a, b) => a.temperature - b.temperature).map(temperatureName));
  const title = `${dataset} / ${architecture}: accuracy against attack budget eps`;
  const maskedPoints = flagged(shown, masked, (cell) => `${temperatureName(cell)} ${cell.label}`);
  const notes = [SUBTITLE];
  const spec: TopLevelSpec = {
    title: { text: title, subtitle: subtitle(notes, maskedPoints) },
    config: CONFIG,
    data: { values: shown.map((cell) => ({ ...point(cell, masked), eps: cell.eps, family: cell.family, series: temperatureName(cell) })) },
    facet: { field: 'family', type: 'nominal', sort: families, title: 'Attack' },
    columns: 3,
    spec: {
      width: 260,
      height: 200,
      encoding: {
        x: {
          field: 'eps',
          type: 'quantitative',
          scale: { zero: false, nice: false, padding: 12 },
          axis: { values: unique(shown.map((cell) => cell.eps)), format: '~g' },
          title: 'Attack budget eps (pixel units)',
        },
        color: seriesColor(series, 'Training temperature'),
      },
      layer: bandLineAndPoints(),
    },
  };
  return { dataset, architecture, kind: 'accuracy-vs-eps', file: fileName(dataset, architecture, 'accuracy-vs-eps'), title, series, notes, maskedPoints, spec };
}

/** The plot as the page shows it: the page gives its title and notes in text, so the SVG leaves them out. */
export function pageSpec(plot: Plot): TopLevelSpec {
  const { title: _title, ...untitled } = plot.spec;
  return untitled as TopLevelSpec;
}

function fileName(dataset: string, architecture: string, kind: PlotKind): string {
  return `${dataset}__${architecture}__${kind}.svg`;
}

// Errorband, mean line, then markers on top: filled, or hollow where the masking audit flagged the number.
function bandLineAndPoints(lineEncoding: Record<string, unknown> = {}) {
  const y = { field: 'accuracy', type: 'quantitative' as const, ...ACCURACY_AXIS };
  return [
    {
      mark: { type: 'errorband' as const, opacity: 0.2 },
      encoding: { y: { ...y, field: 'lower' }, y2: { field: 'upper' } },
    },
    { mark: { type: 'line' as const, strokeWidth: 2 }, encoding: { y, ...lineEncoding } },
    {
      transform: [{ filter: { field: 'masked', equal: false } }],
      mark: { type: 'point' as const, filled: true, size: 55, opacity: 1 },
      encoding: { y },
    },
    {
      transform: [{ filter: { field: 'masked', equal: true } }],
      mark: { type: 'point' as const, filled: false, fill: 'white', size: 110, strokeWidth: 2.5, opacity: 1 },
      encoding: { y },
    },
  ];
}

function flagged(cells: CellStats[], masked: Map<string, string[]>, name: (cell: CellStats) => string): string[] {
  return cells.flatMap((cell) => {
    const checks = masked.get(cellKey(cell.dataset, cell.architecture, cell.setup, formatNumber(cell.temperature), cell.label));
    return checks ? [`${name(cell)} (${checks.join(', ')})`] : [];
  });
}

function subtitle(notes: string[], maskedPoints: string[]): string[] {
  return [...notes, ...(maskedPoints.length > 0 ? [MASKED_NOTE] : [])].flatMap(wrapLine);
}

// vega's default palette has 10 colours; more lines than that would share them, so 20 then.
function seriesColor(series: string[], title: string) {
  const scale = series.length > 10 ? { domain: series, scheme: 'category20' } : { domain: series };
  return { field: 'series', type: 'nominal' as const, scale, legend: { ...LEGEND, columns: legendColumns(series) }, title };
}

// Attack labels are long: two to a row; temperatures are short: all on one row up to eight.
function legendColumns(series: string[]): number {
  return Math.max(...series.map((name) => name.length)) > 8 ? Math.min(series.length, 2) : Math.min(series.length, 8);
}

// The band is the 95% interval of the mean; one seed has none, so the band pinches to the point. Accuracy cannot
// leave [0, 100], so neither does the band (the tables give the interval unclipped).
function point(cell: CellStats, masked: Map<string, string[]>): { accuracy: number; lower: number; upper: number; masked: boolean } {
  const interval = cell.ci95Accuracy ?? { low: cell.meanAccuracy, high: cell.meanAccuracy };
  return {
    masked: masked.has(cellKey(cell.dataset, cell.architecture, cell.setup, formatNumber(cell.temperature), cell.label)),
    accuracy: cell.meanAccuracy,
    lower: Math.max(0, interval.low),
    upper: Math.min(100, interval.high),
  };
}

// Models of different setups are never one line: their settings follow the name, as in the tables' setup column.
function labelName(cell: CellStats): string {
  return cell.setup === '' ? cell.label : `${cell.label} [${cell.setup}]`;
}

function temperatureName(cell: CellStats): string {
  const name = `T=${formatNumber(cell.temperature)}`;
  return cell.setup === '' ? name : `${name} [${cell.setup}]`;
}

// Vega sizes a plot by estimating text widths (no canvas here) generously, so a long subtitle line would widen the whole
// plot: wrap at a width the plot itself has.
function wrapLine(line: string): string[] {
  const lines: string[] = [];
  for (const word of line.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && `${last} ${word}`.length <= SUBTITLE_CHARS) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
