// `temper data list` and `temper data fetch <name>`: the registered datasets, and downloading their files.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { datasetSpec, defaultDataDir, fetchDataset, FetchError, kindLabel, listDatasets, systemDataDirs, DEFAULT_SYSTEM_DATA_DIRS, type DataContext } from '../../data/index.js';
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
  process.stdout.write(`${searchOrder(context)}\n`);
  // A dataset's description, where its files come from, and for a present file-based one the folder read.
  const rows = listDatasets().flatMap((spec) => {
    const location = spec.location?.(context);
    return [
      [spec.name, spec.present(context) ? 'present' : 'missing', spec.description],
      ['', '', spec.source],
      ...(location ? [['', '', `using ${location.folder} (${kindLabel(location.kind)})`]] : []),
    ];
  });
  process.stdout.write(alignColumns(rows).map((line) => `${line}\n`).join(''));
}

/** The folders searched, in order, for `data list` and `doctor`. */
export function searchOrder(context: DataContext): string {
  const system = context.systemDataDirs ?? systemDataDirs();
  const then = system.length > 0 ? `then system folders ${system.join(', ')}` : 'no system folders (TEMPER_SYSTEM_DATA_DIRS is empty)';
  return `data folder: ${context.dataDir}, ${then}`;
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
  // A system package (Debian's dataset-fashion-mnist) already provides it, and every command reads it from there.
  const location = spec.location?.(context);
  if (location?.kind === 'system') {
    process.stdout.write(`${name}: already installed in ${location.folder} (${kindLabel(location.kind)}), where every command reads it; nothing to fetch\n`);
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

/** The --data-dir help of every command that reads datasets: the whole search order. */
export const DATA_DIR_HELP =
  'folder of downloaded datasets, searched first (default: TEMPER_DATA_DIR or ~/.cache/temper/data); then the system dataset folders, ' +
  `where packages such as Debian's dataset-fashion-mnist install them: TEMPER_SYSTEM_DATA_DIRS (colon-separated; empty: none), else ${DEFAULT_SYSTEM_DATA_DIRS.join(':')}`;

const examples: Example[] = [
  { command: '$0 data list', note: 'the datasets, which are present, and the folder each is read from' },
  { command: '$0 data fetch cifar10 --data-dir /data', note: 'download and verify (SHA-256); a rerun resumes or does nothing' },
];

export const dataCommand: TemperCommand<DataArgs> = {
  command: 'data <action> [name]',
  examples,
  describe: 'Datasets: `temper data list` (which are present, and from which folder), `temper data fetch <name>` (into the data folder)',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('action', { choices: ['list', 'fetch'] as const, describe: 'list the datasets, or download one' })
      .positional('name', { type: 'string', describe: 'dataset to fetch (see `temper data list`)' })
      .option('data-dir', { type: 'string', describe: DATA_DIR_HELP }) as unknown as Argv<DataArgs>,
  handler: async (args: ArgumentsCamelCase<DataArgs>) => {
    const context = { dataDir: args.dataDir ? resolve(args.dataDir) : defaultDataDir() };
    if (args.action === 'list') list(context);
    else await fetch(args.name, context);
  },
};
