// Per-example losses on logits z; attacks ascend them, training descends the cross-entropy.
import * as tf from '@tensorflow/tfjs';
import type { LossName } from '../config/schema.js';

/** CE(softmax(z / T), y) per example: the paper's training loss at temperature T. */
export function temperatureCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, temperature: number): tf.Tensor1D {
  return tf.tidy(() => {
    const logProbabilities = tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature));
    const oneHot = tf.oneHot(labels, logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(logProbabilities, oneHot), -1)) as tf.Tensor1D;
  });
}

/**
 * CE(softmax(z / T), (1 - s) * onehot(y) + s / K) per example: the training loss with label smoothing s
 * (Szegedy et al., 2016); s = 0 is exactly temperatureCrossEntropy.
 */
export function smoothedTemperatureCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, temperature: number, smoothing: number): tf.Tensor1D {
  if (smoothing === 0) return temperatureCrossEntropy(logits, labels, temperature);
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const logProbabilities = tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature));
    const targets = tf.add(tf.mul(tf.oneHot(labels, classes), 1 - smoothing), smoothing / classes);
    return tf.neg(tf.sum(tf.mul(logProbabilities, targets), -1)) as tf.Tensor1D;
  });
}

/** CW margin max_{j != y} z_j - z_y (Carlini & Wagner, 2017): unchanged by rescaling z, so T cannot mask it. */
export function cwMargin(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const isTrue = tf.cast(tf.oneHot(labels, logits.shape[1]), 'bool');
    const trueLogit = tf.sum(tf.mul(logits, tf.cast(isTrue, 'float32')), -1);
    const bestOther = tf.max(tf.where(isTrue, tf.fill(logits.shape, -Infinity), logits), -1);
    return tf.sub(bestOther, trueLogit) as tf.Tensor1D;
  });
}

export interface AttackLoss {
  name: LossName;
  /** Per-example loss that the attack maximises. */
  apply(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D;
}

/** The loss an attack ascends; `temperature` is the resolved lossTemperature (used by "ce" only). */
export function attackLoss(name: LossName, temperature: number): AttackLoss {
  switch (name) {
    case 'ce':
      return { name, apply: (logits, labels) => temperatureCrossEntropy(logits, labels, temperature) };
    case 'cw':
      return { name, apply: cwMargin };
  }
}
