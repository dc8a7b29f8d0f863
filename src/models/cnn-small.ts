// The small CNN of PERF.md: conv3x3(32)-relu-maxpool-conv3x3(64)-relu-maxpool-dense(128)-dense(classes).
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { seededInitializers } from './init.js';
import { sequentialInput } from './layers/index.js';
import { FastConv2D, FastDense } from './fast-layers.js';

registerArchitecture({
  name: 'cnn-small',
  description: 'conv3x3(32)-relu-maxpool2 - conv3x3(64)-relu-maxpool2 - dense(128, relu) - dense(classes)',
  build({ inputShape, numClasses, seed, normalization }) {
    const { head, first } = sequentialInput(inputShape, normalization);
    const init = seededInitializers(seed, 'cnn-small');
    return tf.sequential({
      name: 'cnn_small',
      layers: [
        ...head,
        new FastConv2D({ ...first, filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', ...init() }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        new FastConv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', ...init() }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.flatten(),
        new FastDense({ units: 128, activation: 'relu', ...init() }),
        new FastDense({ units: numClasses, ...init() }),
      ],
    });
  },
});
