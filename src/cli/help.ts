// What `--help` shows beyond yargs' tables: examples a reader can copy, and the width help is wrapped to.
import type { Argv, CommandModule } from 'yargs';

/** A command line to copy (`$0` stands for `temper`) and what it does, in a few words. */
export interface Example {
  command: string;
  note: string;
}

/** A command module with the examples its help ends with; the first one also goes into usage-error messages. */
export type TemperCommand<T = object> = CommandModule<object, T> & { examples: Example[] };

/**
 * Examples as an epilogue: each command on a line of its own, under its note as a shell comment, so that a command is
 * never wrapped beside a description column (yargs' own example table breaks long commands across lines).
 */
export function withExamples<T>(yargs: Argv<T>, examples: readonly Example[]): Argv<T> {
  const lines = examples.flatMap(({ command, note }) => [`  # ${note}`, `  ${command}`]);
  return yargs.epilogue(['Examples:', ...lines].join('\n'));
}

/** The columns help is wrapped to: the terminal's width, else COLUMNS (as GNU tools read it), else 80 when piped. */
export function helpWidth(stdout: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number {
  if (stdout.isTTY && stdout.columns) return stdout.columns;
  const columns = Number(env['COLUMNS']);
  return Number.isInteger(columns) && columns >= 40 ? columns : 80;
}
