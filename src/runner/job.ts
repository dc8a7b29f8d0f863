// One job: build the seeded model, train it at its temperature, attack it, and return its record.
import type { Dataset } from '../data/types.js';
import type { Job, RunRecord } from '../types.js';
import { createModel } from '../models/index.js';
import { trainModel, InterruptedError, type TrainHooks } from '../train/train.js';
import { evaluateModel, type EvalHooks } from '../eval/evaluate.js';
import { versions } from './versions.js';

export type JobHooks = TrainHooks & EvalHooks;

export async function runJob(job: Job, dataset: Dataset, backend: string, hooks: JobHooks = {}): Promise<RunRecord> {
  const startedAt = new Date();
  const started = performance.now();
  const base = { runId: job.runId, job, backend, versions: versions(), startedAt: startedAt.toISOString() };
  const model = createModel(job.architecture, { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: job.seed });
  let trainSeconds = 0;
  let epochLosses: number[] = [];
  try {
    const trained = await trainModel(model, dataset, job, {
      ...hooks,
      onEpoch: (progress) => {
        epochLosses = [...epochLosses, progress.meanLoss];
        hooks.onEpoch?.(progress);
      },
    });
    trainSeconds = trained.trainSeconds;
    const evaluated = await evaluateModel(model, dataset, job, hooks);
    return {
      ...base,
      status: 'ok',
      cleanAccuracy: evaluated.cleanAccuracy,
      evalSamples: evaluated.samples,
      epochLosses: trained.epochLosses,
      attacks: evaluated.attacks,
      timings: {
        trainSeconds,
        evalSeconds: evaluated.evalSeconds,
        wallSeconds: (performance.now() - started) / 1000,
        trainImagesPerSecond: trained.imagesPerSecond,
      },
      finishedAt: new Date().toISOString(),
    };
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    return {
      ...base,
      status: 'failed',
      failureReason: error instanceof Error ? error.message : String(error),
      epochLosses,
      attacks: [],
      timings: { trainSeconds, evalSeconds: 0, wallSeconds: (performance.now() - started) / 1000 },
      finishedAt: new Date().toISOString(),
    };
  } finally {
    model.dispose();
  }
}
