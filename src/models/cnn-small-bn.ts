// cnn-small with batch norm after each convolution: conv3x3(32)-BN-relu-maxpool2 - conv3x3(64)-BN-relu-maxpool2 -
// dense(128, relu) - dense(classes). The cheapest BN conv net, close to cnn-small in cost, so a sweep can set a
// plain conv net beside a BN one on a laptop.
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { FastDense } from './fast-layers.js';
import { seededInitializers } from './init.js';
import { modelInput } from './layers/index.js';
import { batchNorm, conv, relu } from './blocks.js';

registerArchitecture({
  name: 'cnn-small-bn',
  description: 'conv3x3(32)-bn-relu-maxpool2 - conv3x3(64)-bn-relu-maxpool2 - dense(128, relu) - dense(classes)',
  build({ inputShape, numClasses, seed, normalization }) {
    const init = seededInitializers(seed, 'cnn-small-bn');
    const { input, x: start } = modelInput(inputShape, normalization);
    let x = start;
    for (const filters of [32, 64]) {
      x = relu(batchNorm(conv(init, x, filters, 3)));
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
    x = new FastDense({ units: 128, activation: 'relu', ...init() }).apply(x) as tf.SymbolicTensor;
    const logits = new FastDense({ units: numClasses, ...init() }).apply(x) as tf.SymbolicTensor;
    return tf.model({ name: 'cnn_small_bn', inputs: input, outputs: logits });
  },
});
