// The `temper` command line: parse, dispatch to a command module, map errors to exit codes.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCommand } from './commands/run.js';
import { validateCommand } from './commands/validate.js';
import { dataCommand } from './commands/data.js';
import { doctorCommand } from './commands/doctor.js';
import { reportCommand } from './commands/report.js';
import { benchCommand } from './commands/bench.js';
import { statusCommand } from './commands/status.js';
import { mergeCommand } from './commands/merge.js';
import { ConfigError } from '../config/errors.js';
import { BackendError } from '../backend/index.js';
import { DataError } from '../data/types.js';
import { UsageError, EXIT_USAGE, EXIT_JOBS_FAILED } from './errors.js';
import { temperVersion } from '../runner/versions.js';

function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof BackendError || error instanceof DataError) {
    process.stderr.write(`temper: ${error.message}\n`);
    process.exit(error instanceof UsageError ? error.exitCode : EXIT_USAGE);
  }
  process.stderr.write(`temper: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(EXIT_JOBS_FAILED);
}

// `temper data list | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await yargs(hideBin(process.argv))
    .scriptName('temper')
    .usage('$0 <command> [options]\n\nSoftmax-temperature sweeps: train at each T, attack, tabulate.')
    .command(runCommand)
    .command(validateCommand)
    .command(statusCommand)
    .command(mergeCommand)
    .command(reportCommand)
    .command(dataCommand)
    .command(doctorCommand)
    .command(benchCommand)
    .demandCommand(1, 'name a command: run, validate, status, merge, report, data, doctor, bench')
    .strict()
    .version(temperVersion())
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((message, error) => {
      if (error) fail(error);
      process.stderr.write(`temper: ${message}\nRun \`temper --help\` for usage.\n`);
      process.exit(EXIT_USAGE);
    })
    .parseAsync();
} catch (error) {
  fail(error);
}
