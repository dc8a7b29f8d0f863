// A fused matrix product (a b + bias, then ReLU or linear) that stays fused under a gradient tape, with a gradient whose
// parts are each computed only when asked for. tfjs-core's fused matMul differentiates through a custom gradient that
// computes the gradients of a, b and the bias every time: in an attack step, which wants the input's gradient only,
// every dense layer also pays for its weight gradient (as many multiplications again). This kernel is the backend's
// _FusedMatMul under another name (on wasm the project's, registered under both), so its outputs are bit for bit tfjs'
// fused ones. src/models/fast-layers.ts (FastDense) uses it.
import * as tf from '@tensorflow/tfjs';
import { activationGradient, stockKernelAs } from './fused-conv.js';
import { elementShares, gemmInstance, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

/** The project kernel: the backend's _FusedMatMul under this name (inputs a, b, bias?; its attrs, untransposed only). */
export const FUSED_MAT_MUL = 'TemperFusedMatMul';

/** _FusedMatMul of `backendName` registered as FUSED_MAT_MUL; throws if the backend has none. */
export function fusedMatMulConfigFor(backendName: string): tf.KernelConfig {
  return stockKernelAs(FUSED_MAT_MUL, tf._FusedMatMul, backendName);
}

/**
 * _FusedMatMul for wasm (registered under `kernelName`: tf._FusedMatMul, and FUSED_MAT_MUL, so that FastDense and the
 * stock layer still give the same bits): float32 products with a bias per column (or none), linear or ReLU, as the
 * BatchMatMul registered for wasm (the project's product where it applies) then bias and activation in one pass
 * (simd/kernels.wat bias_activation, tfjs' order). The stock kernel is XNNPACK's, whose thread pool pays a wake-up of
 * its sleeping thread on every call: on cnn-small's last layer (128x128 by 128x10) 0.14-0.7 ms a step for a few
 * microseconds of work. Other activations, PReLU and other bias shapes go to `stock`.
 */
export function makeFusedMatMulWasmConfig(kernelName: string, stock: tf.KernelFunc): tf.KernelConfig {
  function fusedMatMul(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { transposeB, activation } = attrs as unknown as tf._FusedMatMulAttrs;
    const n = transposeB ? b!.shape.at(-2)! : b!.shape.at(-1)!;
    const product = tf.getKernel(tf.BatchMatMul, 'wasm');
    const simd = simdKernels(backend);
    // Without temper's product (TEMPER_GEMM=0) the stock kernel: products back to XNNPACK, its own fused bias included.
    const applies = simd !== undefined && gemmInstance(backend) !== undefined && product !== undefined && a!.dtype === 'float32' && b!.dtype === 'float32'
      && preluActivationWeights === undefined && (activation === undefined || activation === 'linear' || activation === 'relu')
      && (bias === undefined || (bias.dtype === 'float32' && bias.shape.at(-1) === n && tf.util.sizeFromShape(bias.shape) === n));
    if (!applies) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const y = product.kernelFunc({ inputs: { a: a!, b: b! }, backend, attrs: { transposeA: attrs['transposeA'], transposeB } } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const relu = activation === 'relu';
    if (bias !== undefined || relu) {
      const rows = tf.util.sizeFromShape(y.shape) / n;
      const zeros = bias === undefined ? backend.makeOutput([n], 'float32') : undefined;
      if (zeros) heapFloat32(backend, zeros).fill(0);
      runKernelJobs(backend, elementShares(backend, rows, 1, rows * n).map(([first, end]) => ({
        fn: 'bias_activation',
        args: [heapOffset(backend, y) + 4 * first * n, heapOffset(backend, bias ?? zeros!), end - first, n, relu ? 1 : 0],
      })));
      if (zeros) backend.disposeData(zeros.dataId);
    }
    return y;
  }
  return { kernelName, backendName: 'wasm', kernelFunc: fusedMatMul as unknown as tf.KernelFunc };
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
