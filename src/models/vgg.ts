// VGG with batch norm (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
// Recognition", ICLR 2015, configurations A and D), in the CIFAR form: conv3x3-BN-ReLU, five 2x2 max-pools,
// one linear classifier on the 512 channels (as in kuangliu/pytorch-cifar).
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { seededInitializers } from './init.js';
import { modelInput } from './layers/index.js';
import { batchNorm, conv, poolAndClassify, relu } from './blocks.js';

type Stage = number | 'pool';

const CONFIGURATIONS: Record<'vgg11' | 'vgg16', Stage[]> = {
  vgg11: [64, 'pool', 128, 'pool', 256, 256, 'pool', 512, 512, 'pool', 512, 512, 'pool'],
  vgg16: [64, 64, 'pool', 128, 128, 'pool', 256, 256, 256, 'pool', 512, 512, 512, 'pool', 512, 512, 512, 'pool'],
};

for (const [name, stages] of Object.entries(CONFIGURATIONS)) {
  registerArchitecture({
    name,
    description: `${stages.map((s) => (s === 'pool' ? 'maxpool2' : `conv3x3(${s})-bn-relu`)).join(' - ')} - global avgpool - dense(classes)`,
    build({ inputShape, numClasses, seed, normalization }) {
      const init = seededInitializers(seed, name);
      const { input, x: start } = modelInput(inputShape, normalization);
      let x = start;
      // 'same' pools round up (28 -> 14 -> 7 -> 4 -> 2 -> 1); a pool is skipped once the map is 1x1, for smaller inputs.
      let side = Math.min(inputShape[0], inputShape[1]);
      for (const stage of stages) {
        if (stage !== 'pool') {
          x = relu(batchNorm(conv(init, x, stage, 3)));
        } else if (side > 1) {
          x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
          side = Math.ceil(side / 2);
        }
      }
      // The map is 1x1 at 28 and 32 pixels (pooling is then a reshape) and 2x2 at 64, where it averages.
      return tf.model({ name, inputs: input, outputs: poolAndClassify(init, x, numClasses) });
    },
  });
}
