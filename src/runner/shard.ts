// Shards: a deterministic round-robin slice of the grid, from `--shard I/N` or a cluster's array index.
import type { Job } from '../types.js';

/** Shard `index` of `count`, 1-based like jest's and playwright's `--shard=1/3`; `source` says where it came from. */
export interface Shard {
  index: number;
  count: number;
  source: string;
}

/** A shard setting that cannot be used; the command line turns it into a usage error (exit 2). */
export class ShardError extends Error {
  override readonly name = 'ShardError';
}

const SHARD_TEXT = /^\s*(\d+)\s*\/\s*(\d+)\s*$/;

/** `"2/3"` → shard 2 of 3; anything but whole numbers with 1 <= I <= N is an error that shows what was found. */
export function parseShard(text: string, source = `--shard ${text}`): Shard {
  const match = SHARD_TEXT.exec(text);
  if (!match) throw new ShardError(`${source}: expected I/N with whole numbers 1 <= I <= N (e.g. 2/3), found ${JSON.stringify(text)}`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1) throw new ShardError(`${source}: expected a shard count N >= 1, found ${count}`);
  if (index < 1 || index > count) {
    throw new ShardError(`${source}: expected a shard index from 1 to ${count} (shards are numbered from 1), found ${index}`);
  }
  return { index, count, source };
}

/**
 * The shard a cluster assigned through the environment, or undefined outside one:
 * Slurm job arrays (`SLURM_ARRAY_TASK_ID` - `SLURM_ARRAY_TASK_MIN`, divided by `SLURM_ARRAY_TASK_STEP`, of
 * `SLURM_ARRAY_TASK_COUNT`), or Kubernetes indexed Jobs (0-based `JOB_COMPLETION_INDEX` of `--shards N`).
 */
export function shardFromEnv(env: NodeJS.ProcessEnv, shardsFlag?: string): Shard | undefined {
  const shards = shardsFlag === undefined ? undefined : wholeNumber(shardsFlag, '--shards', 1);
  const slurmId = env.SLURM_ARRAY_TASK_ID;
  if (slurmId !== undefined && slurmId !== '') {
    const id = wholeNumber(slurmId, 'SLURM_ARRAY_TASK_ID', 0);
    const countText = env.SLURM_ARRAY_TASK_COUNT;
    if (countText === undefined || countText === '') {
      throw new ShardError(
        `SLURM_ARRAY_TASK_ID is ${id} but SLURM_ARRAY_TASK_COUNT is not set; expected both (Slurm sets them for job arrays), or pass --shard I/N`,
      );
    }
    const count = wholeNumber(countText, 'SLURM_ARRAY_TASK_COUNT', 1);
    const min = env.SLURM_ARRAY_TASK_MIN ? wholeNumber(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN', 0) : 0;
    const step = env.SLURM_ARRAY_TASK_STEP ? wholeNumber(env.SLURM_ARRAY_TASK_STEP, 'SLURM_ARRAY_TASK_STEP', 1) : 1;
    const source = `SLURM_ARRAY_TASK_ID=${id} (MIN ${min}, COUNT ${count}${step === 1 ? '' : `, STEP ${step}`})`;
    if (shards !== undefined && shards !== count) {
      throw new ShardError(`${source}: --shards ${shards} disagrees with SLURM_ARRAY_TASK_COUNT=${count}; drop --shards or make them equal`);
    }
    if ((id - min) % step !== 0) throw new ShardError(`${source}: expected an id of the form MIN + k * STEP, found ${id}`);
    const last = min + (count - 1) * step;
    return checkedShard((id - min) / step + 1, count, source, `${source}: expected an id from ${min} to ${last}, found ${id}`);
  }
  const completionIndex = env.JOB_COMPLETION_INDEX;
  if (completionIndex !== undefined && completionIndex !== '') {
    const index = wholeNumber(completionIndex, 'JOB_COMPLETION_INDEX', 0);
    if (shards === undefined) {
      throw new ShardError(
        `JOB_COMPLETION_INDEX is ${index} but --shards is missing; expected --shards N with N the Job's completions (e.g. --shards 4)`,
      );
    }
    const source = `JOB_COMPLETION_INDEX=${index} of --shards ${shards}`;
    return checkedShard(index + 1, shards, source, `${source}: expected an index from 0 to ${shards - 1} (0-based), found ${index}`);
  }
  if (shards !== undefined) {
    throw new ShardError(`--shards ${shards}: expected JOB_COMPLETION_INDEX in the environment (Kubernetes indexed Jobs); elsewhere use --shard I/N`);
  }
  return undefined;
}

/** `--shard` wins over the environment; `--shards`, when also given, must agree with its N. */
export function resolveShard(shardFlag: string | undefined, shardsFlag: string | undefined, env: NodeJS.ProcessEnv): Shard | undefined {
  if (shardFlag === undefined) return shardFromEnv(env, shardsFlag);
  const shard = parseShard(shardFlag);
  if (shardsFlag !== undefined && wholeNumber(shardsFlag, '--shards', 1) !== shard.count) {
    throw new ShardError(`--shards ${shardsFlag} disagrees with --shard ${shardFlag}; give one of them`);
  }
  return shard;
}

/** Job k (0-based grid index) belongs to shard (k mod N) + 1, so every shard gets a spread of the grid. */
export function selectShard(jobs: Job[], shard: Shard): Job[] {
  return jobs.filter((job) => job.index % shard.count === shard.index - 1);
}

function wholeNumber(text: string, name: string, min: number): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ShardError(`${name}: expected a whole number >= ${min}, found ${JSON.stringify(text)}`);
  }
  return value;
}

function checkedShard(index: number, count: number, source: string, outOfRange: string): Shard {
  if (index < 1 || index > count) throw new ShardError(outOfRange);
  return { index, count, source };
}
