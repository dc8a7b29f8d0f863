// Where a sweep folder stands: each job of its config is done, failed, running (live lock) or pending.
import type { ExperimentConfig } from '../config/schema.js';
import { expandGrid } from '../config/grid.js';
import type { Job } from '../types.js';
import { readRecords } from './store.js';
import { inspectLock, lockPath, type LockInfo, type LockOptions } from './lock.js';
import { selectShard, type Shard } from './shard.js';
import { latestPerModel, modelKey, setupsOf } from '../report/models.js';
import { describeSweepPoint } from '../config/sweep.js';

export type JobState = 'done' | 'failed' | 'running' | 'pending';

export interface JobStatus {
  job: Job;
  state: JobState;
  failureReason?: string;
  /** Who holds the job's lock: the live holder of a running job, or the dead one of a pending job's stale lock. */
  holder?: LockInfo;
  /** The lock of a pending job whose holder is gone; the next `temper run` takes it over. */
  staleLock?: boolean;
}

export interface SweepStatus {
  outDir: string;
  total: number;
  counts: Record<JobState, number>;
  /** In grid order. */
  jobs: JobStatus[];
  /** Records in runs/ that belong to no job of this config's grid (an earlier config, or merged in). */
  otherRecords: number;
  /**
   * The setups the folder's views show (models with other training, data or eval settings are kept apart), oldest
   * first, and whether this config's finished jobs are in each; one entry with setup "" when all share one.
   */
  setups: Array<{ setup: string; models: number; ok: number; failed: number; thisConfig: boolean }>;
  /** The config's jobs by sweep combination (`training.labelSmoothing=0.1`), in grid order; empty without a sweep. */
  sweep: Array<{ combination: string; total: number; counts: Record<JobState, number> }>;
  /** Record files that could not be read. */
  problems: string[];
}

/** The state of every job of `config` (or of its shard) in `outDir`; a finished record wins over a lock. */
export function sweepStatus(outDir: string, config: ExperimentConfig, options: LockOptions & { shard?: Shard }): SweepStatus {
  const grid = expandGrid(config);
  const jobs = options.shard ? selectShard(grid, options.shard) : grid;
  const stored = readRecords(outDir);
  const records = new Map(stored.records.map((record) => [record.runId, record]));
  const statuses = jobs.map((job): JobStatus => {
    const record = records.get(job.runId);
    if (record?.status === 'ok') return { job, state: 'done' };
    if (record) return { job, state: 'failed', failureReason: record.failureReason ?? 'no reason recorded' };
    const lock = inspectLock(lockPath(outDir, job.runId), options);
    if (!lock) return { job, state: 'pending' };
    if (!lock.stale) return { job, state: 'running', holder: lock.holder };
    return { job, state: 'pending', staleLock: true, holder: lock.holder };
  });
  const counts: Record<JobState, number> = { done: 0, failed: 0, running: 0, pending: 0 };
  for (const { state } of statuses) counts[state] += 1;
  const ids = new Set(grid.map((job) => job.runId));
  // A model of this config: one of its jobs' trained models under its eval settings (attacks may have been added since).
  const mine = new Set(jobs.map((job) => modelKey(job)));
  // Computed as the views compute them, so status names the same setups as the tables.
  const setups = setupsOf(latestPerModel(stored.records)).map(({ setup, records: models }) => ({
    setup,
    models: models.length,
    ok: models.filter((record) => record.status === 'ok').length,
    failed: models.filter((record) => record.status === 'failed').length,
    thisConfig: models.some((record) => mine.has(modelKey(record.job))),
  }));
  const sweep = new Map<string, { combination: string; total: number; counts: Record<JobState, number> }>();
  for (const { job, state } of config.sweep ? statuses : []) {
    const combination = describeSweepPoint(job.sweep ?? {});
    const group = sweep.get(combination) ?? { combination, total: 0, counts: { done: 0, failed: 0, running: 0, pending: 0 } };
    group.total += 1;
    group.counts[state] += 1;
    sweep.set(combination, group);
  }
  return {
    outDir,
    total: jobs.length,
    counts,
    jobs: statuses,
    otherRecords: stored.records.filter((record) => !ids.has(record.runId)).length,
    setups,
    sweep: [...sweep.values()],
    problems: stored.problems,
  };
}
