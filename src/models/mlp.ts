// A two-hidden-layer perceptron: the smallest model that still shows the temperature effect.
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { FastDense } from './fast-layers.js';
import { seededInitializers } from './init.js';
import { sequentialInput } from './layers/index.js';

registerArchitecture({
  name: 'mlp',
  description: 'flatten - dense(256, relu) - dense(128, relu) - dense(classes)',
  build({ inputShape, numClasses, seed, normalization }) {
    const { head, first } = sequentialInput(inputShape, normalization);
    const init = seededInitializers(seed, 'mlp');
    return tf.sequential({
      name: 'mlp',
      layers: [
        ...head,
        tf.layers.flatten(first),
        new FastDense({ units: 256, activation: 'relu', ...init() }),
        new FastDense({ units: 128, activation: 'relu', ...init() }),
        new FastDense({ units: numClasses, ...init() }),
      ],
    });
  },
});
