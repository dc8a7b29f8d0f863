// Calibration of softmax(z / T): expected calibration error over equal-width confidence bins (Guo et al., ICML 2017)
// and mean negative log-likelihood. Computed from per-bin sums so batches add up on the device.
import * as tf from '@tensorflow/tfjs';
import type { CalibrationMetrics } from '../types.js';

/** Bins of the expected calibration error, as in Guo et al. (2017). */
export const ECE_BINS = 15;

/**
 * Sums for one batch, [3 * bins + 1]: per bin the count, the summed confidence and the number correct, then the summed
 * negative log-likelihood. Confidence is the largest probability; bin b holds confidences in (b / bins, (b + 1) / bins].
 */
export function calibrationSums(logits: tf.Tensor2D, labels: tf.Tensor1D, temperature: number, bins = ECE_BINS): tf.Tensor1D {
  return tf.tidy(() => {
    const logProbabilities = tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature));
    const confidence = tf.exp(tf.max(logProbabilities, -1));
    const correct = tf.cast(tf.equal(tf.argMax(logProbabilities, -1), labels), 'float32');
    const nll = tf.neg(tf.sum(tf.mul(logProbabilities, tf.oneHot(labels, logits.shape[1])), -1));
    const bin = tf.clipByValue(tf.sub(tf.ceil(tf.mul(confidence, bins)), 1), 0, bins - 1);
    // oneHot is int32; cast it, or `count` is int32 and concat below casts every sum to int32 (truncating them).
    const member = tf.cast(tf.oneHot(tf.cast(bin, 'int32'), bins), 'float32'); // [n, bins]
    const count = tf.sum(member, 0);
    const confidenceSum = tf.sum(tf.mul(member, tf.expandDims(confidence, 1)), 0);
    const correctSum = tf.sum(tf.mul(member, tf.expandDims(correct, 1)), 0);
    return tf.concat([count, confidenceSum, correctSum, tf.reshape(tf.sum(nll), [1])]) as tf.Tensor1D;
  });
}

/** ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)|, and the mean NLL, from summed `calibrationSums`. */
export function calibrationFromSums(sums: ArrayLike<number>, n: number, bins = ECE_BINS): CalibrationMetrics {
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const count = sums[b]!;
    if (count > 0) ece += Math.abs(sums[2 * bins + b]! - sums[bins + b]!) / n;
  }
  return { ece, nll: sums[3 * bins]! / n };
}
