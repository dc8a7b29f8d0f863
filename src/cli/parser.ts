// The `temper` parser: every subcommand module, help wrapped to a width, and rejected command lines thrown as
// `CommandLineRejected` for main.ts to explain (see mistakes.ts).
import type { Argv } from 'yargs';
import Yargs from './yargs.cjs';
import { runCommand } from './commands/run.js';
import { validateCommand } from './commands/validate.js';
import { statusCommand } from './commands/status.js';
import { mergeCommand } from './commands/merge.js';
import { reportCommand } from './commands/report.js';
import { dataCommand } from './commands/data.js';
import { doctorCommand } from './commands/doctor.js';
import { benchCommand } from './commands/bench.js';
import { withExamples, type TemperCommand } from './help.js';
import { temperVersion } from '../runner/versions.js';

export const COMMANDS: ReadonlyArray<TemperCommand<never>> = [
  runCommand,
  validateCommand,
  statusCommand,
  mergeCommand,
  reportCommand,
  dataCommand,
  doctorCommand,
  benchCommand,
] as unknown as TemperCommand<never>[];

/** A command line yargs refused (unknown flag, missing argument, value off a list), with yargs' own message. */
export class CommandLineRejected extends Error {}

/** The parser, with help wrapped to `width` columns. */
export function temperCli(width: number): Argv {
  const cli = Yargs()
    .scriptName('temper')
    // Messages and headings in English whatever LANG says, like every other message of temper.
    .locale('en')
    .usage('$0 <command> [options]\n\nSoftmax-temperature sweeps: train at each T, attack, tabulate.');
  for (const command of COMMANDS) cli.command(command as TemperCommand<object>);
  return withExamples(cli, [
    { command: '$0 run configs/quickstart.json', note: 'the embedded MNIST sweep: train, attack, write a report' },
    { command: '$0 validate configs/quickstart.json', note: 'check a config and count its jobs' },
    { command: '$0 doctor', note: 'which backends load here, and which datasets are present' },
  ])
    .demandCommand(1)
    .strict()
    .version(temperVersion())
    .help()
    .wrap(width)
    .fail((message, error) => {
      if (error) throw error;
      throw new CommandLineRejected(message);
    });
}
