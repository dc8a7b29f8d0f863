import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { wasmBackend } from './helpers.js';
import { createModel } from '../src/models/index.js';
import { setEarlyRelease } from '../src/backend/early-release.js';

/** Runs `f` with the early release off (stock) or on, and turns it back on after. */
function withStock<T>(stock: boolean, f: () => T): T {
  setEarlyRelease(!stock);
  try {
    return f();
  } finally {
    setEarlyRelease(true);
  }
}

/** A plain chain of 3x3 convs and ReLUs: every activation is saved, and every one gets a gradient. */
function convChain(x: tf.Tensor4D, filters: tf.Tensor4D[]): tf.Scalar {
  let h: tf.Tensor4D = x;
  for (const w of filters) h = tf.relu(tf.conv2d(h, w, 1, 'same'));
  return tf.sum(h);
}

describe('early release of saved tensors and gradients in backward passes', () => {
  before(async () => {
    // The wasm backend with the project's kernels, which installs the early release.
    await wasmBackend();
  });

  it('gives the same gradients, bit for bit, as the stock backward pass (ResNet-18 training step, batch norm included)', () => {
    const model = createModel('resnet18', { inputShape: [8, 8, 3], numClasses: 10, seed: 1 });
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 2);
    const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10);
    const gradients = (stock: boolean) =>
      withStock(stock, () =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
          return Object.keys(grads).sort().map((name) => Array.from(grads[name]!.dataSync()));
        }),
      );
    const stock = gradients(true);
    const released = gradients(false);
    assert.equal(released.length, stock.length);
    assert.ok(stock.length > 60, `${stock.length} trainable weights`);
    released.forEach((values, i) => assert.deepEqual(values, stock[i], `gradient ${i}`));
    tf.dispose([x, y]);
    model.dispose();
  });

  it('frees saved activations and their gradients as the backward pass goes, and leaves no tensor behind', () => {
    const x = tf.randomUniform([8, 16, 16, 16], -1, 1, 'float32', 3) as tf.Tensor4D;
    const filters = Array.from({ length: 8 }, (_, i) => tf.randomNormal([3, 3, 16, 16], 0, 0.3, 'float32', 10 + i) as tf.Tensor4D);
    // The backend's data buffers, each once (tf.memory().numBytes counts a buffer once per tensor sharing it, and the
    // tape's saved tensors share theirs); the activations and their gradients are the large ones, all the same size.
    const liveBuffers = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    // Identity forward, first on the path from the input; its gradient is the last of the backward pass to run, and
    // notes what is alive then.
    let atEnd = 0;
    const probe = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      (args[1] as tf.GradSaveFunc)([]);
      return {
        value: tf.mul(args[0] as tf.Tensor, 1),
        gradFunc: (dy: tf.Tensor) => {
          atEnd = liveBuffers();
          return tf.mul(dy, 1);
        },
      };
    }) as (x: tf.Tensor) => tf.Tensor4D;
    const backwardEnd = (stock: boolean) =>
      withStock(stock, () => {
        const before = tf.memory().numTensors;
        const baseline = liveBuffers();
        tf.tidy(() => void tf.grads((input: tf.Tensor, ...ws: tf.Tensor[]) => convChain(probe(input), ws as tf.Tensor4D[]))([x, ...filters]));
        assert.equal(tf.memory().numTensors, before, 'tensors after the gradient');
        return atEnd - baseline;
      });
    const stock = backwardEnd(true);
    const released = backwardEnd(false);
    // Stock still holds all 16 activations and their gradients (and the filters' gradients) when the walk reaches
    // the input; released, the filters' gradients and about one layer's tensors.
    assert.ok(stock >= 32, `stock: ${stock} more buffers alive at the end of the backward pass`);
    assert.ok(released <= 14, `early release: ${released} more buffers alive at the end of the backward pass (stock ${stock})`);
    tf.dispose([x, ...filters]);
  });

  it('leaves the dy a caller passes in alone, and hands on a gradient that is its dy unchanged', () => {
    // An op whose gradient returns dy itself (the same tensor object), between two ops whose gradients read their dy.
    const passThrough = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      (args[1] as tf.GradSaveFunc)([]);
      return { value: tf.mul(args[0] as tf.Tensor, 1), gradFunc: (dy: tf.Tensor) => dy };
    }) as (x: tf.Tensor) => tf.Tensor;
    const x = tf.tensor1d([1, 2, 3]);
    const dy = tf.tensor1d([1, 10, 100]);
    const grad = tf.grad((a: tf.Tensor) => tf.square(passThrough(tf.mul(a, 3))))(x, dy);
    // d/dx (3x)^2 = 18x, times dy.
    assert.deepEqual(Array.from(grad.dataSync()), [18, 360, 5400]);
    assert.equal(dy.isDisposed, false);
    assert.deepEqual(Array.from(dy.dataSync()), [1, 10, 100]);
    tf.dispose([x, dy, grad]);
  });

  it('leaves higher-order gradients as they were', () => {
    const x = tf.tensor1d([1, 2, -3]);
    // d2/dx2 of sum(x^3) = 6x: the inner backward pass is itself recorded, so nothing of it may be released.
    const second = tf.grad((a: tf.Tensor) => tf.grad((b: tf.Tensor) => tf.sum(tf.pow(b, 3)))(a))(x);
    assert.deepEqual(Array.from(second.dataSync()), [6, 12, -18]);
    tf.dispose([x, second]);
  });
});
