// The paper-style pivot: per (dataset, architecture), one row per temperature, one column per attack@eps.
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { CLEAN_LABEL } from '../config/grid.js';
import { corruptionLabels, plannedSummaryLabels, summaryResults } from './corruption-view.js';
import { latestPerModel } from './models.js';
import type { RunRecord } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatNumber } from './runs-csv.js';
import { meanStd } from './stats.js';

export interface PivotTable {
  dataset: string;
  architecture: string;
  /** `temperature, seeds, clean, <attack labels>`. */
  columns: string[];
  /** Cells are accuracy in percent, `mean ± std` over the ok seeds. */
  rows: string[][];
}

/** One table per (dataset, architecture), in first-seen order. */
export function pivotTables(records: RunRecord[]): PivotTable[] {
  return groupModels(records).map((group) => pivotTable(group, attackLabelsOf, accuracyOf));
}

function groupModels(records: RunRecord[]): RunRecord[][] {
  const groups = new Map<string, RunRecord[]>();
  for (const record of latestPerModel(records)) {
    const key = JSON.stringify([record.job.dataset, record.job.architecture]);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return [...groups.values()];
}

/** One table per (dataset, architecture) that has corruption rows: a column per corruption type and severity. */
export function corruptionTables(records: RunRecord[]): PivotTable[] {
  return groupModels(records)
    .filter((group) => group.some((record) => corruptionLabels(record).length > 0))
    .map((group) => pivotTable(group, corruptionLabels, (record, label) => record.attacks.find((result) => result.label === label)?.robustAccuracy));
}

/**
 * Writes `tables/<dataset>__<architecture>.csv` for every table, and `tables/<dataset>__<architecture>__corruptions.csv`
 * where corruptions were measured; returns the paths.
 */
export function writeTables(outDir: string, records: RunRecord[]): string[] {
  const write = (table: PivotTable, suffix: string) => {
    const path = join(outDir, 'tables', `${table.dataset}__${table.architecture}${suffix}.csv`);
    writeFileAtomic(path, stringify([table.columns, ...table.rows]));
    return path;
  };
  return [...pivotTables(records).map((table) => write(table, '')), ...corruptionTables(records).map((table) => write(table, '__corruptions'))];
}

/** The table as aligned plain text (right-aligned columns, a rule under the header) for a terminal. */
export function formatTableText(table: PivotTable): string {
  const lines = [table.columns, ...table.rows];
  const widths = table.columns.map((_, c) => Math.max(...lines.map((line) => (line[c] ?? '').length)));
  const render = (cells: string[]): string => widths.map((width, c) => (cells[c] ?? '').padStart(width)).join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(table.columns), rule, ...table.rows.map(render)].join('\n');
}

function pivotTable(
  group: RunRecord[],
  labelsOf: (record: RunRecord) => string[],
  valueOf: (record: RunRecord, label: string) => number | undefined,
): PivotTable {
  const { dataset, architecture } = group[0]!.job;
  const labels = unique(group.flatMap(labelsOf));
  const temperatures = unique(group.map((record) => record.job.temperature)).sort((a, b) => a - b);
  const rows = temperatures.map((temperature) => {
    const runs = group.filter((record) => record.job.temperature === temperature);
    const ok = runs.filter((record) => record.status === 'ok');
    const seeds = ok.length === runs.length ? String(ok.length) : `${ok.length}/${runs.length}`;
    const cells = [CLEAN_LABEL, ...labels].map((label) =>
      ok.length === 0 ? 'failed' : formatAccuracies(ok.flatMap((record) => (label === CLEAN_LABEL ? record.cleanAccuracy : valueOf(record, label)) ?? [])),
    );
    return [formatNumber(temperature), seeds, ...cells];
  });
  return { dataset, architecture, columns: ['temperature', 'seeds', CLEAN_LABEL, ...labels], rows };
}

// A failed run measured nothing, so its planned labels still give the table its columns.
function attackLabelsOf(record: RunRecord): string[] {
  return record.status === 'ok' ? summaryResults(record).map((result) => result.label) : plannedSummaryLabels(record);
}

function accuracyOf(record: RunRecord, label: string): number | undefined {
  return summaryResults(record).find((result) => result.label === label)?.robustAccuracy;
}

// Percent with 2 decimals; a single seed has no spread to show.
function formatAccuracies(fractions: number[]): string {
  if (fractions.length === 0) return '';
  const { mean, std } = meanStd(fractions.map((fraction) => fraction * 100));
  return fractions.length === 1 ? mean.toFixed(2) : `${mean.toFixed(2)} ± ${std.toFixed(2)}`;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
