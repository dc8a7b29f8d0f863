// A sweep: expand the grid (or one shard of it), skip finished runs, claim and run the rest one by one, then
// rebuild the views. Several sweeps may share a folder: a job's lock keeps it to one process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_ONLY_CORRUPTIONS, type ExperimentConfig } from '../config/schema.js';
import { CORRUPTION_FOLDERS, findCorruptionFile } from '../corruptions/index.js';
import { expandGrid } from '../config/grid.js';
import { initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import { wasmThreadsForJobs } from '../backend/wasm-threads.js';
import { defaultDataDir, loadDataset, type Dataset } from '../data/index.js';
import { DataError } from '../data/types.js';
import type { Job, RunRecord } from '../types.js';
import { runJob } from './job.js';
import { readRecords, recordPath, writeRecord } from './store.js';
import { selectShard, type Shard } from './shard.js';
import { claimLock, clearStaleLock, DEFAULT_LOCK_STALE_SECONDS, describeHolder, releaseLock, removeOrphanTempFiles, type LockInfo } from './lock.js';
import { writeReport, type ReportFiles } from '../report/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { plural } from '../util/text.js';
import { InterruptedError } from '../train/train.js';
import { jobName, type ProgressSink } from './progress.js';
import { heldByPool, startWorkers } from './workers.js';

export interface SweepOptions {
  outDir: string;
  backend: BackendChoice;
  /** Rerun every job, even finished ones. */
  force?: boolean;
  /** Rerun jobs whose record says failed. */
  retryFailed?: boolean;
  progress: ProgressSink;
  /** Polled between training steps and attack batches; true stops the sweep after saving what is done. */
  shouldStop?: () => boolean;
  /** Run only this slice of the grid. */
  shard?: Shard;
  /** Folder of downloaded datasets (default: TEMPER_DATA_DIR or the user's cache). */
  dataDir?: string;
  /** Age after which another host's lock is taken over (default 6 hours). */
  lockStaleSeconds?: number;
  /** Processes that run jobs at once (`--jobs`): this one plus jobs - 1 workers, each with its own backend. Default 1. */
  jobs?: number;
  /** Threads of each process's wasm backend; default: TEMPER_WASM_THREADS, else the cores shared out between the jobs. */
  wasmThreads?: number;
  /** Records as they were when the sweep began, instead of reading them now (a worker gets its main process's). */
  baseline?: RunRecord[];
  /** Rebuild runs.csv, tables, summary and plots at the end (default true; workers leave it to the main process). */
  writeViews?: boolean;
}

export interface SweepResult {
  outDir: string;
  backend: BackendInfo;
  shard?: Shard;
  /** Jobs of this sweep: the whole grid, or the shard's slice of it. */
  total: number;
  ran: number;
  /** Run ids of the jobs this process ran itself (not its workers). */
  ranIds: string[];
  /** Finished before this sweep reached them (earlier, or by another process meanwhile). */
  skipped: number;
  /** Jobs left to another live process that holds their lock and had not finished them when this sweep ended. */
  runningElsewhere: Array<{ job: Job; holder?: LockInfo }>;
  ok: number;
  failed: number;
  interrupted: boolean;
  /** The records of this config's jobs, in grid order (finished ones only). */
  records: RunRecord[];
  /**
   * Every record in the folder when the views were written, this config's and any other's: what runs.csv, the
   * tables, summary.md and the printed summary are derived from (one folder, one truth).
   */
  viewRecords: RunRecord[];
  /** Every view rebuilt from the records: runs.csv, tables, summary.md, plots, index.html (empty when writeViews is false). */
  report: ReportFiles;
  /** Worker processes started for `--jobs` (0 without). */
  workers: number;
  /** Record files that could not be read. */
  problems: string[];
}

export async function runSweep(config: ExperimentConfig, options: SweepOptions): Promise<SweepResult> {
  const { outDir, progress, shard } = options;
  const grid = expandGrid(config);
  const jobs = shard ? selectShard(grid, shard) : grid;
  const lockOptions = { staleSeconds: options.lockStaleSeconds ?? DEFAULT_LOCK_STALE_SECONDS };
  // With --jobs the processes share the cores: each wasm backend gets its share of threads, not all of them.
  const wasmThreads = options.wasmThreads ?? wasmThreadsForJobs(options.jobs ?? 1);
  const backend = await initBackend(options.backend, { wasmThreads });
  const baseline = options.baseline ?? readRecords(outDir).records;
  const initial = new Map(baseline.map((record) => [record.runId, record]));
  const toRun = jobs.filter((job) => {
    const record = initial.get(job.runId);
    if (!record || options.force) return true;
    return record.status === 'failed' && options.retryFailed === true;
  });
  // A finished record wins over a lock: a holder that died after writing it left the lock behind.
  const queued = new Set(toRun);
  // Load every dataset the sweep needs before writing anything: a missing file stops it with nothing half-written.
  const dataContext = { dataDir: options.dataDir ?? defaultDataDir(), log: (line: string) => progress.message(line) };
  const datasets = new Map<string, Dataset>();
  for (const name of new Set(toRun.map((job) => job.dataset))) {
    try {
      datasets.set(name, await loadDataset(name, dataContext));
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw new DataError(`dataset "${name}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  // Corruption files the config insists on must be there too, before any model is trained for nothing.
  for (const dataset of datasets.values()) {
    const missing = requiredCorruptionFilesMissing(config, dataset.name, dataContext.dataDir);
    if (missing.length > 0) {
      const folder = CORRUPTION_FOLDERS[dataset.name];
      const where = folder
        ? `no ${missing.map((type) => `${type}.npy`).join(', ')} in ${join(dataContext.dataDir, folder)}; place the published ${folder} files there`
        : `published corruption files exist only for ${Object.keys(CORRUPTION_FOLDERS).join(', ')}`;
      throw new DataError(`corruptions for ${dataset.name}: ${where}, or use source "generated" (without frost)`);
    }
  }
  for (const job of jobs) if (initial.has(job.runId) && !queued.has(job)) clearStaleLock(outDir, job.runId, lockOptions);
  removeOrphanTempFiles(outDir);
  writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  progress.message(`backend: ${backend.name} (${backend.reason})`);
  if (shard) progress.message(`shard ${shard.index}/${shard.count} (from ${shard.source}): ${jobs.length} of ${plural(grid.length, 'job')}`);
  progress.sweepStart({ total: jobs.length, toRun: toRun.length, skipped: jobs.length - toRun.length, outDir, backend: backend.name });
  const workerCount = Math.max(0, Math.min((options.jobs ?? 1) - 1, toRun.length - 1));
  const pool =
    workerCount > 0
      ? startWorkers(
          workerCount,
          config,
          {
            outDir,
            backend: options.backend,
            wasmThreads,
            ...(options.force !== undefined ? { force: options.force } : {}),
            ...(options.retryFailed !== undefined ? { retryFailed: options.retryFailed } : {}),
            ...(shard ? { shard } : {}),
            dataDir: dataContext.dataDir,
            lockStaleSeconds: lockOptions.staleSeconds,
            baseline,
          },
          { onMessage: (text) => progress.message(text), onJobEnd: (record, worker) => progress.jobEnd(record, worker) },
        )
      : undefined;
  if (pool) progress.message(`--jobs ${workerCount + 1}: ${plural(workerCount, 'worker process', 'worker processes')} (pids ${pool.pids.join(', ')}) share the jobs`);

  let ran = 0;
  const ranIds: string[] = [];
  // Jobs found finished by the time this process claimed them (by our own workers, or by another process).
  const finishedElsewhere = new Set<string>();
  let interrupted = false;
  const heldElsewhere: Array<{ job: Job; holder?: LockInfo }> = [];
  for (const [position, job] of toRun.entries()) {
    if (options.shouldStop?.()) {
      interrupted = true;
      break;
    }
    const claim = claimLock(outDir, job.runId, lockOptions);
    if (!claim.claimed) {
      heldElsewhere.push({ job, holder: claim.holder });
      if (!pool || !heldByPool(claim.holder, pool.pids)) {
        progress.message(`${jobName(job)}: running in another process (${describeHolder(claim.holder)}); left to it`);
      }
      continue;
    }
    try {
      // Another process may have finished it between our first look at the records and our claim.
      if (finishedSince(outDir, job.runId, initial.get(job.runId))) {
        finishedElsewhere.add(job.runId);
        continue;
      }
      progress.jobStart(job, position + 1, toRun.length);
      const dataset = datasets.get(job.dataset)!;
      const record = await runJob(
        job,
        dataset,
        backend.name,
        {
          shouldStop: options.shouldStop,
          onStep: (info) => progress.step(info),
          onEpoch: (info) => progress.epoch(info),
          onAttack: (info) => progress.attack(info),
          onAttackProgress: (info) => progress.attackProgress(info),
          onResult: (result) => progress.attackResult(result),
          onMessage: (text) => progress.message(text),
        },
        { checkpointDir: join(outDir, 'checkpoints'), retrain: options.force, dataDir: dataContext.dataDir },
      );
      writeRecord(outDir, record);
      ran += 1;
      ranIds.push(job.runId);
      progress.jobEnd(record);
    } catch (error) {
      if (!(error instanceof InterruptedError)) throw error;
      interrupted = true;
      break;
    } finally {
      releaseLock(claim.lock);
    }
  }
  if (pool) {
    // Our own workers finish their jobs (or stop with us) before the views are written.
    if (interrupted) pool.stop();
    const watch = setInterval(() => {
      if (options.shouldStop?.()) {
        interrupted = true;
        pool.stop();
      }
    }, 200);
    try {
      const byWorkers = await pool.done;
      ran += byWorkers.length;
      // What our workers ran was run by this sweep, not skipped.
      for (const runId of byWorkers) finishedElsewhere.delete(runId);
    } finally {
      clearInterval(watch);
    }
  }
  progress.sweepEnd();

  const { stored, report } = options.writeViews === false ? { stored: readRecords(outDir), report: NO_VIEWS } : await rebuildViews(outDir);
  const onDisk = new Map(stored.records.map((record) => [record.runId, record]));
  const records = jobs.map((job) => onDisk.get(job.runId)).filter((record): record is RunRecord => record !== undefined);
  const runningElsewhere = heldElsewhere.filter(({ job }) => onDisk.get(job.runId)?.finishedAt === initial.get(job.runId)?.finishedAt);
  return {
    outDir,
    backend,
    shard,
    total: jobs.length,
    ran,
    ranIds,
    skipped: jobs.length - toRun.length + finishedElsewhere.size,
    runningElsewhere,
    ok: records.filter((record) => record.status === 'ok').length,
    failed: records.filter((record) => record.status === 'failed').length,
    interrupted,
    records,
    viewRecords: stored.records,
    report,
    problems: stored.problems,
    workers: workerCount,
  };
}

const NO_VIEWS: ReportFiles = { runsCsv: '', tables: [], summary: '', plots: [], html: '' };

// Records written by another process while we wrote the views would be missing from them: rebuild until none were.
async function rebuildViews(outDir: string) {
  let stored = readRecords(outDir);
  let report = await writeReport(outDir, stored.records);
  for (;;) {
    const again = readRecords(outDir);
    if (recordsKey(again.records) === recordsKey(stored.records)) return { stored, report };
    stored = again;
    report = await writeReport(outDir, stored.records);
  }
}

function recordsKey(records: RunRecord[]): string {
  return records.map((record) => `${record.runId}@${record.finishedAt}`).join('\n');
}

// True when the job's record on disk is not the one this sweep started from (absent then, or since replaced).
function finishedSince(outDir: string, runId: string, before: RunRecord | undefined): boolean {
  try {
    return (JSON.parse(readFileSync(recordPath(outDir, runId), 'utf8')) as RunRecord).finishedAt !== before?.finishedAt;
  } catch {
    // No record, or an unreadable one: the job still needs running.
    return false;
  }
}

/** Corruption types whose published file must be read (source "files", or frost) and is not in the data folder. */
function requiredCorruptionFilesMissing(config: ExperimentConfig, dataset: string, dataDir: string): string[] {
  const corruptions = config.corruptions;
  if (!corruptions) return [];
  const required = corruptions.types.filter((type) => corruptions.source === 'files' || (FILE_ONLY_CORRUPTIONS as readonly string[]).includes(type));
  return required.filter((type) => findCorruptionFile(dataset, dataDir, type) === undefined);
}
