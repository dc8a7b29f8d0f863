// `temper status <dir>`: how far the sweep in a results folder got: done, failed, running, pending.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { sweepStatus, type JobStatus } from '../../runner/status.js';
import { describeHolder, lockStaleSeconds, LockSettingError } from '../../runner/lock.js';
import { parseShard, ShardError } from '../../runner/shard.js';
import { jobName } from '../../runner/progress.js';
import { registeredNames } from '../names.js';
import { UsageError } from '../errors.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';
import { plural } from '../../util/text.js';

interface StatusArgs {
  dir: string;
  shard?: string;
  json: boolean;
}

const examples: Example[] = [
  { command: '$0 status results/quickstart', note: 'how far the quickstart sweep got' },
  { command: '$0 status results/qs-2 --shard 2/3', note: 'the folder of the second of three shards' },
];

export const statusCommand: TemperCommand<StatusArgs> = {
  command: 'status <dir>',
  examples,
  describe: 'Show which jobs of a results folder are done, failed, running in some process, or pending',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('dir', { type: 'string', describe: 'the --out folder of temper run' })
      .option('shard', { type: 'string', describe: 'only the jobs of shard I/N (for the folder of a sharded run)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the status as JSON' }) as unknown as Argv<StatusArgs>,
  handler: (args: ArgumentsCamelCase<StatusArgs>) => {
    const configPath = join(args.dir, 'config.json');
    if (!existsSync(configPath)) {
      throw new UsageError(`${args.dir}: expected a results folder with the config.json every temper run writes, found no ${configPath}`);
    }
    const config = loadConfig(configPath, { names: registeredNames() });
    let options;
    try {
      options = { staleSeconds: lockStaleSeconds(process.env), shard: args.shard === undefined ? undefined : parseShard(args.shard) };
    } catch (error) {
      if (error instanceof LockSettingError || error instanceof ShardError) throw new UsageError(error.message);
      throw error;
    }
    const status = sweepStatus(args.dir, config, options);
    const { done, failed, running, pending } = status.counts;
    if (args.json) {
      const jobs = status.jobs.map(({ job, ...rest }) => ({ runId: job.runId, index: job.index, job: jobName(job), ...(job.sweep ? { sweep: job.sweep } : {}), ...rest }));
      const summary = { outDir: args.dir, shard: options.shard ?? null, total: status.total, done, failed, running, pending, jobs, otherRecords: status.otherRecords, setups: status.setups, sweep: status.sweep, problems: status.problems };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    const scope = options.shard ? ` (shard ${options.shard.index}/${options.shard.count})` : '';
    const lines = [`${args.dir}${scope}: ${plural(status.total, 'job')}: ${done} done, ${failed} failed, ${running} running, ${pending} pending`];
    // A sweep's combinations, one line each, before the jobs that are not done (whose names carry their values).
    if (status.sweep.length > 0) {
      const width = Math.max(...status.sweep.map(({ combination }) => combination.length));
      lines.push(`by sweep combination:`);
      lines.push(...status.sweep.map(({ combination, total, counts: c }) => `  ${combination.padEnd(width)}  ${plural(total, 'job')}: ${c.done} done, ${c.failed} failed, ${c.running} running, ${c.pending} pending`));
    }
    lines.push(...status.jobs.filter((entry) => entry.state !== 'done').map(statusLine));
    if (status.otherRecords > 0) {
      const records = `${plural(status.otherRecords, 'record')} in runs/ ${status.otherRecords === 1 ? 'belongs' : 'belong'}`;
      lines.push(`${records} to no job of config.json (an earlier config?)`);
    }
    // The views (tables, summary.md, index.html) cover every record and keep setups apart; say which rows are which.
    // Setups that are exactly this config's sweep combinations were listed just above.
    const onlySweep = status.sweep.length > 0 && status.setups.length === status.sweep.length && status.setups.every((setup) => setup.thisConfig);
    if (status.setups.length > 1 && !onlySweep) {
      lines.push(`the tables keep ${status.setups.length} setups apart (models trained or evaluated with other settings):`);
      lines.push(...status.setups.map(({ setup, models, failed: failedModels, thisConfig }) => `  ${setup}: ${plural(models, 'model')}${failedModels > 0 ? ` (${failedModels} failed)` : ''}${thisConfig ? ', config.json' : ''}`));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    for (const problem of status.problems) process.stderr.write(`warning: ${problem}\n`);
  },
};

function statusLine({ job, state, failureReason, holder, staleLock }: JobStatus): string {
  const head = `  ${state.padEnd(7)}  ${jobName(job)} (run ${job.runId})`;
  if (state === 'failed') return `${head}: ${failureReason}`;
  if (state === 'running') return `${head}: ${describeHolder(holder)}`;
  return staleLock ? `${head}: stale lock (${describeHolder(holder)}); the next temper run takes it over` : head;
}
