// The one-kernel Adam update: bit-identical to tfjs's Adam on wasm, the stock path elsewhere, no leaks.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { FusedAdamOptimizer } from '../src/train/fused-adam.js';
import { createOptimizer, disposeOptimizer } from '../src/train/optimizers.js';
import { optimizerSchema } from '../src/config/schema.js';
import { wasmBackend } from './helpers.js';

/** Two conv/dense variables and a bias, trained for `steps` steps; returns the weights and the optimizer's state. */
async function train(optimizer: tf.Optimizer, steps: number): Promise<{ weights: Float32Array[]; state: Float32Array[]; kernels: string[] }> {
  const kernel = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.5, 'float32', 1), true, 'fa-kernel');
  const dense = tf.variable(tf.randomNormal([4 * 6 * 6, 3], 0, 0.1, 'float32', 2), true, 'fa-dense');
  const bias = tf.variable(tf.zeros([3]), true, 'fa-bias');
  const x = tf.randomUniform([8, 6, 6, 2], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
  const loss = () => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(tf.reshape(tf.relu(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, "same")), [8, -1]), dense), bias)) as tf.Scalar;
  let kernels: string[] = [];
  for (let i = 0; i < steps; i++) {
    if (i === steps - 1) kernels = (await tf.profile(() => tf.tidy(() => void optimizer.minimize(loss)))).kernels.map((k) => k.name);
    else tf.tidy(() => void optimizer.minimize(loss));
  }
  const weights = [kernel, dense, bias].map((v) => v.dataSync() as Float32Array);
  const state = (await optimizer.getWeights()).map((w) => w.tensor.dataSync() as Float32Array);
  tf.dispose([kernel, dense, bias, x, y]);
  return { weights, state, kernels };
}

const bits = (values: Float32Array[]): string[] => values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex'));

describe('FusedAdamOptimizer', () => {
  before(async () => {
    await wasmBackend();
  });

  it('on wasm, updates each variable with one kernel and matches tfjs Adam bit for bit over 6 steps', async () => {
    const stock = await train(tf.train.adam(0.01), 6);
    const fused = await train(new FusedAdamOptimizer(0.01, 0.9, 0.999), 6);
    assert.equal(fused.kernels.filter((k) => k === 'TemperAdamUpdate').length, 3, fused.kernels.join());
    assert.ok(!fused.kernels.includes('Sqrt'), 'the update runs no separate Sqrt kernel');
    assert.ok(stock.kernels.includes('Sqrt'));
    assert.deepEqual(bits(fused.weights), bits(stock.weights), 'weights');
    assert.deepEqual(bits(fused.state), bits(stock.state), 'iterations, first and second moments');
    assert.ok(stock.weights[0]!.some((w, i) => w !== tf.randomNormal([3, 3, 2, 4], 0, 0.5, 'float32', 1).dataSync()[i]), 'training moved the weights');
  });

  it('createOptimizer builds it for adam; it keeps the name Adam and leaks nothing', async () => {
    const optimizer = createOptimizer(optimizerSchema.parse({ name: 'adam', lr: 0.001 }));
    assert.ok(optimizer instanceof FusedAdamOptimizer);
    assert.equal((optimizer.constructor as unknown as { className: string }).className, 'Adam');
    const v = tf.variable(tf.ones([5]), true, 'fa-leak');
    const step = () => tf.tidy(() => void optimizer.minimize(() => tf.sum(tf.square(v)) as tf.Scalar));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    assert.equal(tf.memory().numTensors, before);
    disposeOptimizer(optimizer);
    v.dispose();
  });

  it('falls back to the stock update on a backend without the kernel (cpu) and still matches', async () => {
    await tf.setBackend('cpu');
    try {
      const stock = await train(tf.train.adam(0.01), 3);
      const fused = await train(new FusedAdamOptimizer(0.01, 0.9, 0.999), 3);
      assert.ok(!fused.kernels.includes('TemperAdamUpdate'));
      assert.deepEqual(bits(fused.weights), bits(stock.weights));
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
