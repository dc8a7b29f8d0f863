// BatchMatMul for wasm: stock XNNPACK multiplies transposed operands ~10x slower than an explicit Transpose first.
import * as tf from '@tensorflow/tfjs';
import { runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';

/** Swaps the last two axes with the backend's Transpose kernel, so the stock product runs untransposed. */
export function makeBatchMatMulConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function batchMatMul(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const swapLastAxes = (t: tf.TensorInfo): tf.TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      perm.splice(-2, 2, t.shape.length - 1, t.shape.length - 2);
      return runWasmKernel(tf.Transpose, backend, { x: t }, { perm });
    };
    const aPlain = transposeA ? swapLastAxes(a) : a;
    const bPlain = transposeB ? swapLastAxes(b) : b;
    const out = stock({ inputs: { a: aPlain, b: bPlain }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    if (transposeA) backend.disposeData(aPlain.dataId);
    if (transposeB) backend.disposeData(bPlain.dataId);
    return out;
  }
  return {
    kernelName: tf.BatchMatMul,
    backendName: 'wasm',
    kernelFunc: batchMatMul as unknown as tf.KernelFunc,
  };
}
