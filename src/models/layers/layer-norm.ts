// Layer normalisation (Ba, Kiros & Hinton, arXiv 1607.06450, 2016) over the last axis. tfjs-layers' own
// LayerNormalization tiles gamma, beta and the moments to the input's shape, and Tile's gradient is one
// slice + add per repetition: 16,000 kernels per ViT-Tiny step at batch 2. Broadcasting ops reduce with one Sum.
import * as tf from '@tensorflow/tfjs';
import { featureDim, singleShape, singleTensor, type LayerArgs } from './common.js';
import { layerNormSavingInput } from '../fast-layers.js';

export interface LayerNormArgs extends LayerArgs {
  /** Added to the variance; ViT uses 1e-6. */
  epsilon?: number;
}

/** (x - mean) / sqrt(var + epsilon) * gamma + beta, statistics over the last axis of each token. */
export class LayerNorm extends tf.layers.Layer {
  static className = 'LayerNorm';
  readonly epsilon: number;
  private gamma: tf.LayerVariable | undefined;
  private beta: tf.LayerVariable | undefined;

  constructor(args: LayerNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-6;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const dim = featureDim(singleShape(inputShape), 'LayerNorm');
    this.gamma = this.addWeight('gamma', [dim], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [dim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = singleTensor(inputs);
    // Under a gradient tape one node that keeps x alone (fast-layers.ts); with TEMPER_STOCK_KERNELS=1, op by op.
    if (tf.engine().isTapeOn() && process.env['TEMPER_STOCK_KERNELS'] !== '1' && x.dtype === 'float32') {
      const fused = layerNormSavingInput(x, this.gamma!.read() as tf.Tensor1D, this.beta!.read() as tf.Tensor1D, this.epsilon);
      if (fused !== null) return fused;
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(normalized, this.gamma!.read()), this.beta!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(LayerNorm);
