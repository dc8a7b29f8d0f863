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

const TEN = { classes: 10 };
const costOf = (parts: Record<string, unknown>) => attackCost(attack(parts), TEN).evaluationsPerImage;

describe('attack cost', () => {
  it('counts forward passes per image from the config, an input gradient as 2', () => {
    assert.equal(costOf({ name: 'pgd', steps: 40 }), 40 * 2 + 1);
    assert.equal(costOf({ name: 'apgd', steps: 100 }), 203);
    assert.equal(costOf({ name: 'square', queries: 5000 }), 5002);
  });

  it('the standard AutoAttack costs its four members: APGD-CE, APGD-T and FAB-T over 9 classes, Square-5000', () => {
    assert.equal(costOf({ name: 'autoattack' }), 9735);
    assert.equal(costOf({ name: 'autoattack', version: 'fast' }), 1409);
    // Fewer classes, fewer targets: "top" stops at classes - 1.
    assert.ok(attackCost(attack({ name: 'autoattack' }), { classes: 4 }).evaluationsPerImage < 9735);
  });

  it('covers every attack of the schema', () => {
    for (const option of attackSchema.options) {
      const name = option.shape.name.value;
      const parts: Record<string, unknown> = { name };
      if (name === 'transfer') Object.assign(parts, { source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd' } });
      const cost = costOf(parts);
      assert.ok(Number.isInteger(cost) && cost > 0, name);
    }
  });

  it('totals per image, per trained model (x eval.samples) and for the grid (x models)', () => {
    const config = smallConfig({
      temperatures: [1, 10, 100],
      attacks: [{ name: 'fgsm', eps: [0.1, 0.3] }, { name: 'pgd', eps: 0.3, steps: 40 }],
      eval: { samples: 1000, batchSize: 250 },
    });
    const cost = sweepCost(config, expandGrid(config).length, 4);
    const fgsm = costOf({ name: 'fgsm' });
    const perImage = 2 * fgsm + 81;
    assert.deepEqual([cost.evaluationsPerImage, cost.images, cost.perModel, cost.models, cost.total], [perImage, 1000, perImage * 1000, 3, perImage * 3000]);
    assert.deepEqual(formatSweepCost(cost), [
      `attack cost: at most ${perImage} forward passes per image (a gradient counts 2) x 1,000 images = ${(perImage * 1000).toLocaleString('en-US')} per trained model, ${(perImage * 3000).toLocaleString('en-US')} for the 3 models`,
      `  fgsm-ce(T=1)   ${fgsm} x 2 eps`,
      '  pgd40-ce(T=1)  81',
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

  /** Runs `config` on the batch and counts the model's forward passes (under a gradient tape, one per gradient). */
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

  // A call under a gradient tape costs 2, a plain forward pass 1: the stated cost lies between the calls and twice them.
  it("counts an attack with its own samples on those images only", () => {
    const config = smallConfig({
      temperatures: [1, 10],
      attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 0.3, steps: 40, samples: 100 }],
      eval: { samples: 1000, batchSize: 250 },
    });
    const cost = sweepCost(config, expandGrid(config).length, 4);
    const fgsm = costOf({ name: 'fgsm' });
    assert.equal(cost.perModel, fgsm * 1000 + 81 * 100);
    assert.equal(cost.total, 2 * (fgsm * 1000 + 81 * 100));
    assert.deepEqual(formatSweepCost(cost), [
      `attack cost: at most ${(fgsm * 1000 + 8100).toLocaleString('en-US')} forward passes (a gradient counts 2) per trained model on 1,000 images, some attacks on fewer; ${(2 * (fgsm * 1000 + 8100)).toLocaleString('en-US')} for the 2 models`,
      `  fgsm-ce(T=1)          ${fgsm}`,
      '  pgd40-ce(T=1)[n=100]  81 on 100 images',
    ]);
  });

  it('bounds the model evaluations each attack makes: calls <= cost <= 2 x calls (cost an upper bound for those that stop early)', () => {
    const exact = [
      { name: 'fgsm' },
      { name: 'pgd', steps: 3, restarts: 2, target: 'random' },
      { name: 'pgd-l2', steps: 3 },
      { name: 'bim', steps: 4, target: 'least-likely' },
      { name: 'mifgsm', steps: 3 },
      { name: 'cw-l2', steps: 3, binarySteps: 2 },
      { name: 'transfer', source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd', steps: 3 } },
    ];
    for (const parts of exact) {
      const config = attack(parts);
      const calls = callsOf(config);
      const cost = attackCost(config, { classes: 4 }).evaluationsPerImage;
      assert.ok(calls <= cost && cost <= 2 * calls, `${JSON.stringify(parts)}: ${calls} calls, cost ${cost}`);
    }
    // APGD and the ensembles attack only the examples still standing, so they may stop early.
    for (const parts of [{ name: 'apgd', steps: 5, restarts: 2, target: 'random' }, { name: 'fab', steps: 3 }, { name: 'square', queries: 60 }, { name: 'autoattack', attacks: [{ name: 'apgd', steps: 3 }, innerAttackSchema.parse({ name: 'square', queries: 60 })] }]) {
      const config = attack(parts);
      const calls = callsOf(config);
      assert.ok(calls > 0 && calls <= attackCost(config, { classes: 4 }).evaluationsPerImage, `${JSON.stringify(parts)}: ${calls} calls`);
    }
  });
});
