import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { attackCost, formatSweepCost, sweepCost } from '../src/attacks/cost.js';
import { attackLoss, getAttack } from '../src/attacks/index.js';
import { disposeOutput, type AttackTarget } from '../src/attacks/attack.js';
import { attackLossOf, expandGrid } from '../src/config/grid.js';
import { attackSchema, innerAttackSchema, type AttackConfig } from '../src/config/schema.js';
import { loadDataset } from '../src/data/index.js';
import { createModel } from '../src/models/index.js';
import { modelTarget } from '../src/eval/evaluate.js';
import { rangeTensors } from '../src/train/batches.js';
import { DATA, smallConfig, wasmBackend } from './helpers.js';

const attack = (parts: Record<string, unknown>): AttackConfig => attackSchema.parse({ eps: 0.1, ...parts });

describe('attack cost', () => {
  it('counts gradients and forward passes per image from the config', () => {
    assert.deepEqual(pick(attackCost(attack({ name: 'fgsm' }))), [2, 1]);
    assert.deepEqual(pick(attackCost(attack({ name: 'pgd', steps: 40 }))), [41, 40]);
    assert.deepEqual(pick(attackCost(attack({ name: 'pgd', steps: 40, restarts: 5, target: 'random' }))), [206, 200]);
    assert.deepEqual(pick(attackCost(attack({ name: 'apgd', steps: 100 }))), [101, 101]);
    assert.deepEqual(pick(attackCost(attack({ name: 'apgd', steps: 100, restarts: 9, target: 'random' }))), [918, 909]);
    assert.deepEqual(pick(attackCost(attack({ name: 'cw-l2', steps: 100, binarySteps: 5 }))), [502, 501]);
    assert.deepEqual(pick(attackCost(attack({ name: 'square', queries: 5000 }))), [5001, 0]);
  });

  it('an ensemble costs at most the sum of its members; the default one is APGD-CE, APGD-T and Square', () => {
    const members = [{ name: 'apgd', steps: 100 }, { name: 'square', queries: 5000 }];
    assert.deepEqual(pick(attackCost(attack({ name: 'autoattack', attacks: members }))), [101 + 5001, 101]);
    const standard = attackCost(attack({ name: 'autoattack' }));
    assert.equal(standard.evaluationsPerImage, 101 + 102 + 1001);
    assert.match(standard.note, /later members run only on the images still standing/);
  });

  it('covers every attack of the schema', () => {
    for (const option of attackSchema.options) {
      const name = option.shape.name.value;
      const parts: Record<string, unknown> = { name };
      if (name === 'transfer') Object.assign(parts, { source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd' } });
      const cost = attackCost(attack(parts));
      assert.ok(Number.isInteger(cost.evaluationsPerImage) && cost.evaluationsPerImage > 0, name);
      assert.ok(cost.gradients <= cost.evaluationsPerImage, name);
    }
  });

  it('totals per image, per trained model (x eval.samples) and for the grid (x models)', () => {
    const config = smallConfig({
      temperatures: [1, 10, 100],
      attacks: [{ name: 'fgsm', eps: [0.1, 0.3] }, { name: 'pgd', eps: 0.3, steps: 40 }],
      eval: { samples: 1000, batchSize: 250 },
    });
    const cost = sweepCost(config, expandGrid(config).length);
    assert.deepEqual([cost.evaluationsPerImage, cost.gradientsPerImage, cost.images, cost.perModel, cost.models, cost.total], [2 * 2 + 41, 42, 1000, 45_000, 3, 135_000]);
    assert.deepEqual(formatSweepCost(cost), [
      'attack cost: at most 45 model evaluations per image (42 of them gradients) x 1,000 images = 45,000 per trained model, 135,000 for the 3 models',
      '  fgsm-ce(T=1)   2 x 2 eps (one gradient, one prediction)',
      '  pgd40-ce(T=1)  41 (40 steps)',
    ]);
  });
});

describe('attack cost against the attacks themselves', () => {
  let model: tf.LayersModel;
  let images: tf.Tensor4D;
  let labels: tf.Tensor1D;

  before(async () => {
    await wasmBackend();
    const dataset = await loadDataset('synthetic', DATA);
    model = createModel('mlp', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
    ({ images, labels } = rangeTensors(dataset.test, dataset.imageShape, 0, 16));
  });
  after(() => {
    model.dispose();
    tf.dispose([images, labels]);
  });

  /** Runs `config` on the batch and counts the model's forward passes (a gradient is one, under the tape). */
  function callsOf(config: AttackConfig): number {
    let calls = 0;
    const counted = (temperature: number): AttackTarget => {
      const inner = modelTarget(model, temperature);
      return { temperature, logits: (x) => (calls++, inner.logits(x)) };
    };
    const { loss, lossTemperature } = attackLossOf(config);
    const before = tf.memory().numTensors;
    const output = getAttack(config.name).run({
      target: counted(1),
      surrogate: counted(1),
      images,
      labels,
      eps: 0.3,
      loss: attackLoss(loss === '' ? 'cw' : loss, typeof lossTemperature === 'number' ? lossTemperature : 1),
      config,
      seed: 3,
    } as never);
    disposeOutput(output);
    assert.equal(tf.memory().numTensors, before, `${config.name} leaves no tensors behind`);
    return calls;
  }

  it('equals the model evaluations each attack makes (at most, for those that stop early)', () => {
    const exact = [
      { name: 'fgsm' },
      { name: 'pgd', steps: 3, restarts: 2, target: 'random' },
      { name: 'pgd-l2', steps: 3 },
      { name: 'bim', steps: 4, target: 'least-likely' },
      { name: 'mifgsm', steps: 3 },
      { name: 'apgd', steps: 5, restarts: 2, target: 'random' },
      { name: 'cw-l2', steps: 3, binarySteps: 2 },
      { name: 'transfer', source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd', steps: 3 } },
    ];
    for (const parts of exact) {
      const config = attack(parts);
      assert.equal(callsOf(config), attackCost(config).evaluationsPerImage, JSON.stringify(parts));
    }
    for (const parts of [{ name: 'square', queries: 60 }, { name: 'autoattack', attacks: [{ name: 'apgd', steps: 3 }, innerAttackSchema.parse({ name: 'square', queries: 60 })] }]) {
      const config = attack(parts);
      const calls = callsOf(config);
      assert.ok(calls > 0 && calls <= attackCost(config).evaluationsPerImage, `${JSON.stringify(parts)}: ${calls} calls`);
    }
  });
});

function pick(cost: { evaluationsPerImage: number; gradients: number }): [number, number] {
  return [cost.evaluationsPerImage, cost.gradients];
}
