// The ViT class token (Dosovitskiy et al., ICLR 2021, eq. 1): a learned token prepended to the patches,
// whose final state is the image representation the classifier reads.
import * as tf from '@tensorflow/tfjs';
import { intSeed } from '../../util/rng.js';
import { featureDim, singleShape, singleTensor, type LayerArgs } from './common.js';

export interface ClassTokenArgs extends LayerArgs {
  /** Seeds the truncated-normal(0.02) start of the token, as in timm's ViT. */
  seed: number;
}

/** [batch, tokens, dim] -> [batch, 1 + tokens, dim], the learned token first. */
export class ClassToken extends tf.layers.Layer {
  static className = 'ClassToken';
  readonly seed: number;
  private token: tf.LayerVariable | undefined;

  constructor(args: ClassTokenArgs) {
    super(args);
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const dim = featureDim(singleShape(inputShape), 'ClassToken');
    this.token = this.addWeight('token', [1, 1, dim], 'float32', tf.initializers.truncatedNormal({ stddev: 0.02, seed: intSeed('class-token', this.seed) }));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, tokens, dim] = singleShape(inputShape);
    return [batch!, tokens == null ? null : tokens + 1, dim!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs);
      // A broadcasting add, not tile: Tile's gradient is one slice per repetition, the add's one Sum.
      const tokens = tf.add(this.token!.read(), tf.zeros([x.shape[0], 1, x.shape[2]!]));
      return tf.concat([tokens, x], 1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(ClassToken);

/** [batch, tokens, dim] -> [batch, dim]: the state of the first (class) token. */
export class ClassTokenReadout extends tf.layers.Layer {
  static className = 'ClassTokenReadout';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, , dim] = singleShape(inputShape);
    return [batch!, dim!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs);
      return tf.reshape(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [x.shape[0], x.shape[2]!]);
    });
  }
}
tf.serialization.registerClass(ClassTokenReadout);
