// summary.md: the paper-layout tables, failed runs and gradient-masking warnings, from one model that index.html shares.
import { latestPerModel } from './models.js';
import { markdownTable } from 'markdown-table';
import type { RunRecord } from '../types.js';
import { formatNumber } from './runs-csv.js';
import { plotSpecs, type Plot } from './plots.js';
import { pivotTables, type PivotTable } from './tables.js';
import { comparisonCells, comparisonNote, comparisonVerdict, DEFAULT_BASELINE_TEMPERATURE, groupTitle, pairedComparisons, type ComparisonGroup } from './paired.js';
import {
  auditWarnings,
  calibrationRows,
  formatWarning,
  gradientMaskingWarnings,
  maskingFindings,
  ZERO_GRAD_WARNING_THRESHOLD,
  type CalibrationRow,
  type MaskingFinding,
} from './warnings.js';

export interface SummaryModel {
  /** Experiment names of the records (several after a merge), comma-separated. */
  experiment: string;
  /** The config's `description`, when the results folder's config.json has one. */
  description: string | undefined;
  ok: number;
  failed: number;
  backends: string[];
  /** Newest finishedAt, as "YYYY-MM-DD HH:MM UTC"; undefined without records. */
  newestRecord: string | undefined;
  tables: PivotTable[];
  /** The plots of each table, in table order. */
  plots: Plot[];
  failures: string[];
  warnings: string[];
  /** Flags of each model's gradient-masking audit. */
  audit: string[];
  /** The audit flags and the zero-gradient warnings, each finding once (index.html shows these). */
  masking: MaskingFinding[];
  calibration: CalibrationRow[];
  /** The temperature every other is compared with, paired by seed. */
  baselineTemperature: number;
  /** One group per dataset, architecture and setup. */
  comparisons: ComparisonGroup[];
}

export const TABLE_NOTE =
  'Accuracy in percent, mean ± std over the seeds that finished (sample std; one seed shows the mean alone); under it, in brackets, the 95% confidence interval of the mean (Student t over the seeds; none with one seed).';
export const SETUP_NOTE =
  'This folder holds models trained or evaluated with different settings; `setup` names the settings that set each row apart, and rows of different setups are never averaged together.';

/** The note above the tables: how to read a cell, and what `setup` means when a table has that column. */
export function tableNote(tables: PivotTable[]): string {
  if (tables.length === 0) return 'No runs recorded.';
  return tables.some((table) => table.columns[0] === 'setup') ? `${TABLE_NOTE} ${SETUP_NOTE}` : TABLE_NOTE;
}
export const WARNINGS_NOTE = `Cells where more than ${ZERO_GRAD_WARNING_THRESHOLD * 100}% of input gradients were exactly zero (mean over seeds).`;

export const AUDIT_NOTE =
  'Per trained model: fixed-step attacks whose steps * stepSize cannot reach eps (left out of the other checks), exactly-zero input gradients, iterative attacks no stronger than FGSM, accuracy that does not fall towards chance as eps grows, black-box or transfer attacks beating white-box ones, and CE at T = 1 far above CW/DLR in the same attack with the same budget (each flag names its rows and its evidence; see `masking` in runs.csv).';
export const CALIBRATION_NOTE = 'On the clean eval images: expected calibration error (15 bins) and mean negative log-likelihood of softmax(z / T), at the training temperature and at T = 1; mean over seeds.';

export function summaryModel(allRecords: RunRecord[], description?: string, baselineTemperature = DEFAULT_BASELINE_TEMPERATURE): SummaryModel {
  const records = latestPerModel(allRecords);
  return {
    experiment: unique(records.map((record) => record.job.experiment)).join(', ') || 'temper',
    description,
    ok: records.filter((record) => record.status === 'ok').length,
    failed: records.filter((record) => record.status === 'failed').length,
    backends: unique(records.map((record) => record.backend)),
    newestRecord: newestTimestamp(records),
    tables: pivotTables(records),
    plots: plotSpecs(records),
    failures: records.filter((record) => record.status === 'failed').map(describeFailure),
    warnings: gradientMaskingWarnings(records).map(formatWarning),
    audit: auditWarnings(records),
    masking: maskingFindings(records),
    calibration: calibrationRows(records),
    baselineTemperature,
    comparisons: pairedComparisons(records, baselineTemperature),
  };
}

/** `<run id> (<dataset> / <architecture>, T=<T>, seed <seed>): <reason>`. */
export function describeFailure({ runId, job, failureReason }: RunRecord): string {
  return `${runId} (${job.dataset} / ${job.architecture}, T=${formatNumber(job.temperature)}, seed ${job.seed}): ${failureReason ?? 'no reason recorded'}`;
}

export function summaryMarkdown(model: SummaryModel): string {
  const sections = [
    `# ${model.experiment}: temperature sweep report`,
    ...(model.description ? [model.description] : []),
    [
      `- Runs: ${model.ok} ok, ${model.failed} failed`,
      `- Backend: ${model.backends.join(', ') || 'none'}`,
      `- Newest record: ${model.newestRecord ?? 'none'}`,
    ].join('\n'),
    tableNote(model.tables),
    ...model.tables.map((table) => {
      const plots = model.plots.filter((plot) => plot.dataset === table.dataset && plot.architecture === table.architecture);
      return [
        `## ${table.dataset} / ${table.architecture}`,
        markdownTable(
          // The interval goes on a second line of the cell, so the table keeps one column per label.
          [table.columns, ...table.rows.map((row, r) => row.map((cell, c) => (table.intervals[r]?.[c] ? `${cell}<br>${table.intervals[r]![c]}` : cell)))].map((cells) =>
            cells.map(escapeCell),
          ),
          { align: table.columns.map(() => 'r') },
        ),
        ...plots.map((plot) => `![${plot.title}](plots/${plot.file})`),
      ].join('\n\n');
    }),
    ...comparisonSection(model),
    `## Failed runs\n\n${bullets(model.failures)}`,
    `## Gradient-masking warnings\n\n${WARNINGS_NOTE}\n\n${bullets(model.warnings)}`,
    `## Gradient-masking audit\n\n${AUDIT_NOTE}\n\n${bullets(model.audit)}`,
    ...(model.calibration.length === 0 ? [] : [`## Calibration\n\n${CALIBRATION_NOTE}\n\n${calibrationTable(model.calibration)}`]),
  ];
  return `${sections.join('\n\n')}\n`;
}

/** The title of the paired-comparison section, e.g. `Each temperature against T = 1, paired by seed`. */
export function comparisonTitle(baselineTemperature: number): string {
  return `Each temperature against T = ${formatNumber(baselineTemperature)}, paired by seed`;
}

function comparisonSection(model: SummaryModel): string[] {
  if (model.comparisons.length === 0) return [];
  const groups = model.comparisons.map((group) => {
    const [header, ...body] = comparisonCells(group);
    const table = body.length === 0 ? [] : [markdownTable([header!, ...body].map((cells) => cells.map(escapeCell)), { align: ['l', ...header!.slice(1).map(() => 'r')] })];
    return [`### ${groupTitle(group)}`, ...table, comparisonVerdict(group)].join('\n\n');
  });
  return [`## ${comparisonTitle(model.baselineTemperature)}\n\n${comparisonNote(model.baselineTemperature)}`, ...groups];
}

function calibrationTable(rows: CalibrationRow[]): string {
  const [header, ...body] = calibrationCells(rows);
  return markdownTable([header!, ...body].map((cells) => cells.map(escapeCell)), { align: header!.map(() => 'r') });
}

/** The calibration table as text cells, header first; summary.md and index.html both show it. */
export function calibrationCells(rows: CalibrationRow[]): string[][] {
  // Models of different setups are kept apart, as in the accuracy tables.
  const showSetup = rows.some((row) => row.setup !== '');
  const header = ['dataset', 'architecture', ...(showSetup ? ['setup'] : []), 'temperature', 'seeds', 'ECE (train T)', 'NLL (train T)', 'ECE (T=1)', 'NLL (T=1)'];
  const body = rows.map((row) => [
    row.dataset,
    row.architecture,
    ...(showSetup ? [row.setup] : []),
    formatNumber(row.temperature),
    String(row.seeds),
    row.ece.toFixed(4),
    row.nll.toFixed(4),
    row.eceT1.toFixed(4),
    row.nllT1.toFixed(4),
  ]);
  return [header, ...body];
}

function bullets(lines: string[]): string {
  return lines.length === 0 ? 'None.' : lines.map((line) => `- ${line.replaceAll(/\s*\n\s*/g, ' ')}`).join('\n');
}

// A "|" inside a cell would end it early.
function escapeCell(cell: string): string {
  return cell.replaceAll('|', '\\|');
}

function newestTimestamp(records: RunRecord[]): string | undefined {
  const times = records.map((record) => Date.parse(record.finishedAt)).filter(Number.isFinite);
  if (times.length === 0) return undefined;
  return `${new Date(Math.max(...times)).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
