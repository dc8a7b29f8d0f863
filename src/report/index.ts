// The report: every view derived from the run records (runs.csv, pivot tables, terminal summary).
import type { RunRecord } from '../types.js';
import { writeRunsCsv } from './runs-csv.js';
import { formatTableText, pivotTables, writeTables } from './tables.js';

export { RUNS_CSV_COLUMNS, runsCsvRows, writeRunsCsv } from './runs-csv.js';
export { formatTableText, pivotTables, writeTables, type PivotTable } from './tables.js';

/** Writes runs.csv and tables/*.csv into `outDir`; returns their paths. */
export function writeReport(outDir: string, records: RunRecord[]): { runsCsv: string; tables: string[] } {
  return { runsCsv: writeRunsCsv(outDir, records), tables: writeTables(outDir, records) };
}

/** Plain-text summary for the end of a sweep: one pivot per (dataset, architecture), then failed runs. */
export function summaryText(records: RunRecord[]): string {
  if (records.length === 0) return 'no runs recorded';
  const sections = pivotTables(records).map(
    (table) =>
      `${table.dataset} / ${table.architecture}  (accuracy %, mean ± std over seeds)\n${formatTableText(table)}`,
  );
  const failed = records.filter((record) => record.status === 'failed');
  if (failed.length > 0) {
    const lines = failed.map(
      ({ runId, job, failureReason }) =>
        `  ${runId} (${job.dataset} / ${job.architecture}, T=${job.temperature}, seed ${job.seed}): ${failureReason ?? 'no reason recorded'}`,
    );
    sections.push([`failed runs (${failed.length}):`, ...lines].join('\n'));
  }
  return sections.join('\n\n');
}
