// The `temper` command line: parse, dispatch to a command module, map errors to exit codes.
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../config/errors.js';
import { BackendError, whatAutoPicks } from '../backend/index.js';
import { DataError } from '../data/types.js';
import { UsageError, EXIT_USAGE, EXIT_JOBS_FAILED } from './errors.js';
import { COMMANDS, CommandLineRejected, temperCli } from './parser.js';
import { commandSpec, diagnose } from './mistakes.js';
import { helpWidth } from './help.js';

function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof BackendError || error instanceof DataError) {
    process.stderr.write(`temper: ${error.message}\n`);
    process.exit(error instanceof UsageError ? error.exitCode : EXIT_USAGE);
  }
  process.stderr.write(`temper: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(EXIT_JOBS_FAILED);
}

/** Each mistake on its own line with what to do; yargs' message where none is recognised. Exit 2, nothing written. */
async function rejected(args: string[], error: CommandLineRejected): Promise<never> {
  const note = async (flag: string) => {
    if (flag !== 'backend') return undefined;
    const { backend, why } = await whatAutoPicks();
    return `Here auto would pick ${backend} (${why}).`;
  };
  const lines = await diagnose(args, COMMANDS.map(commandSpec), note);
  const command = COMMANDS.find((c) => args.includes(String(c.command).split(' ')[0]!));
  const help = `temper${command ? ` ${String(command.command).split(' ')[0]}` : ''} --help`;
  const text = lines.length > 0 ? lines : [`${error.message} (${help} lists what it takes)`];
  process.stderr.write(text.map((line) => `temper: ${line}\n`).join(''));
  process.exit(EXIT_USAGE);
}

// `temper data list | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const args = hideBin(process.argv);
try {
  await temperCli(helpWidth(process.stdout, process.env)).parseAsync(args);
} catch (error) {
  if (error instanceof CommandLineRejected) await rejected(args, error);
  fail(error);
}
