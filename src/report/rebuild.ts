// `temper report`: rebuild every view of a results folder from its run records alone.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRecords } from '../runner/store.js';
import { folderSettings, writeReport, type ReportFiles, type ReportOptions } from './write.js';
import { resultsSummary, type ResultsSummary } from './results.js';

/** The folder holds no readable run record, so there is nothing to report. */
export class NoRecordsError extends Error {}

/** `--baseline` names a temperature the folder has no record of. */
export class BadBaselineError extends Error {}

export interface RebuiltReport {
  resultsDir: string;
  ok: number;
  failed: number;
  files: ReportFiles;
  /** The cells, failures and masking flags the views show, as data (the `results` of `temper run --json`). */
  results: ResultsSummary;
  /** Record files that could not be read, each with its path and why. */
  problems: string[];
}

export async function rebuildReport(resultsDir: string, options: ReportOptions = {}): Promise<RebuiltReport> {
  const runsDir = join(resultsDir, 'runs');
  if (!existsSync(resultsDir)) {
    throw new NoRecordsError(`${resultsDir}: no such folder; expected a results folder written by \`temper run\`, with run records in runs/`);
  }
  const { records, problems } = readRecords(resultsDir);
  if (records.length === 0) {
    const unreadable = problems.length === 0 ? '' : `; ${problems.length} unreadable:\n  ${problems.join('\n  ')}`;
    throw new NoRecordsError(
      `${resultsDir}: no run records in ${runsDir}; expected one <run_id>.json per trained model, as written by \`temper run\`${unreadable}`,
    );
  }
  const baselineTemperature = options.baselineTemperature ?? folderSettings(resultsDir).baselineTemperature;
  // A baseline named on the command line must be one the folder trained; the config's is checked when it is loaded.
  if (options.baselineTemperature !== undefined && !records.some((record) => record.job.temperature === baselineTemperature)) {
    const recorded = [...new Set(records.map((record) => record.job.temperature))].sort((a, b) => a - b);
    throw new BadBaselineError(
      `--baseline ${baselineTemperature}: expected one of the temperatures recorded in ${runsDir} (${recorded.join(', ')}), found ${baselineTemperature}; pass one of those`,
    );
  }
  return {
    resultsDir,
    ok: records.filter((record) => record.status === 'ok').length,
    failed: records.filter((record) => record.status === 'failed').length,
    files: await writeReport(resultsDir, records, { baselineTemperature }),
    results: resultsSummary(records, baselineTemperature),
    problems,
  };
}
