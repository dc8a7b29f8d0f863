// Learned 1-D position embeddings added to the tokens (Dosovitskiy et al., ICLR 2021, eq. 1).
import * as tf from '@tensorflow/tfjs';
import { intSeed } from '../../util/rng.js';
import { featureDim, singleShape, singleTensor, type LayerArgs } from './common.js';

export interface PositionEmbeddingArgs extends LayerArgs {
  /** Seeds the truncated-normal(0.02) start, as in timm's ViT. */
  seed: number;
}

/** [batch, tokens, dim] + a learned [tokens, dim] table, one row per position. */
export class PositionEmbedding extends tf.layers.Layer {
  static className = 'PositionEmbedding';
  readonly seed: number;
  private embedding: tf.LayerVariable | undefined;

  constructor(args: PositionEmbeddingArgs) {
    super(args);
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const tokens = shape[1];
    if (tokens == null) throw new Error('PositionEmbedding: the number of tokens must be known');
    const dim = featureDim(shape, 'PositionEmbedding');
    this.embedding = this.addWeight('embedding', [1, tokens, dim], 'float32', tf.initializers.truncatedNormal({ stddev: 0.02, seed: intSeed('position-embedding', this.seed) }));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.add(singleTensor(inputs), this.embedding!.read()));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(PositionEmbedding);
