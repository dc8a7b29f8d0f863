// `temper report <results-dir>`: rebuild runs.csv, tables, summary.md, plots and index.html from the stored run records.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { BadBaselineError, NoRecordsError, rebuildReport, reportFileList, type RebuiltReport } from '../../report/index.js';
import { UsageError } from '../errors.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';
import { plural } from '../../util/text.js';

interface ReportArgs {
  resultsDir: string;
  json: boolean;
  baseline: number | undefined;
}

const examples: Example[] = [
  { command: '$0 report results/quickstart', note: 'redraw the quickstart report' },
  { command: '$0 report results/quickstart --baseline 5', note: 'compare every temperature with T = 5 instead of T = 1' },
];

export const reportCommand: TemperCommand<ReportArgs> = {
  command: 'report <results-dir>',
  examples,
  describe: 'Rebuild runs.csv, tables, summary.md, plots and index.html from the run records in <results-dir>/runs/',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('results-dir', { type: 'string', describe: 'a folder written by `temper run`' })
      .option('json', { type: 'boolean', default: false, describe: 'print the written files as JSON' })
      .option('baseline', {
        type: 'number',
        describe: "the temperature summary.md and index.html compare every other with, paired by seed (default: the config's report.baselineTemperature, else 1)",
      }) as unknown as Argv<ReportArgs>,
  handler: async (args: ArgumentsCamelCase<ReportArgs>) => {
    const baseline = args.baseline;
    if (baseline !== undefined && !(Number.isFinite(baseline) && baseline > 0)) {
      throw new UsageError(`--baseline: expected a temperature > 0 such as --baseline 1, found ${String(baseline)}`);
    }
    let report: RebuiltReport;
    try {
      report = await rebuildReport(resolve(args.resultsDir), { baselineTemperature: baseline });
    } catch (error) {
      // Nothing to report on, or a baseline the folder never trained, is a usage mistake (exit 2), not a failed job.
      throw error instanceof NoRecordsError || error instanceof BadBaselineError ? new UsageError(error.message) : error;
    }
    for (const problem of report.problems) process.stderr.write(`warning: ${problem}\n`);
    const files = reportFileList(report.files);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ resultsDir: report.resultsDir, ok: report.ok, failed: report.failed, files, results: report.results }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`report of ${plural(report.ok + report.failed, 'run')} (${report.ok} ok, ${report.failed} failed) in ${report.resultsDir}\n`);
    process.stdout.write(`${files.map((file) => `wrote ${file}`).join('\n')}\n`);
  },
};
