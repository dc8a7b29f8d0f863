import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { smallConfig, wasmBackend , DATA } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { loadDataset } from '../src/data/index.js';
import { createModel } from '../src/models/index.js';
import { trainModel } from '../src/train/train.js';
import { failureReason, runJob } from '../src/runner/job.js';
import type { RunRecord } from '../src/types.js';

const cnnConfig = (seeds: number[]) =>
  smallConfig({
    architectures: ['cnn-small'],
    seeds,
    training: { epochs: 2, batchSize: 64, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.0005 } },
    attacks: [
      { name: 'fgsm', eps: 0.1 },
      { name: 'pgd', eps: 0.1, steps: 3, stepSize: 0.04, loss: 'cw' },
    ],
  });

/** The numbers of a record, without timings and dates. */
function numbers(record: RunRecord) {
  return {
    status: record.status,
    epochLosses: record.epochLosses,
    cleanAccuracy: record.cleanAccuracy,
    attacks: record.attacks.map(({ wallSeconds: _, ...rest }) => rest),
  };
}

describe('training', () => {
  before(wasmBackend);

  it('same config, seed and backend give the same numbers', async () => {
    const [job] = expandGrid(cnnConfig([3]));
    const dataset = await loadDataset('synthetic', DATA);
    const first = await runJob(job!, dataset, 'wasm');
    const second = await runJob(job!, dataset, 'wasm');
    assert.equal(first.status, 'ok', first.failureReason);
    assert.deepEqual(numbers(second), numbers(first));
  });

  it('a different seed gives different starting weights and losses', async () => {
    const [a, b] = expandGrid(cnnConfig([0, 1]));
    const dataset = await loadDataset('synthetic', DATA);
    const first = await runJob(a!, dataset, 'wasm');
    const second = await runJob(b!, dataset, 'wasm');
    assert.notDeepEqual(first.epochLosses, second.epochLosses);
  });

  it('the loss falls while training at T = 1', async () => {
    const [job] = expandGrid(smallConfig({ training: { epochs: 4, batchSize: 32 } }));
    const dataset = await loadDataset('synthetic', DATA);
    const model = createModel('mlp', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
    const { epochLosses } = await trainModel(model, dataset, job!);
    model.dispose();
    assert.ok(epochLosses.at(-1)! < epochLosses[0]! * 0.5, `losses ${epochLosses.join(', ')}`);
  });

  it('keeps the number of live tensors constant over many steps', async () => {
    const [job] = expandGrid(smallConfig({ architectures: ['cnn-small'], training: { epochs: 3, batchSize: 32 } }));
    const dataset = await loadDataset('synthetic', DATA);
    const model = createModel('cnn-small', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
    const counts: number[] = [];
    await trainModel(model, dataset, job!, { onStep: () => counts.push(tf.memory().numTensors) });
    model.dispose();
    // Adam creates its moment slots on the first step; from then on nothing may accumulate.
    assert.ok(counts.length >= 40, `only ${counts.length} steps`);
    assert.deepEqual(new Set(counts.slice(1)), new Set([counts[1]]));
  });

  it('a model and its optimiser leave nothing behind after a job', async () => {
    const [job] = expandGrid(cnnConfig([0]));
    const dataset = await loadDataset('synthetic', DATA);
    await runJob(job!, dataset, 'wasm');
    const before = tf.memory().numTensors;
    await runJob(job!, dataset, 'wasm');
    assert.equal(tf.memory().numTensors, before);
  });

  it('a loss that becomes NaN fails the job with the reason recorded', async () => {
    // T = 1e-45 underflows: z / T is infinite, so softmax(z / T) is NaN on the first step.
    const [job] = expandGrid(smallConfig({ temperatures: [1e-45] }));
    const dataset = await loadDataset('synthetic', DATA);
    const record = await runJob(job!, dataset, 'wasm');
    assert.equal(record.status, 'failed');
    assert.match(record.failureReason!, /training loss became NaN at epoch 1, step 1/);
  });
});

describe('failure reasons', () => {
  it('a wasm out-of-memory failure says what to change', () => {
    const [job] = expandGrid(smallConfig({ architectures: ['cnn-small'], training: { batchSize: 512 } }));
    const reason = failureReason(new RangeError('memory access out of bounds'), 'wasm', job!);
    assert.match(reason, /^memory access out of bounds: the wasm backend ran out of memory .* cnn-small at batch 512; use a smaller training.batchSize/);
    assert.equal(failureReason(new Error('training loss became NaN'), 'wasm', job!), 'training loss became NaN');
    assert.equal(failureReason(new RangeError('memory access out of bounds'), 'tensorflow', job!), 'memory access out of bounds');
  });
});
