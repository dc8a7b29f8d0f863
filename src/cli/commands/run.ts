// `temper run <config>`: validate, then train and attack every job of the grid.
import { resolve, join } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { expandGrid } from '../../config/grid.js';
import { configClasses, formatSweepCost, sweepCost } from '../../attacks/cost.js';
import { shortBudgets } from '../../config/units.js';
import { BACKEND_CHOICES, type BackendChoice } from '../../backend/index.js';
import { wasmThreadCount } from '../../backend/wasm-threads.js';
import { runSweep, type SweepResult } from '../../runner/sweep.js';
import { progressFor, jobName } from '../../runner/progress.js';
import { resolveShard, ShardError, type Shard } from '../../runner/shard.js';
import { describeHolder, lockStaleSeconds, LockSettingError } from '../../runner/lock.js';
import { folderSettings, reportFileList, resultsSummary, summaryText } from '../../report/index.js';
import { registeredNames } from '../names.js';
import { EXIT_JOBS_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, UsageError } from '../errors.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';
import { DATA_DIR_HELP } from './data.js';
import { plural } from '../../util/text.js';

interface RunArgs {
  dataDir?: string;
  config: string;
  out?: string;
  backend: BackendChoice;
  set?: string[];
  shard?: string;
  shards?: string;
  jobs: number;
  force: boolean;
  retryFailed: boolean;
  json: boolean;
  quiet: boolean;
}

const examples: Example[] = [
  { command: '$0 run configs/quickstart.json', note: 'the embedded MNIST sweep' },
  { command: '$0 run configs/quickstart.json --set training.epochs=1', note: 'one epoch per model: a quicker variant' },
  { command: "$0 run configs/quickstart.json --set 'temperatures=[1,100]'", note: '--set values are YAML: a list in brackets' },
  { command: "$0 run configs/quickstart.json --set 'attacks[1].steps=100'", note: 'a key of the second attack (lists count from 0)' },
  { command: '$0 run configs/quickstart.json --jobs 2', note: 'two jobs at a time, one per core' },
  { command: '$0 run configs/quickstart.json --shard 2/3 --out results/qs-2', note: 'the second of three slices (then temper merge)' },
];

export const runCommand: TemperCommand<RunArgs> = {
  command: 'run <config>',
  examples,
  describe: 'Train every model of the grid, attack it, and write records, runs.csv, tables, summary.md, plots and index.html',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('config', { type: 'string', describe: 'config file (.json, .jsonc, .yaml)' })
      .option('out', { type: 'string', describe: 'output folder (default results/<name>)' })
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: 'tfjs backend' })
      .option('data-dir', { type: 'string', describe: DATA_DIR_HELP })
      .option('set', SET_OPTION)
      .option('shard', { type: 'string', describe: 'run slice I of N of the grid (1-based, e.g. 2/3); default from SLURM_ARRAY_TASK_ID/_COUNT' })
      .option('shards', { type: 'string', describe: 'shard count N with JOB_COMPLETION_INDEX (Kubernetes indexed Jobs)' })
      .option('jobs', { type: 'number', default: 1, describe: 'run jobs in N processes at once, each with its own backend (results are the same as with 1)' })
      .option('force', { type: 'boolean', default: false, describe: 'rerun finished runs too' })
      .option('retry-failed', { type: 'boolean', default: false, describe: 'rerun runs that failed' })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary on stdout' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as unknown as Argv<RunArgs>,
  handler: async (args: ArgumentsCamelCase<RunArgs>) => {
    if (!Number.isInteger(args.jobs) || args.jobs < 1) throw new UsageError(`--jobs: expected a whole number of processes >= 1, found ${args.jobs}`);
    const config = loadConfig(args.config, { overrides: args.set ?? [], names: registeredNames() });
    const { shard, staleSeconds } = scaleOutSettings(args);
    const outDir = resolve(args.out ?? join('results', config.name));
    const quiet = args.quiet || args.json;
    const progress = progressFor({ quiet });
    // Settings read from the environment fail here, before the cost line, so a mistake prints its message alone.
    wasmThreadCount();
    if (!quiet) {
      const jobs = expandGrid(config).length;
      process.stderr.write(`${plural(jobs, 'job')} in the grid; ${formatSweepCost(sweepCost(config, jobs, configClasses(config)))[0]}\n`);
      for (const line of shortBudgets(config)) process.stderr.write(`warning: ${line}\n`);
    }
    let signal: NodeJS.Signals | undefined;
    const stop = (name: NodeJS.Signals) => {
      if (signal) process.exit(name === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM);
      signal = name;
      const notice = `${name}: stopping after saving finished runs (press again to quit at once)`;
      // Through the progress sink when there is one, so that on a terminal the line goes above the bars, not through them.
      if (quiet) process.stderr.write(`\n${notice}\n`);
      else progress.message(notice);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const result = await runSweep(config, {
      outDir,
      backend: args.backend,
      dataDir: args.dataDir ? resolve(args.dataDir) : undefined,
      force: args.force,
      retryFailed: args.retryFailed,
      shard,
      lockStaleSeconds: staleSeconds,
      jobs: args.jobs,
      progress,
      shouldStop: () => signal !== undefined,
    });
    const ids = new Set(result.records.map((record) => record.runId));
    const otherRecords = result.viewRecords.filter((record) => !ids.has(record.runId)).length;
    if (args.json) {
      process.stdout.write(`${JSON.stringify(runJson(result, otherRecords), null, 2)}\n`);
    } else if (!args.quiet) {
      // The printed tables are the folder's tables, from the same records as tables/*.csv and summary.md.
      process.stdout.write(`\n${summaryText(result.viewRecords)}\n`);
      process.stdout.write(`runs: ${result.ok} ok, ${result.failed} failed, ${result.skipped} skipped as already done\n`);
      if (otherRecords > 0) {
        process.stdout.write(
          `the tables cover every record in ${result.outDir}: ${otherRecords} of ${result.viewRecords.length} come from other configs (temper status ${result.outDir} lists the setups)\n`,
        );
      }
      process.stdout.write(reportFileList(result.report).map((path) => `wrote ${path}\n`).join(''));
    }
    for (const problem of result.problems) process.stderr.write(`warning: ${problem}\n`);
    const elsewhere = result.runningElsewhere;
    if (elsewhere.length > 0) {
      const lines = elsewhere.map(({ job, holder }) => `  ${jobName(job)} (run ${job.runId}): ${describeHolder(holder)}`);
      const count = `${plural(elsewhere.length, 'job')} ${elsewhere.length === 1 ? 'is' : 'are'}`;
      process.stderr.write(`${count} running in another process (not failures; see temper status ${result.outDir}):\n${lines.join('\n')}\n`);
    }
    if (result.interrupted) {
      process.stderr.write(`interrupted: ${result.ok + result.failed} of ${plural(result.total, 'run')} saved; resume with the same command\n`);
      process.exitCode = signal === 'SIGTERM' ? EXIT_SIGTERM : EXIT_SIGINT;
      return;
    }
    process.exitCode = result.failed > 0 ? EXIT_JOBS_FAILED : EXIT_OK;
  },
};

/**
 * The `--json` document. Counts (total, ran, skipped, ok, failed) and `failures` are this config's jobs; `results`
 * is what the views of the whole folder show (see ResultsSummary), so it agrees with tables/*.csv to the digit.
 */
function runJson(result: SweepResult, otherRecords: number) {
  return {
    outDir: result.outDir,
    backend: result.backend.name,
    shard: result.shard ?? null,
    jobs: result.workers + 1,
    total: result.total,
    ran: result.ran,
    skipped: result.skipped,
    ok: result.ok,
    failed: result.failed,
    interrupted: result.interrupted,
    runningElsewhere: result.runningElsewhere.map(({ job, holder }) => ({ runId: job.runId, job: jobName(job), holder: holder ?? null })),
    runsCsv: result.report.runsCsv,
    tables: result.report.tables,
    summary: result.report.summary,
    plots: result.report.plots,
    html: result.report.html,
    failures: result.records
      .filter((record) => record.status === 'failed')
      .map(({ runId, job, failureReason }) => ({
        runId,
        dataset: job.dataset,
        architecture: job.architecture,
        temperature: job.temperature,
        seed: job.seed,
        ...(job.sweep ? { sweep: job.sweep } : {}),
        reason: failureReason ?? 'no reason recorded',
      })),
    otherRecords,
    // The baseline of the config.json this run wrote, as summary.md used it.
    results: resultsSummary(result.viewRecords, folderSettings(result.outDir).baselineTemperature),
  };
}

/**
 * `--set KEY=VALUE`, repeatable. A string flag that repeats, not a yargs array: an array flag would also swallow the
 * words after it, so `temper run --set training.epochs=1 config.json` would lose its config file.
 */
export const SET_OPTION = {
  type: 'string',
  describe:
    'override a config key, repeatable: KEY is a path like training.epochs or attacks[1].steps (lists count from 0); ' +
    'VALUE is read as YAML: 1, true, pgd, [1,100]',
  coerce: (value: string | string[]) => [value].flat(),
} as const;

// Checked before anything is written, so a bad shard or setting exits 2 with an empty --out.
function scaleOutSettings(args: RunArgs): { shard?: Shard; staleSeconds: number } {
  try {
    return { shard: resolveShard(args.shard, args.shards, process.env), staleSeconds: lockStaleSeconds(process.env) };
  } catch (error) {
    if (error instanceof ShardError || error instanceof LockSettingError) throw new UsageError(error.message);
    throw error;
  }
}
