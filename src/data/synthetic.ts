// A tiny generated dataset for tests: each class is a fixed random pattern plus noise.
import { registerDataset } from './registry.js';
import type { Dataset, Split } from './types.js';
import { rng, type Rng } from '../util/rng.js';

export const SYNTHETIC_SHAPE: [number, number, number] = [12, 12, 1];
const CLASSES = 4;
const TRAIN = 512;
const TEST = 256;
const NOISE = 0.3;

function generate(count: number, prototypes: Float32Array[], random: Rng): Split {
  const size = prototypes[0]!.length;
  const images = new Float32Array(count * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % CLASSES;
    labels[i] = label;
    const prototype = prototypes[label]!;
    for (let p = 0; p < size; p++) {
      const value = prototype[p]! + (random() - 0.5) * 2 * NOISE;
      images[i * size + p] = Math.min(1, Math.max(0, value));
    }
  }
  return { images, labels, count };
}

export function makeSynthetic(): Dataset {
  const [h, w, c] = SYNTHETIC_SHAPE;
  const random = rng('synthetic');
  const prototypes = Array.from({ length: CLASSES }, () => Float32Array.from({ length: h * w * c }, () => (random() < 0.5 ? 0.4 : 0.6)));
  return {
    name: 'synthetic',
    imageShape: SYNTHETIC_SHAPE,
    numClasses: CLASSES,
    train: generate(TRAIN, prototypes, random),
    test: generate(TEST, prototypes, random),
  };
}

registerDataset({
  name: 'synthetic',
  imageShape: SYNTHETIC_SHAPE,
  numClasses: CLASSES,
  description: `generated ${SYNTHETIC_SHAPE.join('x')} patterns, ${CLASSES} classes, ${TRAIN} train / ${TEST} test (for tests and smoke runs)`,
  source: 'generated from a fixed seed',
  present: () => true,
  load: async () => makeSynthetic(),
});
