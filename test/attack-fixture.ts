// A fixed small trained model and 128 test images for attack tests, trained once per test file.
import * as tf from '@tensorflow/tfjs';
import { smallConfig, wasmBackend, DATA } from './helpers.js';
import { attackLossOf, expandGrid } from '../src/config/grid.js';
import { loadDataset } from '../src/data/index.js';
import { createModel } from '../src/models/index.js';
import { trainModel } from '../src/train/train.js';
import { modelTarget } from '../src/eval/evaluate.js';
import { attackLoss, getAttack } from '../src/attacks/index.js';
import { correctMask, disposeOutput, type AttackOutput, type AttackTarget } from '../src/attacks/attack.js';
import { rangeTensors } from '../src/train/batches.js';
import { attackSchema, type AttackConfig } from '../src/config/schema.js';
import type { Dataset } from '../src/data/types.js';

export interface AttackFixture {
  model: tf.LayersModel;
  dataset: Dataset;
  target: AttackTarget;
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  /** Clean accuracy on `images`, in [0, 1]. */
  clean: number;
}

/** Parses an attack config (defaults filled in) from its parts; `eps` defaults to 0.1. */
export function attackConfig(parts: Record<string, unknown>): AttackConfig {
  return attackSchema.parse({ eps: 0.1, ...parts });
}

/** Trains `architecture` (default mlp) on the synthetic dataset for 3 epochs, seed `seed`. */
export async function attackFixture(options: { architecture?: string; seed?: number; samples?: number } = {}): Promise<AttackFixture> {
  await wasmBackend();
  const [job] = expandGrid(smallConfig({ architectures: [options.architecture ?? 'mlp'], seeds: [options.seed ?? 0], training: { epochs: 3, batchSize: 64 } }));
  const dataset = await loadDataset('synthetic', DATA);
  const model = createModel(job!.architecture, { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: job!.seed });
  await trainModel(model, dataset, job!);
  const { images, labels } = rangeTensors(dataset.test, dataset.imageShape, 0, options.samples ?? 128);
  const target = modelTarget(model, 1);
  return { model, dataset, target, images, labels, clean: await meanOf(correctMask(target, images, labels)) };
}

/** Runs `config` at `eps` on the fixture; `lossTemperature` overrides the config's "ce" temperature. */
export function runAttack(fixture: AttackFixture, config: AttackConfig, eps: number, options: { lossTemperature?: number; seed?: number; surrogate?: AttackTarget } = {}): AttackOutput {
  const spec = getAttack(config.name);
  const { loss, lossTemperature } = attackLossOf(config);
  const temperature = options.lossTemperature ?? (typeof lossTemperature === 'number' ? lossTemperature : 1);
  return spec.run({
    target: fixture.target,
    images: fixture.images,
    labels: fixture.labels,
    eps,
    loss: attackLoss(loss === '' ? 'cw' : loss, temperature),
    config,
    seed: options.seed ?? 7,
    ...(options.surrogate ? { surrogate: options.surrogate } : {}),
  } as never);
}

/** Mean of a 1-D mask, disposing it. */
export async function meanOf(mask: tf.Tensor1D | null): Promise<number> {
  if (!mask) throw new Error('expected a mask, got null');
  const mean = tf.mean(mask);
  const value = (await mean.data())[0]!;
  mean.dispose();
  return value;
}

/** Robust accuracy of an output, disposing the output. */
export async function robustAccuracy(output: AttackOutput): Promise<number> {
  const value = await meanOf(output.robust);
  disposeOutput(output);
  return value;
}

/** Largest |x' - x| (Linf), smallest and largest pixel, and largest per-example L2 distance of an output's images. */
export async function perturbation(fixture: AttackFixture, output: AttackOutput): Promise<{ linf: number; l2: number; low: number; high: number }> {
  const [linf, l2, low, high] = tf.tidy(() => {
    const delta = tf.sub(output.adversarial, fixture.images);
    return [tf.max(tf.abs(delta)), tf.max(tf.sqrt(tf.sum(tf.square(delta), [1, 2, 3]))), tf.min(output.adversarial), tf.max(output.adversarial)];
  });
  const values = await Promise.all([linf!, l2!, low!, high!].map(async (t) => (await t.data())[0]!));
  tf.dispose([linf!, l2!, low!, high!]);
  return { linf: values[0]!, l2: values[1]!, low: values[2]!, high: values[3]! };
}
