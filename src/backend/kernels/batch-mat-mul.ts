// BatchMatMul for wasm: stock XNNPACK multiplies transposed operands ~10x slower than an explicit Transpose first.
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels } from './simd/index.js';
import { runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';

/** Swaps the last two axes (SIMD, else the backend's Transpose kernel), so the stock product runs untransposed. */
export function makeBatchMatMulConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function batchMatMul(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const simd = simdKernels(backend);
    const swapLastAxes = (t: tf.TensorInfo): tf.TensorInfo => {
      if (simd && t.dtype === 'float32') {
        // 4x4 SIMD tiles, one matrix of the batch at a time: about 10x faster than the Transpose kernel here.
        const rows = t.shape.at(-2)!;
        const cols = t.shape.at(-1)!;
        const out = backend.makeOutput([...t.shape.slice(0, -2), cols, rows], 'float32');
        const bytes = 4 * rows * cols;
        for (let i = 0, count = tf.util.sizeFromShape(t.shape.slice(0, -2)); i < count; i++) {
          simd.transpose(heapOffset(backend, t) + i * bytes, heapOffset(backend, out) + i * bytes, rows, cols);
        }
        return out;
      }
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
