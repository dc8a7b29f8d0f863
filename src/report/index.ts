// The report: every view derived from the run records (runs.csv, pivot tables, summary.md, plots, index.html, terminal summary).
import type { RunRecord } from '../types.js';
import { describeFailure } from './summary.js';
import { auditWarnings } from './warnings.js';
import { formatTableText, pivotTables } from './tables.js';

export { RUNS_CSV_COLUMNS, runsCsvRows, writeRunsCsv } from './runs-csv.js';
export { formatTableText, pivotTables, writeTables, type PivotTable } from './tables.js';
export { plotSpecs, type Plot } from './plots.js';
export { summaryMarkdown, summaryModel, type SummaryModel } from './summary.js';
export { formatWarning, gradientMaskingWarnings, type GradientMaskingWarning } from './warnings.js';
export { NoRecordsError, rebuildReport, type RebuiltReport } from './rebuild.js';
export { reportFileList, writeReport, type ReportFiles } from './write.js';

/** Plain-text summary for the end of a sweep: one pivot per (dataset, architecture), then failed runs. */
export function summaryText(records: RunRecord[]): string {
  if (records.length === 0) return 'no runs recorded';
  const sections = pivotTables(records).map(
    (table) =>
      `${table.dataset} / ${table.architecture}  (accuracy %, mean ± std over seeds)\n${formatTableText(table)}`,
  );
  const audit = auditWarnings(records);
  if (audit.length > 0) sections.push([`possible gradient masking (${audit.length}):`, ...audit.map((line) => `  ${line}`)].join('\n'));
  const failed = records.filter((record) => record.status === 'failed');
  if (failed.length > 0) {
    sections.push([`failed runs (${failed.length}):`, ...failed.map((record) => `  ${describeFailure(record)}`)].join('\n'));
  }
  return sections.join('\n\n');
}
