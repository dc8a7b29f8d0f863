// `temper data list`: the registered datasets, where they come from, and whether they are here.
import type { Argv, CommandModule } from 'yargs';
import { listDatasets } from '../../data/index.js';

export const dataCommand: CommandModule = {
  command: 'data <action>',
  describe: 'Datasets: `temper data list`',
  builder: (yargs: Argv) => yargs.positional('action', { choices: ['list'] as const, describe: 'what to do' }).example('$0 data list', ''),
  handler: () => {
    for (const spec of listDatasets()) {
      process.stdout.write(`${spec.name.padEnd(12)} ${spec.present() ? 'present' : 'missing'}  ${spec.description}\n${' '.repeat(22)}${spec.source}\n`);
    }
  },
};
