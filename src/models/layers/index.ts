// The project's custom layers; importing this registers them with tf.serialization so saved models load back.
export { Normalize, modelInput, sequentialInput } from './normalize.js';
export { LayerNorm } from './layer-norm.js';
export { MultiHeadSelfAttention } from './multi-head-attention.js';
export { ClassToken, ClassTokenReadout } from './class-token.js';
export { PositionEmbedding } from './position-embedding.js';
