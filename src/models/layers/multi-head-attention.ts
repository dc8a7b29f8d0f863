// Multi-head self-attention (Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.2):
// tfjs-layers has no attention layer, so this one follows its Dense layer's weights/getConfig shape.
import * as tf from '@tensorflow/tfjs';
import { intSeed } from '../../util/rng.js';
import { featureDim, singleShape, singleTensor, type LayerArgs } from './common.js';

export interface MultiHeadSelfAttentionArgs extends LayerArgs {
  numHeads: number;
  /** Seeds the four Glorot-uniform kernels; biases start at zero. */
  seed: number;
}

/** [batch, tokens, dim] -> [batch, tokens, dim]: every token attends to every token, in `numHeads` heads of dim / numHeads features. */
export class MultiHeadSelfAttention extends tf.layers.Layer {
  static className = 'MultiHeadSelfAttention';
  readonly numHeads: number;
  readonly seed: number;
  private projections: Record<'query' | 'key' | 'value' | 'output', { kernel: tf.LayerVariable; bias: tf.LayerVariable }> | undefined;

  constructor(args: MultiHeadSelfAttentionArgs) {
    super(args);
    if (!Number.isInteger(args.numHeads) || args.numHeads < 1) throw new Error(`MultiHeadSelfAttention: numHeads must be a positive integer, got ${args.numHeads}`);
    this.numHeads = args.numHeads;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const dim = featureDim(singleShape(inputShape), 'MultiHeadSelfAttention');
    if (dim % this.numHeads !== 0) throw new Error(`MultiHeadSelfAttention: dim ${dim} is not divisible by ${this.numHeads} heads`);
    const projection = (name: string) => ({
      kernel: this.addWeight(`${name}/kernel`, [dim, dim], 'float32', tf.initializers.glorotUniform({ seed: intSeed('attention', this.seed, name) })),
      bias: this.addWeight(`${name}/bias`, [dim], 'float32', tf.initializers.zeros()),
    });
    this.projections = { query: projection('query'), key: projection('key'), value: projection('value'), output: projection('output') };
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const { query, key, value, output } = this.projections!;
      const x = singleTensor(inputs);
      const [batch, tokens, dim] = x.shape as [number, number, number];
      const headDim = dim / this.numHeads;
      const rows = tf.reshape(x, [batch * tokens, dim]);
      // [batch*tokens, dim] -> [batch*heads, tokens, headDim]: each head gets its own slice of the projected features.
      const heads = (p: { kernel: tf.LayerVariable; bias: tf.LayerVariable }) =>
        tf.reshape(tf.transpose(tf.reshape(tf.add(tf.matMul(rows, p.kernel.read()), p.bias.read()), [batch, tokens, this.numHeads, headDim]), [0, 2, 1, 3]), [batch * this.numHeads, tokens, headDim]);
      // softmax(Q K^T / sqrt(d_k)) V, Vaswani et al. eq. 1; the scale goes on Q, the smaller tensor.
      const scores = tf.matMul(tf.mul(heads(query), 1 / Math.sqrt(headDim)), heads(key), false, true);
      const context = tf.matMul(tf.softmax(scores), heads(value));
      const merged = tf.reshape(tf.transpose(tf.reshape(context, [batch, this.numHeads, tokens, headDim]), [0, 2, 1, 3]), [batch * tokens, dim]);
      return tf.reshape(tf.add(tf.matMul(merged, output.kernel.read()), output.bias.read()), [batch, tokens, dim]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads, seed: this.seed };
  }
}
tf.serialization.registerClass(MultiHeadSelfAttention);
