// Pre-activation ResNet-18 (He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016), CIFAR
// variant: a bare 3x3 stem conv, pre-activation units [2, 2, 2, 2] at 64-128-256-512 filters with 1x1
// projection shortcuts, and the paper's final BN-ReLU before global average pooling (kuangliu/pytorch-cifar
// leaves it out; without it the last unit's sum reaches the classifier un-normalised).
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { seededInitializers } from './init.js';
import { modelInput } from './layers/index.js';
import { batchNorm, conv, poolAndClassify, preActBlock, relu } from './blocks.js';

registerArchitecture({
  name: 'preact-resnet18',
  description: 'conv3x3(64) - pre-activation block x [2, 2, 2, 2] at 64-128-256-512 - bn-relu - global avgpool - dense(classes)',
  build({ inputShape, numClasses, seed, normalization }) {
    const init = seededInitializers(seed, 'preact-resnet18');
    const { input, x: start } = modelInput(inputShape, normalization);
    // Same stem at every input size; the pooled head makes the final map size not matter.
    let x = conv(init, start, 64, 3);
    for (const [stage, filters] of [64, 128, 256, 512].entries()) {
      x = preActBlock(init, x, filters, stage === 0 ? 1 : 2);
      x = preActBlock(init, x, filters, 1);
    }
    return tf.model({ name: 'preact_resnet18', inputs: input, outputs: poolAndClassify(init, relu(batchNorm(x)), numClasses) });
  },
});
