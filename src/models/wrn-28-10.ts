// Wide ResNet WRN-28-10 (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016): a 3x3 stem of 16
// filters, three groups of (28 - 4) / 6 = 4 pre-activation units at 16k-32k-64k = 160-320-640 filters
// (strides 1, 2, 2), final BN-ReLU, global average pooling. Dropout 0, the paper's CIFAR default, so no
// dropout layer is built.
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { seededInitializers } from './init.js';
import { modelInput } from './layers/index.js';
import { batchNorm, conv, poolAndClassify, preActBlock, relu } from './blocks.js';

const DEPTH = 28;
const WIDEN = 10;
const UNITS_PER_GROUP = (DEPTH - 4) / 6;

registerArchitecture({
  name: 'wrn-28-10',
  description: `conv3x3(16) - ${UNITS_PER_GROUP} wide pre-activation units each at ${16 * WIDEN}-${32 * WIDEN}-${64 * WIDEN} - bn-relu - global avgpool - dense(classes)`,
  build({ inputShape, numClasses, seed, normalization }) {
    const init = seededInitializers(seed, 'wrn-28-10');
    const { input, x: start } = modelInput(inputShape, normalization);
    // Same stem at every input size; the pooled head makes the final map size (7, 8, 16) not matter.
    let x = conv(init, start, 16, 3);
    for (const [group, filters] of [16 * WIDEN, 32 * WIDEN, 64 * WIDEN].entries()) {
      for (let unit = 0; unit < UNITS_PER_GROUP; unit++) x = preActBlock(init, x, filters, group > 0 && unit === 0 ? 2 : 1);
    }
    return tf.model({ name: 'wrn_28_10', inputs: input, outputs: poolAndClassify(init, relu(batchNorm(x)), numClasses) });
  },
});
