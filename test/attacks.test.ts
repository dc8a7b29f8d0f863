import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { smallConfig, wasmBackend , DATA } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { loadDataset } from '../src/data/index.js';
import { createModel } from '../src/models/index.js';
import { trainModel } from '../src/train/train.js';
import { modelTarget } from '../src/eval/evaluate.js';
import { attackLoss, getAttack } from '../src/attacks/index.js';
import { correctMask } from '../src/attacks/attack.js';
import { rangeTensors } from '../src/train/batches.js';
import { attackSchema, type AttackConfig } from '../src/config/schema.js';
import type { Dataset } from '../src/data/types.js';

let model: tf.LayersModel;
let dataset: Dataset;
let images: tf.Tensor4D;
let labels: tf.Tensor1D;

const attackConfig = (parts: Record<string, unknown>): AttackConfig => attackSchema.parse(parts);

function runAttack(config: AttackConfig, eps: number, lossTemperature = 1) {
  const spec = getAttack(config.name);
  return spec.run({ target: modelTarget(model, 1), images, labels, eps, loss: attackLoss(config.loss, lossTemperature), config, seed: 7 } as never);
}

async function accuracyOf(mask: tf.Tensor1D): Promise<number> {
  const value = (await tf.mean(mask).data())[0]!;
  return value;
}

describe('attacks on a small trained model', () => {
  before(async () => {
    await wasmBackend();
    const [job] = expandGrid(smallConfig({ training: { epochs: 3, batchSize: 64 } }));
    dataset = await loadDataset('synthetic', DATA);
    model = createModel('mlp', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
    await trainModel(model, dataset, job!);
    ({ images, labels } = rangeTensors(dataset.test, dataset.imageShape, 0, 128));
  });

  for (const config of [
    attackConfig({ name: 'fgsm', eps: 0.1 }),
    attackConfig({ name: 'pgd', eps: 0.1, steps: 10, stepSize: 0.03 }),
    attackConfig({ name: 'pgd', eps: 0.1, steps: 5, stepSize: 0.05, loss: 'cw', restarts: 2 }),
  ]) {
    it(`${config.name} (${config.loss}) never leaves the eps-ball or [0, 1]`, async () => {
      const eps = 0.1;
      const output = runAttack(config, eps);
      const distance = (await tf.max(tf.abs(tf.sub(output.adversarial, images))).data())[0]!;
      const low = (await tf.min(output.adversarial).data())[0]!;
      const high = (await tf.max(output.adversarial).data())[0]!;
      assert.ok(distance <= eps + 1e-6, `max |x' - x| = ${distance} > eps = ${eps}`);
      assert.ok(distance > eps / 2, `the attack barely moved (max |x' - x| = ${distance})`);
      assert.ok(low >= 0 && high <= 1, `pixels outside [0, 1]: [${low}, ${high}]`);
      tf.dispose([output.adversarial, output.robust, output.zeroGradient]);
    });
  }

  it('eps = 0 gives the clean accuracy', async () => {
    const clean = await accuracyOf(correctMask(modelTarget(model, 1), images, labels));
    for (const config of [attackConfig({ name: 'fgsm', eps: 0 }), attackConfig({ name: 'pgd', eps: 0, steps: 5 })]) {
      const output = runAttack(config, 0);
      assert.equal(await accuracyOf(output.robust), clean, `${config.name} at eps 0`);
      tf.dispose([output.adversarial, output.robust, output.zeroGradient]);
    }
  });

  it('PGD is no weaker than FGSM on the same model and eps', async () => {
    const eps = 0.15;
    const fgsm = runAttack(attackConfig({ name: 'fgsm', eps }), eps);
    const pgd = runAttack(attackConfig({ name: 'pgd', eps, steps: 20, stepSize: 0.02 }), eps);
    const fgsmAccuracy = await accuracyOf(fgsm.robust);
    const pgdAccuracy = await accuracyOf(pgd.robust);
    const clean = await accuracyOf(correctMask(modelTarget(model, 1), images, labels));
    assert.ok(pgdAccuracy <= fgsmAccuracy, `PGD ${pgdAccuracy} > FGSM ${fgsmAccuracy}`);
    assert.ok(fgsmAccuracy < clean, `FGSM did not lower accuracy (${fgsmAccuracy} vs clean ${clean})`);
    tf.dispose([fgsm.adversarial, fgsm.robust, fgsm.zeroGradient, pgd.adversarial, pgd.robust, pgd.zeroGradient]);
  });

  it('cross-entropy at a tiny loss temperature saturates: input gradients become exactly zero', async () => {
    // Dividing logits by T = 0.001 makes the softmax one-hot in float32, so CE's gradient underflows to 0
    // for confidently correct examples, the same mechanism as attacking a T = 100 model at T = 1.
    const config = attackConfig({ name: 'fgsm', eps: 0.1 });
    const saturated = runAttack(config, 0.1, 0.001);
    const normal = runAttack(config, 0.1, 1);
    const cw = runAttack(attackConfig({ name: 'fgsm', eps: 0.1, loss: 'cw' }), 0.1);
    assert.ok((await accuracyOf(saturated.zeroGradient)) > 0.5, 'expected most gradients to vanish at T = 0.001');
    assert.equal(await accuracyOf(normal.zeroGradient), 0);
    assert.equal(await accuracyOf(cw.zeroGradient), 0, 'the CW margin is scale-invariant and never saturates');
    tf.dispose([saturated, normal, cw].flatMap((o) => [o.adversarial, o.robust, o.zeroGradient]));
  });

  it('an attack keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const output = runAttack(attackConfig({ name: 'pgd', eps: 0.1, steps: 3, restarts: 2 }), 0.1);
      tf.dispose([output.adversarial, output.robust, output.zeroGradient]);
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
