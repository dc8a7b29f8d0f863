// A fused matrix product (a b + bias, then ReLU or linear) that stays fused under a gradient tape, with a gradient whose
// parts are each computed only when asked for. tfjs-core's fused matMul differentiates through a custom gradient that
// computes the gradients of a, b and the bias every time: in an attack step, which wants the input's gradient only,
// every dense layer also pays for its weight gradient (as many multiplications again). This kernel is the backend's own
// _FusedMatMul under another name, so its outputs are bit for bit tfjs' fused ones. src/models/fast-layers.ts (FastDense)
// uses it.
import * as tf from '@tensorflow/tfjs';
import { activationGradient, stockKernelAs } from './fused-conv.js';

/** The project kernel: the backend's _FusedMatMul under this name (inputs a, b, bias?; its attrs, untransposed only). */
export const FUSED_MAT_MUL = 'TemperFusedMatMul';

/** _FusedMatMul of `backendName` registered as FUSED_MAT_MUL; throws if the backend has none. */
export function fusedMatMulConfigFor(backendName: string): tf.KernelConfig {
  return stockKernelAs(FUSED_MAT_MUL, tf._FusedMatMul, backendName);
}

/**
 * dz = dy where the output is positive (ReLU) or dy (linear); then da = dz b^T, db = a^T dz, dbias = dz summed over
 * rows (operands are [batch, rows, inner] and [batch, inner, cols], as tfjs' fused matMul gives its kernel; the bias
 * is per column).
 */
export const fusedMatMulGradConfig: tf.GradConfig = {
  kernelName: FUSED_MAT_MUL,
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, y] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const { activation, transposeA, transposeB } = attrs as unknown as tf._FusedMatMulAttrs;
    if (transposeA || transposeB) throw new Error(`${FUSED_MAT_MUL}: no gradient for transposed operands`);
    const dz = activationGradient(FUSED_MAT_MUL, dy as tf.Tensor3D, y, activation);
    return {
      a: () => tf.matMul(dz, b, false, true),
      b: () => tf.matMul(a, dz, true, false),
      bias: () => tf.sum(dz, [0, 1]),
    };
  },
};
