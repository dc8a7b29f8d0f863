// ResNet-18 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016), CIFAR variant as in
// kuangliu/pytorch-cifar: a 3x3 stem conv and no max-pool (32-pixel inputs), BasicBlocks [2, 2, 2, 2] at
// 64-128-256-512 filters, 1x1-conv + BN projection shortcuts where the shape changes, global average pooling.
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { seededInitializers, type SeededInitializers } from './init.js';
import { modelInput } from './layers/index.js';
import { add, batchNorm, conv, poolAndClassify, relu } from './blocks.js';

/** conv3x3-BN-ReLU-conv3x3-BN plus the (projected) input, then ReLU: the paper's fig. 2. */
function basicBlock(init: SeededInitializers, x: tf.SymbolicTensor, filters: number, strides: number): tf.SymbolicTensor {
  const residual = batchNorm(conv(init, relu(batchNorm(conv(init, x, filters, 3, strides))), filters, 3));
  const projected = strides !== 1 || x.shape.at(-1) !== filters;
  return relu(add(residual, projected ? batchNorm(conv(init, x, filters, 1, strides)) : x));
}

registerArchitecture({
  name: 'resnet18',
  description: 'conv3x3(64)-bn-relu - BasicBlock x [2, 2, 2, 2] at 64-128-256-512 - global avgpool - dense(classes)',
  build({ inputShape, numClasses, seed, normalization }) {
    const init = seededInitializers(seed, 'resnet18');
    const { input, x: start } = modelInput(inputShape, normalization);
    // The stem is the same at 28, 32 and 64 pixels; the pooled head makes the map size (4, 4, 8) not matter.
    let x = relu(batchNorm(conv(init, start, 64, 3)));
    for (const [stage, filters] of [64, 128, 256, 512].entries()) {
      x = basicBlock(init, x, filters, stage === 0 ? 1 : 2);
      x = basicBlock(init, x, filters, 1);
    }
    return tf.model({ name: 'resnet18', inputs: input, outputs: poolAndClassify(init, x, numClasses) });
  },
});
