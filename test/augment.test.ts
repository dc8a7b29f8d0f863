import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { smallConfig, wasmBackend, DATA } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { loadDataset } from '../src/data/index.js';
import { createModel } from '../src/models/index.js';
import { trainModel } from '../src/train/train.js';
import { augmentBatch, augmentationEnabled } from '../src/train/augment.js';
import { batchTensors } from '../src/train/batches.js';
import type { AugmentConfig } from '../src/config/schema.js';
import { rng } from '../src/util/rng.js';

const SHAPE: [number, number, number] = [9, 9, 3];
const IMAGE_SIZE = 9 * 9 * 3;

/** `count` images, each all zeros but one pixel (all channels) set to 1 at (y, x). */
function onePixelImages(count: number, y: number, x: number): Float32Array {
  const images = new Float32Array(count * IMAGE_SIZE);
  for (let n = 0; n < count; n++) for (let k = 0; k < 3; k++) images[n * IMAGE_SIZE + (y * 9 + x) * 3 + k] = 1;
  return images;
}

/** Where the lit pixels of image `n` are, as [y, x] (every channel must agree). */
function litPixels(images: Float32Array, n: number): Array<[number, number]> {
  const lit: Array<[number, number]> = [];
  for (let p = 0; p < 81; p++) {
    const channels = [0, 1, 2].map((k) => images[n * IMAGE_SIZE + p * 3 + k]);
    assert.ok(channels.every((v) => v === channels[0]), `image ${n}: channels disagree at pixel ${p}`);
    if (channels[0] !== 0) lit.push([Math.floor(p / 9), p % 9]);
  }
  return lit;
}

const crop = (randomCrop: number, horizontalFlip = false): AugmentConfig => ({ randomCrop, horizontalFlip });

describe('training augmentation', () => {
  before(wasmBackend);

  it('a random crop moves each image by at most randomCrop pixels each way, and uses every offset', () => {
    const images = onePixelImages(400, 4, 4);
    const out = augmentBatch(images, 400, SHAPE, crop(2), rng('augment', 0, 1, 0));
    const offsets = new Set<string>();
    for (let n = 0; n < 400; n++) {
      const lit = litPixels(out, n);
      assert.equal(lit.length, 1, `image ${n}: the centre pixel stays inside a crop of a 2-pixel pad`);
      const [dy, dx] = [lit[0]![0] - 4, lit[0]![1] - 4];
      assert.ok(Math.abs(dy) <= 2 && Math.abs(dx) <= 2, `image ${n} moved by (${dy}, ${dx})`);
      offsets.add(`${dy},${dx}`);
    }
    assert.equal(offsets.size, 25, 'all 5 x 5 offsets occur');
  });

  it('the crop fills with zeros: a corner pixel is kept or cropped away, never wrapped around', () => {
    const images = onePixelImages(200, 0, 0);
    const out = augmentBatch(images, 200, SHAPE, crop(3), rng('augment', 0, 1, 1));
    let croppedAway = 0;
    for (let n = 0; n < 200; n++) {
      const lit = litPixels(out, n);
      if (lit.length === 0) croppedAway++;
      else assert.ok(lit[0]![0] <= 3 && lit[0]![1] <= 3, `image ${n}: corner pixel at ${lit[0]}`);
    }
    // The pixel survives only when both offsets are <= 0: 4 of 7 each way.
    assert.ok(croppedAway > 200 * 0.5 && croppedAway < 200 * 0.8, `${croppedAway} of 200 cropped away`);
  });

  it('a flip mirrors the image left-right, for about half the images', () => {
    const images = Float32Array.from({ length: 200 * IMAGE_SIZE }, (_, i) => (i % 97) / 97);
    const out = augmentBatch(images, 200, SHAPE, crop(0, true), rng('augment', 3, 2, 5));
    let flipped = 0;
    for (let n = 0; n < 200; n++) {
      const original = images.subarray(n * IMAGE_SIZE, (n + 1) * IMAGE_SIZE);
      const result = out.subarray(n * IMAGE_SIZE, (n + 1) * IMAGE_SIZE);
      const mirrored = new Float32Array(IMAGE_SIZE);
      for (let y = 0; y < 9; y++) for (let x = 0; x < 9; x++) for (let k = 0; k < 3; k++) mirrored[(y * 9 + x) * 3 + k] = original[(y * 9 + 8 - x) * 3 + k]!;
      if (result.every((v, i) => v === mirrored[i])) flipped++;
      else assert.deepEqual(result, original, `image ${n} is neither itself nor its mirror`);
    }
    assert.ok(flipped > 60 && flipped < 140, `${flipped} of 200 flipped`);
  });

  it('the same seed, epoch and step give the same batch; another step gives another', () => {
    const images = Float32Array.from({ length: 64 * IMAGE_SIZE }, (_, i) => (i % 31) / 31);
    const config = crop(2, true);
    const first = augmentBatch(images, 64, SHAPE, config, rng('augment', 7, 1, 3));
    assert.deepEqual(augmentBatch(images, 64, SHAPE, config, rng('augment', 7, 1, 3)), first);
    assert.notDeepEqual(augmentBatch(images, 64, SHAPE, config, rng('augment', 7, 1, 4)), first);
  });

  it('is off with randomCrop 0 and no flip, and then batches carry the dataset pixels untouched', async () => {
    assert.equal(augmentationEnabled(crop(0)), false);
    assert.equal(augmentationEnabled(crop(1)), true);
    assert.equal(augmentationEnabled(crop(0, true)), true);
    const dataset = await loadDataset('synthetic', DATA);
    const size = dataset.imageShape.reduce((a, b) => a * b);
    const batch = batchTensors(dataset.train, dataset.imageShape, [5, 2]);
    const pixels = batch.images.dataSync();
    tf.dispose([batch.images, batch.labels]);
    assert.deepEqual(pixels.subarray(0, size), dataset.train.images.subarray(5 * size, 6 * size));
    assert.deepEqual(pixels.subarray(size), dataset.train.images.subarray(2 * size, 3 * size));
  });

  describe('in training', () => {
    it('changes the training losses, the same way every time, and keeps the number of live tensors constant', async () => {
      const dataset = await loadDataset('synthetic', DATA);
      const losses = async (augment: AugmentConfig) => {
        const [job] = expandGrid(smallConfig({ architectures: ['cnn-small'], training: { epochs: 2, batchSize: 32 }, data: { augment } }));
        const model = createModel('cnn-small', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
        const counts: number[] = [];
        const { epochLosses } = await trainModel(model, dataset, job!, { onStep: () => counts.push(tf.memory().numTensors) });
        model.dispose();
        // Adam creates its moment slots on the first step; from then on nothing may accumulate.
        assert.deepEqual(new Set(counts.slice(1)), new Set([counts[1]]));
        return epochLosses;
      };
      const plain = await losses(crop(0));
      const augmented = await losses(crop(2, true));
      assert.notDeepEqual(augmented, plain);
      assert.ok(augmented.every(Number.isFinite), `losses ${augmented.join(', ')}`);
      assert.deepEqual(await losses(crop(2, true)), augmented);
    });
  });
});
