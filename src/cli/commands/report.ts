// `temper report <results-dir>`: rebuild runs.csv, tables, summary.md, plots and index.html from the stored run records.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { NoRecordsError, rebuildReport, reportFileList, type RebuiltReport } from '../../report/index.js';
import { UsageError } from '../errors.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';
import { plural } from '../../util/text.js';

interface ReportArgs {
  resultsDir: string;
  json: boolean;
}

const examples: Example[] = [{ command: '$0 report results/quickstart', note: 'redraw the quickstart report' }];

export const reportCommand: TemperCommand<ReportArgs> = {
  command: 'report <results-dir>',
  examples,
  describe: 'Rebuild runs.csv, tables, summary.md, plots and index.html from the run records in <results-dir>/runs/',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('results-dir', { type: 'string', describe: 'a folder written by `temper run`' })
      .option('json', { type: 'boolean', default: false, describe: 'print the written files as JSON' }) as unknown as Argv<ReportArgs>,
  handler: async (args: ArgumentsCamelCase<ReportArgs>) => {
    let report: RebuiltReport;
    try {
      report = await rebuildReport(resolve(args.resultsDir));
    } catch (error) {
      // Nothing to report on is a usage mistake (exit 2), not a failed job.
      throw error instanceof NoRecordsError ? new UsageError(error.message) : error;
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
