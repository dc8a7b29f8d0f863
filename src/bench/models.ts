// The benchmark models: the two of /work/shared/PERF.md, the project's `cnn-small` on 28x28x1 and `vgg6-bn`, a small
// batch-norm conv net on 32x32x3 that only the benchmark uses (BatchNorm in training mode is the slow part on GPUs);
// and the registered paper-class nets `resnet18` and `vit-tiny` on 32x32x3, which take minutes per measurement on a CPU.
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../models/index.js';
import { seededInitializers } from '../models/init.js';
import { modelInput } from '../models/layers/index.js';
import { batchNorm, conv, relu } from '../models/blocks.js';
import { FastDense } from '../models/fast-layers.js';

export const BENCH_MODELS = ['cnn-small', 'vgg6-bn', 'resnet18', 'vit-tiny'] as const;
export type BenchModelName = (typeof BENCH_MODELS)[number];
/** What `temper bench` measures unless --model names others: the small two, so that it stays quick. */
export const DEFAULT_BENCH_MODELS: BenchModelName[] = ['cnn-small', 'vgg6-bn'];

export interface BenchModelSpec {
  name: BenchModelName;
  description: string;
  inputShape: [number, number, number];
  numClasses: number;
  build(seed: number): tf.LayersModel;
}

/** vgg6-bn: 2x[conv3x3-BN-relu] at 64, 128 and 256 filters, each pair followed by a 2x2 max-pool, then dense(classes). */
function buildVgg6Bn(inputShape: [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  // Seeded like the registered architectures: He-normal bias-free convs (each feeds a BN), Glorot dense.
  const init = seededInitializers(seed, 'vgg6-bn');
  const { input, x: start } = modelInput(inputShape);
  let x = start;
  for (const filters of [64, 128, 256]) {
    x = relu(batchNorm(conv(init, x, filters, 3)));
    x = relu(batchNorm(conv(init, x, filters, 3)));
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  }
  const flat = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  const logits = new FastDense({ units: numClasses, ...init() }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ name: 'vgg6_bn', inputs: input, outputs: logits });
}

/** A registered architecture (createModel) on 32x32x3 with 10 classes, as the paper's CIFAR-10 nets. */
function registered(name: 'resnet18' | 'vit-tiny'): BenchModelSpec {
  return {
    name,
    description: `the registered ${name} architecture (createModel), 32x32x3, 10 classes`,
    inputShape: [32, 32, 3],
    numClasses: 10,
    build: (seed) => createModel(name, { inputShape: [32, 32, 3], numClasses: 10, seed }),
  };
}

export const BENCH_MODEL_SPECS: Record<BenchModelName, BenchModelSpec> = {
  'cnn-small': {
    name: 'cnn-small',
    description: 'the registered cnn-small architecture (createModel), 28x28x1, 10 classes',
    inputShape: [28, 28, 1],
    numClasses: 10,
    build: (seed) => createModel('cnn-small', { inputShape: [28, 28, 1], numClasses: 10, seed }),
  },
  'vgg6-bn': {
    name: 'vgg6-bn',
    description: '2x[conv3x3-BN-relu] at 64, 128, 256 filters, each pair then maxpool2, then dense(10); 32x32x3',
    inputShape: [32, 32, 3],
    numClasses: 10,
    build: (seed) => buildVgg6Bn([32, 32, 3], 10, seed),
  },
  resnet18: registered('resnet18'),
  'vit-tiny': registered('vit-tiny'),
};
