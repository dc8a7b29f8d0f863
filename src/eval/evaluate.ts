// Clean accuracy and accuracy under every attack at every eps, on the first `eval.samples` test images.
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/types.js';
import type { AttackResult, Job } from '../types.js';
import { attackLabels } from '../config/grid.js';
import { attackLoss, getAttack } from '../attacks/index.js';
import type { AttackTarget } from '../attacks/attack.js';
import { correctMask } from '../attacks/attack.js';
import { rangeTensors } from '../train/batches.js';
import { InterruptedError } from '../train/train.js';
import { intSeed } from '../util/rng.js';

export interface EvalHooks {
  onAttack?(progress: { label: string; index: number; total: number; done: number; samples: number }): void;
  onResult?(result: AttackResult): void;
  shouldStop?(): boolean;
}

export interface EvalResult {
  cleanAccuracy: number;
  samples: number;
  attacks: AttackResult[];
  evalSeconds: number;
}

export function modelTarget(model: tf.LayersModel, temperature: number): AttackTarget {
  return { logits: (images) => model.apply(images, { training: false }) as tf.Tensor2D, temperature };
}

export async function evaluateModel(model: tf.LayersModel, dataset: Dataset, job: Job, hooks: EvalHooks = {}): Promise<EvalResult> {
  const started = performance.now();
  const samples = Math.min(job.eval.samples, dataset.test.count);
  const batchSize = job.eval.batchSize;
  const target = modelTarget(model, job.temperature);

  // Sums masks over batches on the device; one read per (attack, eps), not per step.
  async function overBatches(perBatch: (images: tf.Tensor4D, labels: tf.Tensor1D, batch: number) => tf.Tensor1D[]): Promise<number[]> {
    let sums: tf.Tensor[] | undefined;
    for (let start = 0, batch = 0; start < samples; start += batchSize, batch++) {
      if (hooks.shouldStop?.()) throw new InterruptedError('interrupted');
      const next = tf.tidy(() => {
        const { images, labels } = rangeTensors(dataset.test, dataset.imageShape, start, Math.min(batchSize, samples - start));
        const masks = perBatch(images, labels, batch).map((mask) => tf.sum(mask));
        return sums ? masks.map((mask, i) => tf.add(mask, sums![i]!)) : masks;
      });
      sums?.forEach((t) => t.dispose());
      sums = next;
      // Yield to the event loop so signals and progress redraws get through during long attacks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const values = await Promise.all(sums!.map(async (t) => (await t.data())[0]!));
    sums!.forEach((t) => t.dispose());
    return values;
  }

  const [correct] = await overBatches((images, labels) => [correctMask(target, images, labels)]);
  const cleanAccuracy = correct! / samples;

  const labels = attackLabels(job.attacks);
  const total = labels.reduce((sum, row) => sum + row.length, 0);
  const attacks: AttackResult[] = [];
  let index = 0;
  for (const [a, config] of job.attacks.entries()) {
    const spec = getAttack(config.name);
    const lossTemperature = config.lossTemperature === 'train' ? job.temperature : config.lossTemperature;
    const loss = attackLoss(config.loss, lossTemperature);
    for (const [e, eps] of config.eps.entries()) {
      const label = labels[a]![e]!;
      hooks.onAttack?.({ label, index: index++, total, done: 0, samples });
      const attackStarted = performance.now();
      const [robust, zeroGradient] = await overBatches((images, batchLabels, batch) => {
        const seed = intSeed('attack', job.seed, a, eps, batch);
        const output = spec.run({ target, images, labels: batchLabels, eps, loss, config, seed });
        output.adversarial.dispose();
        return [output.robust, output.zeroGradient];
      });
      const result: AttackResult = {
        label,
        attack: config.name,
        eps,
        loss: config.loss,
        lossTemperature,
        robustAccuracy: robust! / samples,
        n: samples,
        zeroGradFraction: zeroGradient! / samples,
        params: spec.params(config),
        wallSeconds: (performance.now() - attackStarted) / 1000,
      };
      attacks.push(result);
      hooks.onResult?.(result);
    }
  }
  return { cleanAccuracy, samples, attacks, evalSeconds: (performance.now() - started) / 1000 };
}
