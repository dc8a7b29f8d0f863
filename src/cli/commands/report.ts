// `temper report <results-dir>`: rebuild runs.csv, tables, summary.md, plots and index.html from the stored run records.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { NoRecordsError, rebuildReport, reportFileList, type RebuiltReport } from '../../report/index.js';
import { UsageError } from '../errors.js';

interface ReportArgs {
  resultsDir: string;
  json: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <results-dir>',
  describe: 'Rebuild runs.csv, tables, summary.md, plots and index.html from the run records in <results-dir>/runs/',
  builder: (yargs: Argv) =>
    yargs
      .positional('results-dir', { type: 'string', demandOption: true, describe: 'a folder written by `temper run`' })
      .option('json', { type: 'boolean', default: false, describe: 'print the written files as JSON' })
      .example('$0 report results/quickstart', 'redraw the quickstart report') as unknown as Argv<ReportArgs>,
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
    process.stdout.write(`report of ${report.ok} ok and ${report.failed} failed runs in ${report.resultsDir}\n`);
    process.stdout.write(`${files.map((file) => `wrote ${file}`).join('\n')}\n`);
  },
};
