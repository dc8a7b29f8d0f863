// Training at temperature T: minimise CE(softmax(z / T), y) (+ weight decay) on augmented batches, lr from the schedule.
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/types.js';
import type { Job } from '../types.js';
import { smoothedTemperatureCrossEntropy } from '../attacks/losses.js';
import { createOptimizer, disposeOptimizer, setLearningRate } from './optimizers.js';
import { batchTensors } from './batches.js';
import { augmentBatch, augmentationEnabled } from './augment.js';
import { learningRateAt } from './schedule.js';
import { permutation, rng } from '../util/rng.js';

/** Training stopped because the loss stopped being a finite number. */
export class DivergenceError extends Error {}

/** The sweep was interrupted (SIGINT/SIGTERM); the job is not recorded. */
export class InterruptedError extends Error {}

export interface TrainHooks {
  onStep?(progress: { epoch: number; epochs: number; step: number; steps: number; loss: number; learningRate: number }): void;
  onEpoch?(progress: { epoch: number; epochs: number; meanLoss: number }): void;
  shouldStop?(): boolean;
}

export interface TrainResult {
  epochLosses: number[];
  trainSeconds: number;
  imagesPerSecond: number;
}

export async function trainModel(model: tf.LayersModel, dataset: Dataset, job: Job, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { epochs, batchSize, shuffle, optimizer: optimizerConfig, labelSmoothing } = job.training;
  const augment = job.data.augment;
  const augmenting = augmentationEnabled(augment);
  const count = Math.min(job.data.trainSamples ?? dataset.train.count, dataset.train.count);
  const steps = Math.ceil(count / batchSize);
  const optimizer = createOptimizer(optimizerConfig);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  // Weight decay as an L2 penalty on kernels only, the usual convention (biases are not decayed).
  const decayed = model.trainableWeights.filter((weight) => weight.name.includes('kernel')).map((weight) => weight.read());
  const epochLosses: number[] = [];
  const started = performance.now();
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = shuffle ? permutation(count, rng('shuffle', job.seed, epoch)) : Int32Array.from({ length: count }, (_, i) => i);
      let lossSum = 0;
      for (let step = 0; step < steps; step++) {
        if (hooks.shouldStop?.()) throw new InterruptedError('interrupted');
        const indices = order.subarray(step * batchSize, Math.min(count, (step + 1) * batchSize));
        const learningRate = learningRateAt(job.training, epoch - 1, step, steps);
        setLearningRate(optimizer, learningRate);
        // Seeded from (seed, epoch, step), so a job augments the same way on every run.
        const transform = augmenting
          ? (images: Float32Array, n: number) => augmentBatch(images, n, dataset.imageShape, augment, rng('augment', job.seed, epoch, step))
          : undefined;
        const cost = tf.tidy(() => {
          const batch = batchTensors(dataset.train, dataset.imageShape, indices, transform);
          return optimizer.minimize(
            () => {
              const logits = model.apply(batch.images, { training: true }) as tf.Tensor2D;
              const loss = tf.mean(smoothedTemperatureCrossEntropy(logits, batch.labels, job.temperature, labelSmoothing));
              if (optimizerConfig.weightDecay === 0 || decayed.length === 0) return loss as tf.Scalar;
              const penalty = tf.addN(decayed.map((kernel) => tf.sum(tf.square(kernel))));
              return tf.add(loss, tf.mul(penalty, optimizerConfig.weightDecay / 2)) as tf.Scalar;
            },
            true,
            variables,
          )!;
        });
        const loss = (await cost.data())[0]!;
        cost.dispose();
        if (!Number.isFinite(loss)) {
          throw new DivergenceError(`training loss became ${loss} at epoch ${epoch}, step ${step + 1} of ${steps} (T=${job.temperature}, lr=${learningRate})`);
        }
        lossSum += loss * indices.length;
        hooks.onStep?.({ epoch, epochs, step: step + 1, steps, loss, learningRate });
        // Let timers and signal handlers run: progress redraws and Ctrl-C are handled between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const meanLoss = lossSum / count;
      epochLosses.push(meanLoss);
      hooks.onEpoch?.({ epoch, epochs, meanLoss });
    }
  } finally {
    disposeOptimizer(optimizer);
  }
  const trainSeconds = (performance.now() - started) / 1000;
  return { epochLosses, trainSeconds, imagesPerSecond: (count * epochs) / trainSeconds };
}
