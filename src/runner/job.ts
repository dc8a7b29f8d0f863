// One job: build and train the seeded model at its temperature (or load its checkpoint), attack it, return its record.
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/types.js';
import type { Job, RunRecord } from '../types.js';
import { createModel } from '../models/index.js';
import { trainModel, InterruptedError, type TrainHooks } from '../train/train.js';
import { loadCheckpoint, saveCheckpoint, type TrainingSummary } from '../train/checkpoint.js';
import { evaluateModel, modelTarget, type EvalHooks, type Surrogate } from '../eval/evaluate.js';
import { auditMasking, markRows } from '../eval/masking.js';
import { trainingIdOf } from '../config/grid.js';
import type { TransferConfig } from '../config/schema.js';
import { jobName } from './progress.js';
import { versions } from './versions.js';

export type JobHooks = TrainHooks & EvalHooks & { onMessage?(text: string): void };

export interface JobOptions {
  /** Where trained models are kept, as `<checkpointDir>/<trainingId>/`; without it none are read or written. */
  checkpointDir?: string;
  /** Train even when a checkpoint exists, and replace it (`--force`). */
  retrain?: boolean;
  /** Data folder, where the published corruption files are looked for. */
  dataDir?: string;
}

export async function runJob(job: Job, dataset: Dataset, backend: string, hooks: JobHooks = {}, options: JobOptions = {}): Promise<RunRecord> {
  const startedAt = new Date();
  const started = performance.now();
  const base = { runId: job.runId, job, backend, versions: versions(), startedAt: startedAt.toISOString() };
  const checkpointPath = job.training.checkpoint && options.checkpointDir !== undefined ? join(options.checkpointDir, job.trainingId) : undefined;
  // Set when a checkpoint was reused or written, or could not be: the record says which.
  let checkpoint: RunRecord['checkpoint'];
  const checkpointProblem = (path: string, problem: string) => {
    checkpoint = { path, reused: false, problem: checkpoint?.problem === undefined ? problem : `${checkpoint.problem}; ${problem}` };
    hooks.onMessage?.(`${jobName(job)}: ${problem}`);
  };
  let model: tf.LayersModel | undefined;
  let trainSeconds = 0;
  let epochLosses: number[] = [];
  try {
    let summary: TrainingSummary | undefined;
    if (checkpointPath !== undefined && options.retrain !== true) {
      try {
        const saved = await loadCheckpoint(checkpointPath, { inputShape: dataset.imageShape, numClasses: dataset.numClasses });
        if (saved) {
          ({ model, summary } = saved);
          checkpoint = { path: checkpointPath, reused: true };
          hooks.onMessage?.(`${jobName(job)}: reusing the model trained at ${summary.finishedAt} (${checkpointPath})`);
        }
      } catch (error) {
        checkpointProblem(checkpointPath, `checkpoint ${checkpointPath} could not be loaded (${messageOf(error)}); training again`);
      }
    }
    if (!model || !summary) {
      model = createModel(job.architecture, {
        inputShape: dataset.imageShape,
        numClasses: dataset.numClasses,
        normalization: dataset.normalization,
        seed: job.seed,
      });
      const trained = await trainModel(model, dataset, job, {
        ...hooks,
        onEpoch: (progress) => {
          epochLosses = [...epochLosses, progress.meanLoss];
          hooks.onEpoch?.(progress);
        },
      });
      summary = { epochLosses: trained.epochLosses, trainSeconds: trained.trainSeconds, trainImagesPerSecond: trained.imagesPerSecond, finishedAt: new Date().toISOString() };
      // Saved before the attacks, so a sweep stopped during a long evaluation keeps the training.
      if (checkpointPath !== undefined) {
        try {
          await saveCheckpoint(checkpointPath, model, summary);
          checkpoint = { ...checkpoint, path: checkpointPath, reused: false };
        } catch (error) {
          checkpointProblem(checkpointPath, `checkpoint ${checkpointPath} could not be saved (${messageOf(error)})`);
        }
      }
    }
    // A reused checkpoint's record carries the numbers and timings of the run that trained it.
    ({ epochLosses, trainSeconds } = summary);
    const evaluated = await evaluateModel(model, dataset, job, withAttackDetail(hooks), {
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      surrogate: (source) => surrogateModel(job, source, dataset, hooks, options),
    });
    const masking = auditMasking(evaluated.attacks, { classes: dataset.numClasses, imageSize: dataset.imageShape.reduce((a, b) => a * b, 1) });
    for (const flag of masking.flags) hooks.onMessage?.(`${jobName(job)}: possible gradient masking (${flag.check}): ${flag.message}`);
    return {
      ...base,
      status: 'ok',
      cleanAccuracy: evaluated.cleanAccuracy,
      evalSamples: evaluated.samples,
      epochLosses,
      attacks: markRows(evaluated.attacks, masking),
      calibration: evaluated.calibration,
      masking,
      timings: {
        trainSeconds,
        evalSeconds: evaluated.evalSeconds,
        wallSeconds: (performance.now() - started) / 1000,
        trainImagesPerSecond: summary.trainImagesPerSecond,
      },
      ...(checkpoint ? { checkpoint } : {}),
      finishedAt: new Date().toISOString(),
    };
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    return {
      ...base,
      status: 'failed',
      failureReason: failureReason(error, backend, job),
      epochLosses,
      attacks: [],
      timings: { trainSeconds, evalSeconds: 0, wallSeconds: (performance.now() - started) / 1000 },
      ...(checkpoint ? { checkpoint } : {}),
      finishedAt: new Date().toISOString(),
    };
  } finally {
    model?.dispose();
  }
}

/**
 * The surrogate of a transfer attack: the model of the same sweep trained on the same dataset, seed and training
 * config at `source`'s architecture and temperature. Loaded from its checkpoint when one exists, else trained here (and
 * checkpointed, so the surrogate's own job reuses it).
 */
async function surrogateModel(job: Job, source: TransferConfig['source'], dataset: Dataset, hooks: JobHooks, options: JobOptions): Promise<Surrogate> {
  const parts = { dataset: job.dataset, architecture: source.architecture, temperature: source.temperature, seed: job.seed, training: job.training, data: job.data };
  const trainingId = trainingIdOf(parts);
  const sourceJob: Job = { ...job, ...parts, trainingId, runId: `surrogate-${trainingId}`, attacks: [] };
  const path = job.training.checkpoint && options.checkpointDir !== undefined ? join(options.checkpointDir, trainingId) : undefined;
  const shapes = { inputShape: dataset.imageShape, numClasses: dataset.numClasses };
  let model: tf.LayersModel | undefined;
  if (path !== undefined) {
    try {
      model = (await loadCheckpoint(path, shapes))?.model;
    } catch (error) {
      hooks.onMessage?.(`${jobName(job)}: surrogate checkpoint ${path} could not be loaded (${messageOf(error)}); training it again`);
    }
  }
  if (!model) {
    hooks.onMessage?.(`${jobName(job)}: training the transfer surrogate ${source.architecture} at T=${source.temperature}`);
    model = createModel(source.architecture, { ...shapes, normalization: dataset.normalization, seed: job.seed });
    const trained = await trainModel(model, dataset, sourceJob, { ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}) });
    if (path !== undefined) {
      const summary = { epochLosses: trained.epochLosses, trainSeconds: trained.trainSeconds, trainImagesPerSecond: trained.imagesPerSecond, finishedAt: new Date().toISOString() };
      await saveCheckpoint(path, model, summary).catch((error: unknown) => hooks.onMessage?.(`${jobName(job)}: surrogate checkpoint ${path} could not be saved (${messageOf(error)})`));
    }
  }
  const loaded = model;
  return { ...modelTarget(loaded, source.temperature), dispose: () => loaded.dispose() };
}

/**
 * ATTACK PROGRESS DETAIL, the single call site: an attack's free-text progress (AttackRun.onProgress, e.g.
 * `batch 1/2: apgd100-dlr-top9 2/4, 153 of 250 standing`) reaches the progress sink here, appended to the current
 * attack's label in `onAttack` (the job bar shows it) unless the caller handles `onAttackDetail` itself. Replace this
 * with the sink's own detail method once ProgressSink has one.
 */
function withAttackDetail(hooks: JobHooks): JobHooks {
  if (hooks.onAttackDetail || !hooks.onAttack) return hooks;
  const onAttack = hooks.onAttack;
  let current: Parameters<typeof onAttack>[0] | undefined;
  return {
    ...hooks,
    onAttack: (info) => {
      current = info;
      onAttack(info);
    },
    onAttackDetail: (detail) => {
      if (current) onAttack({ ...current, label: `${current.label} | ${detail}` });
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// The wasm heap is capped at 4 GiB; its overflow surfaces as these low-level errors, so say what to change.
const WASM_OUT_OF_MEMORY = /memory access out of bounds|Invalid typed array length|Cannot enlarge memory|Out of memory/i;

export function failureReason(error: unknown, backend: string, job: Job): string {
  const message = messageOf(error);
  if (backend !== 'wasm' || !WASM_OUT_OF_MEMORY.test(message)) return message;
  return `${message}: the wasm backend ran out of memory (its heap is capped at 4 GiB) training ${job.architecture} at batch ${job.training.batchSize}; use a smaller training.batchSize or the tensorflow backend`;
}
