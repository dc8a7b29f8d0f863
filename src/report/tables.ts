// The paper-style pivot: per (dataset, architecture), one row per setup and temperature, one column per attack@eps.
// Numbers first (accuracy as a fraction: mean, sample std, n and the 95% interval of the mean over seeds); tables/*.csv
// writes them as numbers, and summary.md, index.html and the terminal show the same cells as `mean ± std` in percent,
// with the interval `[low, high]` on a line under each row.
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { CLEAN_LABEL } from '../config/grid.js';
import { corruptionLabels, plannedSummaryLabels, summaryResults } from './corruption-view.js';
import { latestPerModel, setupNamer, setupsOf } from './models.js';
import type { AttackResult, RunRecord } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatNumber } from './runs-csv.js';
import { meanInterval95, meanStd, type Interval } from './stats.js';

/** One cell: the accuracies (fractions in [0, 1]) of the finished models of a row under one label. */
export interface CellSummary {
  /** Mean accuracy over the models that measured the cell; null when none did. */
  mean: number | null;
  /** Sample standard deviation (n - 1); null below two models. */
  std: number | null;
  /** Models (seeds) that finished and measured this cell. */
  n: number;
  /** 95% confidence interval of the mean (Student t over the seeds); null below two models. */
  ci95: Interval | null;
  /** Mean share of inputs whose input gradient was exactly zero, over the models that measured it; null if none did. */
  zeroGradFraction: number | null;
  /** Gradient-masking checks this cell raised in any of its models, sorted. */
  masking: string[];
  /** The accuracies themselves, one per model. */
  values: number[];
}

export interface ResultRow {
  /** The settings that set this row's models apart from others in the folder (`training.epochs=1`); "" when the folder holds one setup. */
  setup: string;
  temperature: number;
  /** Models recorded for this row, finished or failed. */
  seeds: number;
  seedsFailed: number;
  /** One per label, in the table's label order. */
  cells: CellSummary[];
}

export interface ResultTable {
  dataset: string;
  architecture: string;
  /** The file name under tables/ without `.csv`: `<dataset>__<architecture>` or `<dataset>__<architecture>__corruptions`. */
  name: string;
  /** `clean`, then the attack (or corruption) labels. */
  labels: string[];
  /** Setups in the order they were first recorded, temperatures ascending within each. */
  rows: ResultRow[];
}

/** A table as text cells, for summary.md, index.html and the terminal. */
export interface PivotTable {
  dataset: string;
  architecture: string;
  /** `[setup,] temperature, seeds, clean, <attack labels>`; `setup` only when the folder holds more than one. */
  columns: string[];
  /** Cells are accuracy in percent, `mean ± std` over the ok seeds. */
  rows: string[][];
  /** Per row, the line under it: `[low, high]`, the 95% interval of the mean in percent, under each cell that has one ("" elsewhere); [] when the row has none. */
  intervals: string[][];
}

/** Leading columns of every tables/*.csv; each label then has `<label>_mean`, `<label>_std`, `<label>_n`, `<label>_ci95_low`, `<label>_ci95_high`. */
export const TABLE_CSV_COLUMNS = ['dataset', 'architecture', 'setup', 'temperature', 'seeds', 'seeds_failed'] as const;
export const TABLE_CSV_CELL_SUFFIXES = ['_mean', '_std', '_n', '_ci95_low', '_ci95_high'] as const;

const FRACTION_DECIMALS = 6;

/** One table per (dataset, architecture), in first-seen order, over every record given. */
export function resultTables(records: RunRecord[]): ResultTable[] {
  return groupedModels(records).map(({ group, context }) => resultTable(group, context, '', attackLabelsOf, accuracyOf));
}

/** One table per (dataset, architecture) that has corruption rows: a column per corruption type and severity. */
export function corruptionResultTables(records: RunRecord[]): ResultTable[] {
  return groupedModels(records)
    .filter(({ group }) => group.some((record) => corruptionLabels(record).length > 0))
    .map(({ group, context }) =>
      resultTable(group, context, '__corruptions', corruptionLabels, (record, label) => record.attacks.find((result) => result.label === label)),
    );
}

/** The human form of `resultTables`: one per (dataset, architecture). */
export function pivotTables(records: RunRecord[]): PivotTable[] {
  return resultTables(records).map(humanTable);
}

/** Writes `tables/<dataset>__<architecture>.csv` for every table, and `tables/<dataset>__<architecture>__corruptions.csv` where corruptions were measured; returns the paths. */
export function writeTables(outDir: string, records: RunRecord[]): string[] {
  return [...resultTables(records), ...corruptionResultTables(records)].map((table) => {
    const path = join(outDir, 'tables', `${table.name}.csv`);
    writeFileAtomic(path, stringify(tableCsvRows(table)));
    return path;
  });
}

/** Header row, then one row per setup and temperature: fractions rounded to 6 decimals, empty where there is no number. */
export function tableCsvRows(table: ResultTable): string[][] {
  const header = [...TABLE_CSV_COLUMNS, ...table.labels.flatMap((label) => TABLE_CSV_CELL_SUFFIXES.map((suffix) => `${label}${suffix}`))];
  const rows = table.rows.map((row) => [
    table.dataset,
    table.architecture,
    row.setup,
    formatNumber(row.temperature),
    String(row.seeds),
    String(row.seedsFailed),
    ...row.cells.flatMap((cell) => [
      formatNumber(cell.mean, FRACTION_DECIMALS),
      formatNumber(cell.std, FRACTION_DECIMALS),
      String(cell.n),
      formatNumber(cell.ci95?.low, FRACTION_DECIMALS),
      formatNumber(cell.ci95?.high, FRACTION_DECIMALS),
    ]),
  ]);
  return [header, ...rows];
}

/** A fraction as the CSV tables write it, so JSON and CSV carry the same digits. */
export function roundFraction(value: number | null): number | null {
  return value === null ? null : Number(formatNumber(value, FRACTION_DECIMALS));
}

/** The table as aligned plain text (right-aligned columns, a rule under the header) for a terminal; each row's intervals on the line under it. */
export function formatTableText(table: PivotTable): string {
  const body = table.rows.flatMap((row, r) => [row, ...(table.intervals[r]?.length ? [table.intervals[r]!] : [])]);
  const lines = [table.columns, ...body];
  const widths = table.columns.map((_, c) => Math.max(...lines.map((line) => (line[c] ?? '').length)));
  const render = (cells: string[]): string => widths.map((width, c) => (cells[c] ?? '').padStart(width)).join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(table.columns), rule, ...body.map(render)].join('\n');
}

export function humanTable(table: ResultTable): PivotTable {
  const showSetup = table.rows.some((row) => row.setup !== '');
  const rows = table.rows.map((row) => {
    const ok = row.seeds - row.seedsFailed;
    const seeds = row.seedsFailed === 0 ? String(row.seeds) : `${ok}/${row.seeds}`;
    const cells = row.cells.map((cell) => (ok === 0 ? 'failed' : formatPercent(cell.values)));
    return [...(showSetup ? [row.setup] : []), formatNumber(row.temperature), seeds, ...cells];
  });
  const intervals = table.rows.map((row) =>
    row.cells.some((cell) => cell.ci95 !== null) ? [...(showSetup ? [''] : []), '', '', ...row.cells.map((cell) => formatInterval(cell.ci95))] : [],
  );
  const columns = [...(showSetup ? ['setup'] : []), 'temperature', 'seeds', ...table.labels];
  return { dataset: table.dataset, architecture: table.architecture, columns, rows, intervals };
}

/** `[96.31, 97.29]`: a 95% interval of fractions, in percent like the cells; "" for none. */
export function formatInterval(interval: Interval | null): string {
  return interval === null ? '' : `[${(interval.low * 100).toFixed(2)}, ${(interval.high * 100).toFixed(2)}]`;
}

interface SetupContext {
  setupOf: (record: RunRecord) => string;
  /** Setup names, oldest first. */
  order: string[];
}

// Setups are named over the whole folder, so a name means the same in every table.
function groupedModels(records: RunRecord[]): Array<{ group: RunRecord[]; context: SetupContext }> {
  const models = latestPerModel(records);
  const context = { setupOf: setupNamer(models), order: setupsOf(models).map(({ setup }) => setup) };
  const groups = new Map<string, RunRecord[]>();
  for (const record of models) {
    const key = JSON.stringify([record.job.dataset, record.job.architecture]);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return [...groups.values()].map((group) => ({ group, context }));
}

function resultTable(
  group: RunRecord[],
  { setupOf, order }: SetupContext,
  suffix: string,
  labelsOf: (record: RunRecord) => string[],
  resultOf: (record: RunRecord, label: string) => AttackResult | undefined,
): ResultTable {
  const { dataset, architecture } = group[0]!.job;
  const labels = [CLEAN_LABEL, ...unique(group.flatMap(labelsOf))];
  const rowKeys = unique(group.map((record) => JSON.stringify([setupOf(record), record.job.temperature])))
    .map((key) => JSON.parse(key) as [string, number])
    .sort(([setupA, tA], [setupB, tB]) => order.indexOf(setupA) - order.indexOf(setupB) || tA - tB);
  const rows = rowKeys.map(([setup, temperature]): ResultRow => {
    const runs = group.filter((record) => setupOf(record) === setup && record.job.temperature === temperature);
    const ok = runs.filter((record) => record.status === 'ok');
    const cells = labels.map((label) => {
      if (label === CLEAN_LABEL) return cellOf(ok.flatMap((record) => (record.cleanAccuracy === undefined ? [] : [{ robustAccuracy: record.cleanAccuracy }])));
      return cellOf(ok.flatMap((record) => resultOf(record, label) ?? []));
    });
    return { setup, temperature, seeds: runs.length, seedsFailed: runs.length - ok.length, cells };
  });
  return { dataset, architecture, name: `${dataset}__${architecture}${suffix}`, labels, rows };
}

function cellOf(results: Array<Pick<AttackResult, 'robustAccuracy'> & Partial<AttackResult>>): CellSummary {
  const values = results.map((result) => result.robustAccuracy);
  const zeroGrads = results.flatMap((result) => (result.zeroGradFraction === null || result.zeroGradFraction === undefined ? [] : [result.zeroGradFraction]));
  const { mean, std } = meanStd(values);
  return {
    mean: values.length === 0 ? null : mean,
    std: values.length < 2 ? null : std,
    n: values.length,
    ci95: meanInterval95(values),
    zeroGradFraction: zeroGrads.length === 0 ? null : meanStd(zeroGrads).mean,
    masking: unique(results.flatMap((result) => result.masking ?? [])).sort(),
    values,
  };
}

// A failed run measured nothing, so its planned labels still give the table its columns.
function attackLabelsOf(record: RunRecord): string[] {
  return record.status === 'ok' ? summaryResults(record).map((result) => result.label) : plannedSummaryLabels(record);
}

function accuracyOf(record: RunRecord, label: string): AttackResult | undefined {
  return summaryResults(record).find((result) => result.label === label);
}

// Percent with 2 decimals; a single seed has no spread to show.
function formatPercent(fractions: number[]): string {
  if (fractions.length === 0) return '';
  const { mean, std } = meanStd(fractions.map((fraction) => fraction * 100));
  return fractions.length === 1 ? mean.toFixed(2) : `${mean.toFixed(2)} ± ${std.toFixed(2)}`;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
