import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DATA } from './helpers.js';
import { loadDataset, listDatasets } from '../src/data/index.js';

describe('datasets', () => {
  it('the embedded MNIST is 10,000 real digits, split 80/20 within every class', async () => {
    const mnist = await loadDataset('mnist', DATA);
    assert.deepEqual(mnist.imageShape, [28, 28, 1]);
    assert.equal(mnist.train.count + mnist.test.count, 10_000);
    const perClass = (labels: Int32Array) => Array.from({ length: 10 }, (_, digit) => labels.filter((l) => l === digit).length);
    const train = perClass(mnist.train.labels);
    const test = perClass(mnist.test.labels);
    for (let digit = 0; digit < 10; digit++) {
      const share = train[digit]! / (train[digit]! + test[digit]!);
      assert.ok(Math.abs(share - 0.8) < 0.01, `digit ${digit}: train share ${share}`);
    }
  });

  it('MNIST pixels lie in [0, 1] and the first test images cover every class', async () => {
    const mnist = await loadDataset('mnist', DATA);
    let low = Infinity;
    let high = -Infinity;
    for (const value of mnist.train.images) {
      if (value < low) low = value;
      if (value > high) high = value;
    }
    assert.ok(low >= 0 && high <= 1 && high > 0.9, `range [${low}, ${high}]`);
    assert.equal(new Set(mnist.test.labels.subarray(0, 100)).size, 10);
  });

  it('loading twice gives the same split', async () => {
    const a = await listDatasets().find((d) => d.name === 'mnist')!.load(DATA);
    const b = await listDatasets().find((d) => d.name === 'mnist')!.load(DATA);
    assert.deepEqual(a.test.labels, b.test.labels);
    assert.deepEqual(a.train.images.subarray(0, 784 * 3), b.train.images.subarray(0, 784 * 3));
  });

  it('synthetic data is deterministic and in [0, 1]', async () => {
    const a = await listDatasets().find((d) => d.name === 'synthetic')!.load(DATA);
    const b = await listDatasets().find((d) => d.name === 'synthetic')!.load(DATA);
    assert.deepEqual(a.train.images, b.train.images);
    assert.ok(a.train.images.every((v) => v >= 0 && v <= 1));
  });
});
