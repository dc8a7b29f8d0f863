// `temper run <config>`: validate, then train and attack every job of the grid.
import { resolve, join } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { expandGrid } from '../../config/grid.js';
import { formatSweepCost, sweepCost } from '../../attacks/cost.js';
import { shortBudgets } from '../../config/units.js';
import { BACKEND_CHOICES, type BackendChoice } from '../../backend/index.js';
import { runSweep } from '../../runner/sweep.js';
import { progressFor, jobName } from '../../runner/progress.js';
import { resolveShard, ShardError, type Shard } from '../../runner/shard.js';
import { describeHolder, lockStaleSeconds, LockSettingError } from '../../runner/lock.js';
import { reportFileList, summaryText } from '../../report/index.js';
import { registeredNames } from '../names.js';
import { EXIT_JOBS_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, UsageError } from '../errors.js';

interface RunArgs {
  dataDir?: string;
  config: string;
  out?: string;
  backend: BackendChoice;
  set: string[];
  shard?: string;
  shards?: string;
  jobs: number;
  force: boolean;
  retryFailed: boolean;
  json: boolean;
  quiet: boolean;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <config>',
  describe: 'Train every model of the grid, attack it, and write records, runs.csv, tables, summary.md, plots and index.html',
  builder: (yargs: Argv) =>
    yargs
      .positional('config', { type: 'string', demandOption: true, describe: 'config file (.json, .jsonc, .yaml)' })
      .option('out', { type: 'string', describe: 'output folder (default results/<name>)' })
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: 'tfjs backend' })
      .option('data-dir', { type: 'string', describe: 'folder of downloaded datasets (default: TEMPER_DATA_DIR or ~/.cache/temper/data)' })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a config key, e.g. --set training.epochs=1' })
      .option('shard', { type: 'string', describe: 'run slice I of N of the grid (1-based, e.g. 2/3); default from SLURM_ARRAY_TASK_ID/_COUNT' })
      .option('shards', { type: 'string', describe: 'shard count N with JOB_COMPLETION_INDEX (Kubernetes indexed Jobs)' })
      .option('jobs', { type: 'number', default: 1, describe: 'run jobs in N processes at once, each with its own backend (results are the same as with 1)' })
      .option('force', { type: 'boolean', default: false, describe: 'rerun finished runs too' })
      .option('retry-failed', { type: 'boolean', default: false, describe: 'rerun runs that failed' })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary on stdout' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
      .example('$0 run configs/quickstart.json', 'the embedded MNIST sweep')
      .example('$0 run configs/quickstart.json --set training.epochs=1 --set temperatures=[1,100]', 'a quicker variant')
      .example('$0 run configs/quickstart.json --jobs 2', 'two jobs at a time, one per core')
      .example('$0 run configs/quickstart.json --shard 2/3 --out results/qs-2', 'the second of three slices (then temper merge)') as unknown as Argv<RunArgs>,
  handler: async (args: ArgumentsCamelCase<RunArgs>) => {
    if (!Number.isInteger(args.jobs) || args.jobs < 1) throw new UsageError(`--jobs: expected a whole number of processes >= 1, found ${args.jobs}`);
    const config = loadConfig(args.config, { overrides: args.set, names: registeredNames() });
    const { shard, staleSeconds } = scaleOutSettings(args);
    const outDir = resolve(args.out ?? join('results', config.name));
    const progress = progressFor({ quiet: args.quiet || args.json });
    if (!args.quiet && !args.json) {
      const jobs = expandGrid(config).length;
      process.stderr.write(`${jobs} jobs in the grid; ${formatSweepCost(sweepCost(config, jobs))[0]}\n`);
      for (const line of shortBudgets(config)) process.stderr.write(`warning: ${line}\n`);
    }
    let signal: NodeJS.Signals | undefined;
    const stop = (name: NodeJS.Signals) => {
      if (signal) process.exit(name === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM);
      signal = name;
      process.stderr.write(`\n${name}: stopping after saving finished runs (press again to quit at once)\n`);
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
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({
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
          failures: result.records.filter((r) => r.status === 'failed').map((r) => ({ runId: r.runId, reason: r.failureReason })),
        }, null, 2)}\n`,
      );
    } else if (!args.quiet) {
      process.stdout.write(`\n${summaryText(result.records)}\n`);
      process.stdout.write(`runs: ${result.ok} ok, ${result.failed} failed, ${result.skipped} skipped as already done\n`);
      process.stdout.write(reportFileList(result.report).map((path) => `wrote ${path}\n`).join(''));
    }
    for (const problem of result.problems) process.stderr.write(`warning: ${problem}\n`);
    const elsewhere = result.runningElsewhere;
    if (elsewhere.length > 0) {
      const lines = elsewhere.map(({ job, holder }) => `  ${jobName(job)} (run ${job.runId}): ${describeHolder(holder)}`);
      const count = elsewhere.length === 1 ? '1 job is' : `${elsewhere.length} jobs are`;
      process.stderr.write(`${count} running in another process (not failures; see temper status ${result.outDir}):\n${lines.join('\n')}\n`);
    }
    if (result.interrupted) {
      process.stderr.write(`interrupted: ${result.ok + result.failed} of ${result.total} runs saved; resume with the same command\n`);
      process.exitCode = signal === 'SIGTERM' ? EXIT_SIGTERM : EXIT_SIGINT;
      return;
    }
    process.exitCode = result.failed > 0 ? EXIT_JOBS_FAILED : EXIT_OK;
  },
};

// Checked before anything is written, so a bad shard or setting exits 2 with an empty --out.
function scaleOutSettings(args: RunArgs): { shard?: Shard; staleSeconds: number } {
  try {
    return { shard: resolveShard(args.shard, args.shards, process.env), staleSeconds: lockStaleSeconds(process.env) };
  } catch (error) {
    if (error instanceof ShardError || error instanceof LockSettingError) throw new UsageError(error.message);
    throw error;
  }
}
