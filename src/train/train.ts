// Training at temperature T: minimise CE(softmax(z / T), y) (+ weight decay) on augmented batches, lr from the schedule.
// With training.adversarial, on ratio * CE(adversarial batch) + (1 - ratio) * CE(clean batch); ratio 1 is Madry et al.'s PGD-AT.
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/types.js';
import type { Job } from '../types.js';
import { smoothedTemperatureCrossEntropy } from '../attacks/losses.js';
import { createOptimizer, disposeOptimizer, setLearningRate } from './optimizers.js';
import { batchTensors } from './batches.js';
import { augmentBatch, augmentationEnabled } from './augment.js';
import { learningRateAt } from './schedule.js';
import { intSeed, permutation, rng } from '../util/rng.js';
import { adversarialBatch } from './adversarial.js';

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
  /** Mean training objective per epoch (with training.adversarial: the ratio-weighted adversarial + clean loss). */
  epochLosses: number[];
  trainSeconds: number;
  imagesPerSecond: number;
}

/**
 * Mean smoothed CE at temperature T of a training step. Without adversarial images (or at ratio 0): of the clean batch.
 * At ratio 1 (Madry PGD-AT): of the adversarial batch only. In between: one forward pass over the adversarial and the
 * clean images together, ratio * mean over the adversarial half + (1 - ratio) * mean over the clean half; one pass, so
 * batch normalisation sees (and its running statistics average) the mixed batch once per step.
 */
function trainingLoss(
  model: tf.LayersModel,
  clean: tf.Tensor4D,
  adversarial: tf.Tensor4D | undefined,
  labels: tf.Tensor1D,
  ratio: number,
  temperature: number,
  labelSmoothing: number,
): tf.Scalar {
  const meanLoss = (images: tf.Tensor4D, targets: tf.Tensor1D) =>
    tf.mean(smoothedTemperatureCrossEntropy(model.apply(images, { training: true }) as tf.Tensor2D, targets, temperature, labelSmoothing));
  if (!adversarial || ratio === 0) return meanLoss(clean, labels) as tf.Scalar;
  if (ratio === 1) return meanLoss(adversarial, labels) as tf.Scalar;
  const n = labels.shape[0];
  const logits = model.apply(tf.concat([adversarial, clean]), { training: true }) as tf.Tensor2D;
  const losses = smoothedTemperatureCrossEntropy(logits, tf.concat([labels, labels]), temperature, labelSmoothing);
  const [adversarialLoss, cleanLoss] = tf.split(losses, [n, n]) as [tf.Tensor1D, tf.Tensor1D];
  return tf.add(tf.mul(tf.mean(adversarialLoss), ratio), tf.mul(tf.mean(cleanLoss), 1 - ratio)) as tf.Scalar;
}

export async function trainModel(model: tf.LayersModel, dataset: Dataset, job: Job, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { epochs, batchSize, shuffle, optimizer: optimizerConfig, labelSmoothing, adversarial } = job.training;
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
          // Adversarial training: attack the augmented batch against the current weights (seeded from the job seed,
          // epoch and step), outside the minimised function, so the images are constants of the training loss.
          const adversarialImages =
            adversarial && adversarial.ratio > 0
              ? adversarialBatch(model, batch.images, batch.labels, adversarial, job.temperature, intSeed('adversarial', job.seed, epoch, step))
              : undefined;
          return optimizer.minimize(
            () => {
              const loss = trainingLoss(model, batch.images, adversarialImages, batch.labels, adversarial?.ratio ?? 0, job.temperature, labelSmoothing);
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
