// `temper data list` and `temper data fetch <name>`: the registered datasets, and downloading their files.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { datasetSpec, defaultDataDir, fetchDataset, FetchError, listDatasets, type DataContext } from '../../data/index.js';
import { fetchProgressPrinter, verificationLine } from '../../data/fetch-progress.js';
import { EXIT_JOBS_FAILED, UsageError } from '../errors.js';

interface DataArgs {
  action: 'list' | 'fetch';
  name?: string;
  dataDir?: string;
}

function list(context: DataContext): void {
  process.stdout.write(`data folder: ${context.dataDir}\n`);
  for (const spec of listDatasets()) {
    process.stdout.write(`${spec.name.padEnd(16)} ${spec.present(context) ? 'present' : 'missing'}  ${spec.description}\n${' '.repeat(26)}${spec.source}\n`);
  }
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

export const dataCommand: CommandModule<object, DataArgs> = {
  command: 'data <action> [name]',
  describe: 'Datasets: `temper data list`, `temper data fetch <name>`',
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['list', 'fetch'] as const, describe: 'list the datasets, or download one' })
      .positional('name', { type: 'string', describe: 'dataset to fetch (see `temper data list`)' })
      .option('data-dir', { type: 'string', describe: 'folder of downloaded datasets (default: TEMPER_DATA_DIR or ~/.cache/temper/data)' })
      .example('$0 data list', '')
      .example('$0 data fetch cifar10 --data-dir /data', 'download, verify (SHA-256) and keep cifar-10-binary.tar.gz; reruns resume or do nothing') as unknown as Argv<DataArgs>,
  handler: async (args: ArgumentsCamelCase<DataArgs>) => {
    const context = { dataDir: args.dataDir ? resolve(args.dataDir) : defaultDataDir() };
    if (args.action === 'list') list(context);
    else await fetch(args.name, context);
  },
};
