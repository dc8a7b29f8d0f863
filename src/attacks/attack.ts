// What every attack shares: the model contract, the input gradient, the L-infinity projection.
import * as tf from '@tensorflow/tfjs';
import type { AttackConfig } from '../config/schema.js';
import type { AttackLoss } from './losses.js';

/** What an attack knows about its target. Inputs are NHWC images in [0, 1]. */
export interface AttackTarget {
  /** Logits of the model (no softmax). */
  logits(images: tf.Tensor4D): tf.Tensor2D;
  /** Temperature the model was trained at (resolves lossTemperature "train"). */
  temperature: number;
}

export interface AttackRun<C extends AttackConfig = AttackConfig> {
  target: AttackTarget;
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  eps: number;
  loss: AttackLoss;
  config: C;
  /** Seed for the attack's own randomness (random starts), fixed per job, attack, eps and batch. */
  seed: number;
}

export interface AttackOutput {
  /** The attack's images: for each example, the first restart that fooled the model, else the last. */
  adversarial: tf.Tensor4D;
  /** 1 where the model still classifies the example correctly after the attack, else 0. */
  robust: tf.Tensor1D;
  /** 1 where the input gradient at the attack's first step was exactly zero, else 0. */
  zeroGradient: tf.Tensor1D;
}

export interface AttackSpec<C extends AttackConfig = AttackConfig> {
  name: C['name'];
  /** One line with the paper, for `temper --help` and the README. */
  description: string;
  /** Parameters recorded in runs.csv (steps, stepSize, ...). */
  params(config: C): Record<string, number | string | boolean>;
  /** Runs on one batch; must not keep tensors beyond the returned ones. */
  run(run: AttackRun<C>): AttackOutput;
}

/** Gradient of the summed attack loss with respect to the input images. */
export function inputGradient(target: AttackTarget, loss: AttackLoss, images: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor4D {
  return tf.grad((x) => tf.sum(loss.apply(target.logits(x as tf.Tensor4D), labels)))(images) as tf.Tensor4D;
}

/** 1 where every component of an example's gradient is exactly zero. */
export function zeroGradientMask(gradient: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.cast(tf.equal(tf.max(tf.abs(gradient), [1, 2, 3]), 0), 'float32') as tf.Tensor1D);
}

/** Projects onto the L-infinity ball of radius eps around the clean images, then onto [0, 1]. */
export function projectLinf(adversarial: tf.Tensor4D, clean: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.minimum(tf.maximum(adversarial, tf.sub(clean, eps)), tf.add(clean, eps)), 0, 1) as tf.Tensor4D);
}

/** 1 where the predicted class equals the label. */
export function correctMask(target: AttackTarget, images: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.cast(tf.equal(tf.argMax(target.logits(images), -1), labels), 'float32') as tf.Tensor1D);
}
