// The report: every view derived from the run records (runs.csv, pivot tables, summary.md, plots, index.html, terminal summary).
import type { RunRecord } from '../types.js';
import { describeFailure, SETUP_NOTE } from './summary.js';
import { auditWarnings } from './warnings.js';
import { latestPerModel } from './models.js';
import { formatTableText, pivotTables } from './tables.js';

export { RUNS_CSV_COLUMNS, runsCsvHeader, runsCsvRows, writeRunsCsv } from './runs-csv.js';
export { formatTableText, pivotTables, resultTables, tableCsvRows, writeTables, TABLE_CSV_COLUMNS, type PivotTable, type ResultTable } from './tables.js';
export { resultsSummary, type PairedComparisonCell, type ResultCell, type ResultsSummary } from './results.js';
export { plotSpecs, type Plot } from './plots.js';
export { summaryMarkdown, summaryModel, type SummaryModel } from './summary.js';
export { formatWarning, gradientMaskingWarnings, type GradientMaskingWarning } from './warnings.js';
export { BadBaselineError, NoRecordsError, rebuildReport, type RebuiltReport } from './rebuild.js';
export { DEFAULT_BASELINE_TEMPERATURE, pairedComparisons, type ComparisonGroup, type PairedComparison } from './paired.js';
export { folderSettings, reportFileList, writeReport, type ReportFiles, type ReportOptions } from './write.js';

/** Plain-text summary for the end of a sweep: one pivot per (dataset, architecture), then failed runs. */
export function summaryText(records: RunRecord[]): string {
  if (records.length === 0) return 'no runs recorded';
  const tables = pivotTables(records);
  const sections = tables.map(
    (table) =>
      `${table.dataset} / ${table.architecture}  (accuracy %, mean ± std over seeds${table.intervals.some((line) => line.length > 0) ? '; under each row, [the 95% interval of the mean]' : ''})\n${formatTableText(table)}`,
  );
  if (tables.some((table) => table.columns[0] === 'setup')) sections.push(SETUP_NOTE);
  const audit = auditWarnings(records);
  if (audit.length > 0) sections.push([`possible gradient masking (${audit.length}):`, ...audit.map((line) => `  ${line}`)].join('\n'));
  // The same models as the tables: an older failure of a model that later finished is not listed.
  const failed = latestPerModel(records).filter((record) => record.status === 'failed');
  if (failed.length > 0) {
    sections.push([`failed runs (${failed.length}):`, ...failed.map((record) => `  ${describeFailure(record)}`)].join('\n'));
  }
  return sections.join('\n\n');
}
