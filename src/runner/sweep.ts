// A sweep: expand the grid, skip finished runs, run the rest one by one, then rebuild the views.
import { join } from 'node:path';
import type { ExperimentConfig } from '../config/schema.js';
import { expandGrid } from '../config/grid.js';
import { initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import { loadDataset } from '../data/index.js';
import type { RunRecord } from '../types.js';
import { runJob } from './job.js';
import { readRecords, writeRecord } from './store.js';
import { writeReport } from '../report/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InterruptedError } from '../train/train.js';
import type { ProgressSink } from './progress.js';

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
}

export interface SweepResult {
  outDir: string;
  backend: BackendInfo;
  total: number;
  ran: number;
  skipped: number;
  ok: number;
  failed: number;
  interrupted: boolean;
  /** The records of this config's jobs, in grid order (finished ones only). */
  records: RunRecord[];
  runsCsv: string;
  tables: string[];
  /** Record files that could not be read. */
  problems: string[];
}

export async function runSweep(config: ExperimentConfig, options: SweepOptions): Promise<SweepResult> {
  const { outDir, progress } = options;
  const jobs = expandGrid(config);
  const backend = await initBackend(options.backend);
  const existing = new Map(readRecords(outDir).records.map((record) => [record.runId, record]));
  const toRun = jobs.filter((job) => {
    const record = existing.get(job.runId);
    if (!record || options.force) return true;
    return record.status === 'failed' && options.retryFailed === true;
  });
  writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  progress.message(`backend: ${backend.name} (${backend.reason})`);
  progress.sweepStart({ total: jobs.length, toRun: toRun.length, skipped: jobs.length - toRun.length, outDir, backend: backend.name });

  let ran = 0;
  let interrupted = false;
  for (const [position, job] of toRun.entries()) {
    if (options.shouldStop?.()) {
      interrupted = true;
      break;
    }
    progress.jobStart(job, position + 1, toRun.length);
    try {
      const dataset = await loadDataset(job.dataset);
      const record = await runJob(job, dataset, backend.name, {
        shouldStop: options.shouldStop,
        onStep: (info) => progress.step(info),
        onEpoch: (info) => progress.epoch(info),
        onAttack: (info) => progress.attack(info),
        onResult: (result) => progress.attackResult(result),
      });
      writeRecord(outDir, record);
      existing.set(record.runId, record);
      ran += 1;
      progress.jobEnd(record);
    } catch (error) {
      if (!(error instanceof InterruptedError)) throw error;
      interrupted = true;
      break;
    }
  }
  progress.sweepEnd();

  const stored = readRecords(outDir);
  const report = writeReport(outDir, stored.records);
  const records = jobs.map((job) => existing.get(job.runId)).filter((record): record is RunRecord => record !== undefined);
  return {
    outDir,
    backend,
    total: jobs.length,
    ran,
    skipped: jobs.length - toRun.length,
    ok: records.filter((record) => record.status === 'ok').length,
    failed: records.filter((record) => record.status === 'failed').length,
    interrupted,
    records,
    runsCsv: report.runsCsv,
    tables: report.tables,
    problems: stored.problems,
  };
}
