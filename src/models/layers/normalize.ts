// Per-channel (x - mean) / std as the model's first layer, so attacks keep working in [0, 1] pixel space.
import * as tf from '@tensorflow/tfjs';
import type { Normalization } from '../../data/types.js';
import { featureDim, singleShape, singleTensor, type LayerArgs } from './common.js';

export interface NormalizeArgs extends LayerArgs, Normalization {}

/** Normalises the last (channel) axis with constants kept in the config: nothing to train, nothing in weights.bin. */
export class Normalize extends tf.layers.Layer {
  static className = 'Normalize';
  readonly mean: number[];
  readonly std: number[];

  constructor(args: NormalizeArgs) {
    super(args);
    if (args.mean.length !== args.std.length) throw new Error(`Normalize: ${args.mean.length} means but ${args.std.length} stds`);
    if (args.std.some((s) => !(s > 0))) throw new Error(`Normalize: every std must be > 0, got [${args.std.join(', ')}]`);
    this.mean = [...args.mean];
    this.std = [...args.std];
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const channels = featureDim(singleShape(inputShape), 'Normalize');
    if (channels !== this.mean.length) throw new Error(`Normalize: input has ${channels} channels but the statistics have ${this.mean.length}`);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.div(tf.sub(singleTensor(inputs), tf.tensor1d(this.mean)), tf.tensor1d(this.std)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mean: this.mean, std: this.std };
  }
}
tf.serialization.registerClass(Normalize);

/** The input of a functional model, and the tensor its first real layer reads (normalised when statistics are given). */
export function modelInput(inputShape: tf.Shape, normalization?: Normalization): { input: tf.SymbolicTensor; x: tf.SymbolicTensor } {
  const input = tf.input({ shape: inputShape });
  const x = normalization ? (new Normalize(normalization).apply(input) as tf.SymbolicTensor) : input;
  return { input, x };
}

/**
 * The leading layers of a sequential model: Normalize when statistics are given, and the arguments
 * (inputShape) for the first layer after it, so a model without statistics is built exactly as before.
 */
export function sequentialInput(inputShape: tf.Shape, normalization?: Normalization): { head: tf.layers.Layer[]; first: { inputShape?: tf.Shape } } {
  if (!normalization) return { head: [], first: { inputShape } };
  return { head: [new Normalize({ inputShape, ...normalization })], first: {} };
}
