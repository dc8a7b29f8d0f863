// ViT-Tiny (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021; the Tiny size of Touvron et al.,
// DeiT, ICML 2021): 4x4 patches, embedding 192, 12 pre-norm blocks of 3-head self-attention and a GELU MLP
// of ratio 4, LayerNorm (epsilon 1e-6), learned position embeddings, and the class token as the readout.
import * as tf from '@tensorflow/tfjs';
import { registerArchitecture } from './registry.js';
import { FastDense } from './fast-layers.js';
import { seededInitializers } from './init.js';
import { ClassToken, ClassTokenReadout, LayerNorm, modelInput, MultiHeadSelfAttention, PositionEmbedding } from './layers/index.js';

const PATCH = 4;
const DIM = 192;
const DEPTH = 12;
const HEADS = 3;
const MLP_RATIO = 4;

type Tensor = tf.SymbolicTensor;

const layerNorm = (x: Tensor) => new LayerNorm({ epsilon: 1e-6 }).apply(x) as Tensor;
const add = (a: Tensor, b: Tensor) => tf.layers.add().apply([a, b]) as Tensor;

registerArchitecture({
  name: 'vit-tiny',
  description: `patch ${PATCH} - dim ${DIM} - ${DEPTH} blocks of ${HEADS}-head attention + MLP x${MLP_RATIO} - class token - dense(classes)`,
  build({ inputShape, numClasses, seed, normalization }) {
    const [height, width] = inputShape;
    if (height % PATCH !== 0 || width % PATCH !== 0) throw new Error(`vit-tiny: input ${height}x${width} is not a multiple of the ${PATCH}-pixel patch`);
    const init = seededInitializers(seed, 'vit-tiny');
    const { input, x: start } = modelInput(inputShape, normalization);
    // The patch embedding is a conv with kernel = stride = patch; 28, 32 and 64 pixels give 49, 64 and 256 patches, same depth.
    const patches = tf.layers.conv2d({ filters: DIM, kernelSize: PATCH, strides: PATCH, padding: 'valid', ...init() }).apply(start) as Tensor;
    let tokens = tf.layers.reshape({ targetShape: [(height / PATCH) * (width / PATCH), DIM] }).apply(patches) as Tensor;
    tokens = new ClassToken({ seed: init.seed() }).apply(tokens) as Tensor;
    tokens = new PositionEmbedding({ seed: init.seed() }).apply(tokens) as Tensor;
    for (let block = 0; block < DEPTH; block++) {
      // Pre-norm residual blocks, Dosovitskiy et al. eqs. 2-3.
      tokens = add(tokens, new MultiHeadSelfAttention({ numHeads: HEADS, seed: init.seed() }).apply(layerNorm(tokens)) as Tensor);
      const hidden = new FastDense({ units: DIM * MLP_RATIO, activation: 'gelu', ...init() }).apply(layerNorm(tokens)) as Tensor;
      tokens = add(tokens, new FastDense({ units: DIM, ...init() }).apply(hidden) as Tensor);
    }
    const representation = new ClassTokenReadout({}).apply(layerNorm(tokens)) as Tensor;
    return tf.model({ name: 'vit_tiny', inputs: input, outputs: new FastDense({ units: numClasses, ...init() }).apply(representation) as Tensor });
  },
});
