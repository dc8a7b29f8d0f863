// `temper data list` and `temper data fetch <name>`: the registered datasets, and downloading their files.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { datasetSpec, defaultDataDir, fetchDataset, FetchError, listDatasets, type DataContext } from '../../data/index.js';
import { fetchProgressPrinter, verificationLine } from '../../data/fetch-progress.js';
import { EXIT_JOBS_FAILED, UsageError } from '../errors.js';
import { alignColumns } from '../../util/text.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';

interface DataArgs {
  action: 'list' | 'fetch';
  name?: string;
  dataDir?: string;
}

function list(context: DataContext): void {
  process.stdout.write(`data folder: ${context.dataDir}\n`);
  // Two lines a dataset: the description, then where its files come from under it.
  const rows = listDatasets().flatMap((spec) => [[spec.name, spec.present(context) ? 'present' : 'missing', spec.description], ['', '', spec.source]]);
  process.stdout.write(alignColumns(rows).map((line) => `${line}\n`).join(''));
}

async function fetch(name: string | undefined, context: DataContext): Promise<void> {
  const names = listDatasets().map((spec) => spec.name);
  const downloadable = listDatasets().filter((spec) => spec.files?.length).map((spec) => spec.name);
  if (!name) throw new UsageError(`data fetch needs a dataset name; expected one of: ${downloadable.join(', ')}`);
  if (!names.includes(name)) throw new UsageError(`unknown dataset "${name}"; expected one of: ${names.join(', ')}`);
  const spec = datasetSpec(name);
  if (!spec.files?.length) {
    process.stdout.write(`${name}: nothing to fetch (${spec.source})\n`);
    return;
  }
  const printer = fetchProgressPrinter();
  try {
    await fetchDataset(name, {
      dataDir: context.dataDir,
      onProgress: (event) => {
        printer.onProgress(event);
        if (event.kind === 'done') process.stdout.write(`${verificationLine(event.result)}\n`);
      },
    });
  } catch (error) {
    printer.stop();
    if (!(error instanceof FetchError)) throw error;
    process.stderr.write(`temper: ${error.message}\n`);
    process.exitCode = EXIT_JOBS_FAILED;
    return;
  }
  process.stdout.write(`${name}: ready in ${context.dataDir}\n`);
}

const examples: Example[] = [
  { command: '$0 data list', note: 'the datasets, and which are present' },
  { command: '$0 data fetch cifar10 --data-dir /data', note: 'download and verify (SHA-256); a rerun resumes or does nothing' },
];

export const dataCommand: TemperCommand<DataArgs> = {
  command: 'data <action> [name]',
  examples,
  describe: 'Datasets: `temper data list`, `temper data fetch <name>`',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('action', { choices: ['list', 'fetch'] as const, describe: 'list the datasets, or download one' })
      .positional('name', { type: 'string', describe: 'dataset to fetch (see `temper data list`)' })
      .option('data-dir', { type: 'string', describe: 'folder of downloaded datasets (default: TEMPER_DATA_DIR or ~/.cache/temper/data)' }) as unknown as Argv<DataArgs>,
  handler: async (args: ArgumentsCamelCase<DataArgs>) => {
    const context = { dataDir: args.dataDir ? resolve(args.dataDir) : defaultDataDir() };
    if (args.action === 'list') list(context);
    else await fetch(args.name, context);
  },
};
