// `temper merge <dir> <dir> ... --out DIR`: combine shard folders into one and rebuild its views.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { mergeFolders, MergeInputError } from '../../runner/merge.js';
import { reportFileList } from '../../report/index.js';
import { EXIT_JOBS_FAILED, EXIT_OK, UsageError } from '../errors.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';
import { plural } from '../../util/text.js';

interface MergeArgs {
  dirs: string[];
  out: string;
  json: boolean;
}

const examples: Example[] = [
  { command: '$0 merge results/qs-1 results/qs-2 results/qs-3 --out results/qs', note: 'the three shards of a sweep' },
];

export const mergeCommand: TemperCommand<MergeArgs> = {
  command: 'merge <dirs..>',
  examples,
  describe: 'Combine the records of shard folders into --out and rebuild runs.csv, tables, summary, plots and index.html; exit 1 on conflicting records',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      // `default` present, even undefined, keeps yargs from showing the variadic's parse default as "[default: []]".
      .positional('dirs', { type: 'string', array: true, default: undefined, describe: 'results folders of temper run (e.g. one per shard)' })
      .option('out', { type: 'string', demandOption: true, describe: 'folder to merge into (records already there are kept)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<MergeArgs>,
  handler: async (args: ArgumentsCamelCase<MergeArgs>) => {
    const outDir = resolve(args.out);
    let result;
    try {
      result = await mergeFolders(args.dirs, outDir);
    } catch (error) {
      if (error instanceof MergeInputError) throw new UsageError(error.message);
      throw error;
    }
    const { conflicts, unreadable, warnings } = result;
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ inputs: args.dirs, ...result }, null, 2)}\n`);
    } else {
      const lines = [
        `merged ${plural(args.dirs.length, 'folder')} into ${outDir}: ${plural(result.copied, 'record')} copied, ` +
          `${plural(result.duplicates, 'duplicate')} skipped, ${plural(conflicts.length, 'conflict')}; ${plural(result.records, 'record')} in all`,
        ...reportFileList(result.report).map((path) => `wrote ${path}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    for (const problem of unreadable) process.stderr.write(`not merged (unreadable): ${problem}\n`);
    if (conflicts.length > 0) {
      const lines = conflicts.map(({ runId, kept, rejected }) => `  ${runId}: kept ${kept}; not copied ${rejected}`);
      process.stderr.write(`conflicting records (same run id, different results), first one kept:\n${lines.join('\n')}\n`);
    }
    process.exitCode = conflicts.length > 0 || unreadable.length > 0 ? EXIT_JOBS_FAILED : EXIT_OK;
  },
};
