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
    const single = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape.slice(0, -2)) === 1;
    if (transposeB && !transposeA && single(a) && single(b) && tf.util.sizeFromShape(b.shape) > tf.util.sizeFromShape(a.shape)) {
      // a b^T = (b a^T)^T. XNNPACK packs its second operand anew for every new tensor (~5 ns a float); this way that
      // is a^T, the smaller one (dy of a dense layer's input gradient against its weight matrix: 16K floats, not 400K).
      const aT = swapLastAxes(a);
      const product = stock({ inputs: { a: b, b: aT }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      const out = swapLastAxes(product);
      backend.disposeData(aT.dataId);
      backend.disposeData(product.dataId);
      return out;
    }
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
