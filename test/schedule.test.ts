import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { smallConfig, wasmBackend, DATA } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { loadDataset } from '../src/data/index.js';
import { createModel } from '../src/models/index.js';
import { trainModel } from '../src/train/train.js';
import { learningRateAt } from '../src/train/schedule.js';
import { createOptimizer, disposeOptimizer, setLearningRate } from '../src/train/optimizers.js';
import type { OptimizerConfig, TrainingConfig } from '../src/config/schema.js';

const training = (parts: Record<string, unknown>): TrainingConfig => smallConfig({ training: { epochs: 10, ...parts } }).training;

function assertClose(actual: number, expected: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= 1e-12 + 1e-9 * Math.abs(expected), `${what}: ${actual}, expected ${expected}`);
}

/** Every step's learning rate over the whole training, epoch by epoch. */
function allSteps(config: TrainingConfig, stepsPerEpoch: number): number[] {
  return Array.from({ length: config.epochs * stepsPerEpoch }, (_, i) => learningRateAt(config, Math.floor(i / stepsPerEpoch), i % stepsPerEpoch, stepsPerEpoch));
}

describe('learning-rate schedules', () => {
  it('constant keeps the configured lr at every step', () => {
    const config = training({ optimizer: { lr: 0.05 } });
    assert.deepEqual(new Set(allSteps(config, 7)), new Set([0.05]));
  });

  it('warmup ramps linearly per step from about 0 to lr over warmupEpochs, then hands over', () => {
    const config = training({ optimizer: { lr: 0.1 }, schedule: { warmupEpochs: 2 } });
    const rates = allSteps(config, 10);
    for (let step = 0; step < 20; step++) assertClose(rates[step]!, (0.1 * (step + 1)) / 20, `warmup step ${step}`);
    assertClose(rates[0]!, 0.005, 'first step');
    assert.deepEqual(new Set(rates.slice(19)), new Set([0.1]));
  });

  it('multistep multiplies lr by gamma after each milestone epoch', () => {
    const config = training({ epochs: 6, optimizer: { lr: 0.1 }, schedule: { name: 'multistep', milestones: [2, 4], gamma: 0.1 } });
    const perEpoch = Array.from({ length: 6 }, (_, epoch0) => [learningRateAt(config, epoch0, 0, 5), learningRateAt(config, epoch0, 4, 5)]);
    const expected = [0.1, 0.1, 0.01, 0.01, 0.001, 0.001];
    perEpoch.forEach(([first, last], epoch0) => {
      assertClose(first!, expected[epoch0]!, `epoch ${epoch0 + 1}, first step`);
      assertClose(last!, expected[epoch0]!, `epoch ${epoch0 + 1}, last step`);
    });
  });

  it('cosine anneals from lr to 0: lr at the start, lr / 2 halfway, 0 at the end, falling in between', () => {
    const config = training({ epochs: 10, optimizer: { lr: 0.2 }, schedule: { name: 'cosine' } });
    assertClose(learningRateAt(config, 0, 0, 8), 0.2, 'start');
    assertClose(learningRateAt(config, 5, 0, 8), 0.1, 'midpoint');
    assertClose(learningRateAt(config, 2, 4, 8), 0.1 * (1 + Math.cos(Math.PI * 0.25)), 'a quarter of the way');
    assertClose(learningRateAt(config, 10, 0, 8), 0, 'end');
    const rates = allSteps(config, 8);
    assert.ok(rates.every((rate, i) => i === 0 || rate < rates[i - 1]!), 'strictly falling');
    assert.ok(rates.at(-1)! > 0 && rates.at(-1)! < 0.001, `last step ${rates.at(-1)}`);
  });

  it('cosine after warmup starts at lr when warmup ends and reaches lr / 2 halfway through the rest', () => {
    const config = training({ epochs: 10, optimizer: { lr: 0.2 }, schedule: { name: 'cosine', warmupEpochs: 2 } });
    assertClose(learningRateAt(config, 0, 0, 4), 0.2 / 8, 'first warmup step');
    assertClose(learningRateAt(config, 1, 3, 4), 0.2, 'last warmup step');
    assertClose(learningRateAt(config, 2, 0, 4), 0.2, 'first step after warmup');
    assertClose(learningRateAt(config, 6, 0, 4), 0.1, 'midpoint of the annealing');
  });

  it('warmup also scales a multistep schedule', () => {
    const config = training({ epochs: 4, optimizer: { lr: 1 }, schedule: { name: 'multistep', milestones: [1], gamma: 0.5, warmupEpochs: 2 } });
    assertClose(learningRateAt(config, 0, 0, 2), 0.25, 'epoch 1, step 1');
    assertClose(learningRateAt(config, 1, 0, 2), 0.5 * 0.75, 'epoch 2, step 1: after the milestone, still warming up');
    assertClose(learningRateAt(config, 2, 0, 2), 0.5, 'epoch 3');
  });
});

describe('optimisers take the scheduled learning rate', () => {
  before(wasmBackend);

  // On f(w) = sum(g * w) the gradient is g everywhere, so each step's size shows the lr the optimiser used.
  const gradient = [0.5, -2, 1];
  function stepSizes(config: OptimizerConfig, rates: number[]): number[][] {
    // Inside tidy so the zeros the variable is made from are freed (tidy never disposes variables).
    const w = tf.tidy(() => tf.variable(tf.zeros([3])));
    const g = tf.tensor1d(gradient);
    const optimizer = createOptimizer(config);
    const sizes: number[][] = [];
    for (const rate of rates) {
      const before = w.dataSync().slice();
      setLearningRate(optimizer, rate);
      tf.tidy(() => {
        optimizer.minimize(() => tf.sum(tf.mul(g, w)), false, [w]);
      });
      sizes.push(Array.from(w.dataSync(), (value, i) => value - before[i]!));
    }
    disposeOptimizer(optimizer);
    tf.dispose([w, g]);
    return sizes;
  }
  const sgd = (parts: Partial<OptimizerConfig>): OptimizerConfig => ({ name: 'sgd', lr: 1, momentum: 0, nesterov: false, weightDecay: 0, ...parts });

  it('plain sgd moves by -lr x gradient at each step', () => {
    const sizes = stepSizes(sgd({}), [0.1, 0.01, 0.3]);
    [0.1, 0.01, 0.3].forEach((rate, step) => sizes[step]!.forEach((size, i) => assert.ok(Math.abs(size + rate * gradient[i]!) < 1e-6, `step ${step}: ${size}`)));
  });

  it('momentum sgd scales its accumulated step by the current lr', () => {
    // Momentum 0.5 with a constant gradient: the accumulation is g, then 1.5 g, then 1.75 g.
    const sizes = stepSizes(sgd({ momentum: 0.5 }), [0.1, 0.2, 0.05]);
    [0.1 * 1, 0.2 * 1.5, 0.05 * 1.75].forEach((factor, step) =>
      sizes[step]!.forEach((size, i) => assert.ok(Math.abs(size + factor * gradient[i]!) < 1e-6, `step ${step}: ${size}`)),
    );
  });

  it('nesterov momentum steps by -lr x (g + m x accumulation)', () => {
    const sizes = stepSizes(sgd({ momentum: 0.5, nesterov: true }), [0.1, 0.2]);
    [0.1 * 1.5, 0.2 * (1 + 0.5 * 1.5)].forEach((factor, step) =>
      sizes[step]!.forEach((size, i) => assert.ok(Math.abs(size + factor * gradient[i]!) < 1e-6, `step ${step}: ${size}`)),
    );
  });

  it('adam moves each weight by about lr against the gradient sign', () => {
    const sizes = stepSizes({ ...sgd({}), name: 'adam' }, [0.1, 0.001, 0.03]);
    [0.1, 0.001, 0.03].forEach((rate, step) =>
      sizes[step]!.forEach((size, i) => assert.ok(Math.abs(size + rate * Math.sign(gradient[i]!)) < rate * 1e-4, `step ${step}: ${size}`)),
    );
  });

  it('changing the lr every step leaks no tensors', () => {
    for (const config of [sgd({}), sgd({ momentum: 0.9 }), { ...sgd({}), name: 'adam' as const }]) {
      stepSizes(config, [0.1]);
      const before = tf.memory().numTensors;
      stepSizes(config, Array.from({ length: 20 }, (_, i) => 0.1 / (i + 1)));
      assert.equal(tf.memory().numTensors, before, config.name);
    }
  });

  it('training applies the schedule at every step', async () => {
    const config = smallConfig({ training: { epochs: 2, batchSize: 64, optimizer: { name: 'sgd', lr: 0.1 }, schedule: { name: 'cosine', warmupEpochs: 0.5 } } });
    const [job] = expandGrid(config);
    const dataset = await loadDataset('synthetic', DATA);
    const model = createModel('mlp', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
    const used: number[] = [];
    await trainModel(model, dataset, job!, { onStep: ({ learningRate }) => used.push(learningRate) });
    model.dispose();
    const steps = Math.ceil(dataset.train.count / 64);
    assert.deepEqual(used, allSteps(job!.training, steps));
    assertClose(used[0]!, 0.1 / (0.5 * steps), 'first warmup step');
    assert.equal(Math.max(...used), 0.1);
  });
});
