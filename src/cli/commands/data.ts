// `temper data list`: the registered datasets, where they come from, and whether they are here.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { defaultDataDir, listDatasets } from '../../data/index.js';

interface DataArgs {
  action: 'list';
  dataDir?: string;
}

export const dataCommand: CommandModule<object, DataArgs> = {
  command: 'data <action>',
  describe: 'Datasets: `temper data list`',
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['list'] as const, describe: 'what to do' })
      .option('data-dir', { type: 'string', describe: 'folder of downloaded datasets (default: TEMPER_DATA_DIR or ~/.cache/temper/data)' })
      .example('$0 data list', '') as unknown as Argv<DataArgs>,
  handler: (args: ArgumentsCamelCase<DataArgs>) => {
    const context = { dataDir: args.dataDir ? resolve(args.dataDir) : defaultDataDir() };
    process.stdout.write(`data folder: ${context.dataDir}\n`);
    for (const spec of listDatasets()) {
      process.stdout.write(`${spec.name.padEnd(14)} ${spec.present(context) ? 'present' : 'missing'}  ${spec.description}\n${' '.repeat(24)}${spec.source}\n`);
    }
  },
};
