// Plot specs (vega-lite) per (dataset, architecture): accuracy against temperature, and against eps per attack family.
import type { TopLevelSpec } from 'vega-lite';
import type { RunRecord } from '../types.js';
import { CLEAN_LABEL } from '../config/grid.js';
import { cellStats, type CellStats } from './cells.js';
import { formatNumber } from './runs-csv.js';

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
  spec: TopLevelSpec;
}

const SUBTITLE = 'mean over seeds, band = ± one standard deviation; failed runs left out';
const ACCURACY_AXIS = { title: 'Accuracy (%)', scale: { domain: [0, 100] } };
// Legend entries are the column names of the tables, so they must not be cut short; opaque so the band's tint does not fade them.
const LEGEND = { labelLimit: 400, titleLimit: 400, symbolOpacity: 1 };

/** Every plot of the report, in table order; a group with no finished run has nothing to plot. */
export function plotSpecs(records: RunRecord[]): Plot[] {
  const groups = new Map<string, CellStats[]>();
  for (const cell of cellStats(records)) {
    const key = JSON.stringify([cell.dataset, cell.architecture]);
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  return [...groups.values()].flatMap((cells) => {
    const byEps = accuracyVsEps(cells);
    return byEps ? [accuracyVsTemperature(cells), byEps] : [accuracyVsTemperature(cells)];
  });
}

function accuracyVsTemperature(cells: CellStats[]): Plot {
  const { dataset, architecture } = cells[0];
  const series = unique(cells.map(labelName));
  const temperatures = unique(cells.map((cell) => cell.temperature)).sort((a, b) => a - b);
  const title = `${dataset} / ${architecture}: accuracy against training temperature`;
  const spec: TopLevelSpec = {
    title: { text: title, subtitle: SUBTITLE },
    width: 520,
    height: 320,
    data: { values: cells.map((cell) => ({ ...band(cell), temperature: cell.temperature, series: labelName(cell) })) },
    encoding: {
      x: {
        field: 'temperature',
        type: 'quantitative',
        scale: { type: 'log', nice: false, padding: 12 },
        axis: { values: temperatures, format: '~g' },
        title: 'Training temperature T (log scale)',
      },
      color: seriesColor(series, `Attack (${CLEAN_LABEL} = no attack)`),
    },
    layer: bandAndLine(),
  };
  return plot(dataset, architecture, 'accuracy-vs-temperature', title, series, spec);
}

// One panel per attack family measured at 2+ eps; undefined when there is none.
function accuracyVsEps(cells: CellStats[]): Plot | undefined {
  const { dataset, architecture } = cells[0];
  const attackCells = cells.filter((cell) => cell.label !== CLEAN_LABEL);
  const families = unique(attackCells.map((cell) => cell.family)).filter(
    (family) => new Set(attackCells.filter((cell) => cell.family === family).map((cell) => cell.eps)).size >= 2,
  );
  if (families.length === 0) return undefined;
  const shown = attackCells.filter((cell) => families.includes(cell.family));
  const series = unique([...shown].sort((a, b) => a.temperature - b.temperature).map(temperatureName));
  const title = `${dataset} / ${architecture}: accuracy against attack budget eps`;
  const spec: TopLevelSpec = {
    title: { text: title, subtitle: SUBTITLE },
    data: { values: shown.map((cell) => ({ ...band(cell), eps: cell.eps, family: cell.family, series: temperatureName(cell) })) },
    facet: { field: 'family', type: 'nominal', sort: families, title: 'Attack' },
    columns: 3,
    spec: {
      width: 300,
      height: 220,
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
      layer: bandAndLine(),
    },
  };
  return plot(dataset, architecture, 'accuracy-vs-eps', title, series, spec);
}

function plot(dataset: string, architecture: string, kind: PlotKind, title: string, series: string[], spec: TopLevelSpec): Plot {
  return { dataset, architecture, kind, file: `${dataset}__${architecture}__${kind}.svg`, title, series, spec };
}

// The errorband layer under the mean line; both read the fields that band() writes.
function bandAndLine() {
  return [
    {
      mark: { type: 'errorband' as const, opacity: 0.2 },
      encoding: { y: { field: 'lower', type: 'quantitative' as const, ...ACCURACY_AXIS }, y2: { field: 'upper' } },
    },
    {
      mark: { type: 'line' as const, point: true },
      encoding: { y: { field: 'accuracy', type: 'quantitative' as const, ...ACCURACY_AXIS } },
    },
  ];
}

function seriesColor(series: string[], title: string) {
  return { field: 'series', type: 'nominal' as const, scale: { domain: series }, legend: LEGEND, title };
}

// Accuracy cannot leave [0, 100], so neither does the band.
function band(cell: CellStats): { accuracy: number; lower: number; upper: number } {
  return {
    accuracy: cell.meanAccuracy,
    lower: Math.max(0, cell.meanAccuracy - cell.stdAccuracy),
    upper: Math.min(100, cell.meanAccuracy + cell.stdAccuracy),
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

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
