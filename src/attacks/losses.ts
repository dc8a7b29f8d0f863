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

/** z_y per example. */
export function logitAt(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(logits, tf.oneHot(labels, logits.shape[1])), -1) as tf.Tensor1D);
}

/** max_{j != y} z_j per example. */
export function bestOtherLogit(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const isLabel = tf.cast(tf.oneHot(labels, logits.shape[1]), 'bool');
    return tf.max(tf.where(isLabel, tf.fill(logits.shape, -Infinity), logits), -1) as tf.Tensor1D;
  });
}

/** CW margin max_{j != y} z_j - z_y (Carlini & Wagner, 2017): unchanged by rescaling z, so T cannot mask it. */
export function cwMargin(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(bestOtherLogit(logits, labels), logitAt(logits, labels)) as tf.Tensor1D);
}

/**
 * The k largest logits per example, largest first, as k tensors of shape [n]. Built from max and argMax (masking out
 * each winner in turn) because tfjs has no gradient for TopK.
 */
export function largestLogits(logits: tf.Tensor2D, k: number): tf.Tensor1D[] {
  return tf.tidy(() => {
    const values: tf.Tensor1D[] = [];
    let remaining: tf.Tensor2D = logits;
    for (let i = 0; i < k; i++) {
      values.push(tf.max(remaining, -1) as tf.Tensor1D);
      if (i === k - 1) break;
      const winner = tf.cast(tf.oneHot(tf.argMax(remaining, -1), logits.shape[1]), 'bool');
      remaining = tf.where(winner, tf.fill(logits.shape, -Infinity), remaining) as tf.Tensor2D;
    }
    return values;
  });
}

// Keeps the DLR denominator away from 0 when the top logits tie (AutoAttack uses the same constant).
const DLR_EPSILON = 1e-12;

/**
 * Difference of Logits Ratio (Croce & Hein, ICML 2020, eq. 6): -(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3), with pi the
 * logits sorted in decreasing order. Invariant to shifting and rescaling the logits. Needs at least 3 classes.
 */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const [first, , third] = largestLogits(logits, 3) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    return tf.div(cwMargin(logits, labels), tf.add(tf.sub(first, third), DLR_EPSILON)) as tf.Tensor1D;
  });
}

/**
 * Targeted DLR (Croce & Hein, 2020, eq. 7), to ascend: (z_t - z_y) / (z_pi1 - (z_pi3 + z_pi4) / 2). Needs 4 classes.
 */
export function targetedDlrObjective(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const [first, , third, fourth] = largestLogits(logits, 4) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const scale = tf.add(tf.sub(first, tf.mul(tf.add(third, fourth), 0.5)), DLR_EPSILON);
    return tf.div(tf.sub(logitAt(logits, targets), logitAt(logits, labels)), scale) as tf.Tensor1D;
  });
}

export interface AttackLoss {
  name: LossName;
  /**
   * Per-example objective that the attack maximises. Untargeted (no `targets`): the loss of the true label. Targeted:
   * an objective that grows as the target class wins (-CE of the target, the target's CW margin, targeted DLR).
   */
  apply(logits: tf.Tensor2D, labels: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor1D;
}

/** The loss an attack ascends; `temperature` is the resolved lossTemperature (used by "ce" only). */
export function attackLoss(name: LossName, temperature: number): AttackLoss {
  switch (name) {
    case 'ce':
      return {
        name,
        apply: (logits, labels, targets) =>
          targets ? tf.tidy(() => tf.neg(temperatureCrossEntropy(logits, targets, temperature))) : temperatureCrossEntropy(logits, labels, temperature),
      };
    case 'cw':
      return { name, apply: (logits, labels, targets) => (targets ? tf.tidy(() => tf.neg(cwMargin(logits, targets))) : cwMargin(logits, labels)) };
    case 'dlr':
      return { name, apply: (logits, labels, targets) => (targets ? targetedDlrObjective(logits, labels, targets) : dlrLoss(logits, labels)) };
  }
}
