// BatchMatMul for wasm: the project's matrix product (gemm.ts), which reads transposed operands through strides and
// runs 1.5-3x faster than XNNPACK here. Where it is off (TEMPER_GEMM=0, no SIMD kernels): XNNPACK, around two of its
// weaknesses: it multiplies transposed operands ~10x slower than an explicit Transpose first, and a batch of matrices
// (attention's heads) with a plain loop at ~1 GFLOP/s, where it does one matrix at ~20.
import * as tf from '@tensorflow/tfjs';
import { gemmBatch, gemmInstance } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { disposeHeapView, heapFloat32, heapView, runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';

/** Swaps the last two axes (SIMD, else the backend's Transpose kernel), so the stock product runs untransposed. */
export function makeBatchMatMulConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function batchMatMul(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const instance = a.dtype === 'float32' && b.dtype === 'float32' ? gemmInstance(backend) : undefined;
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    if (instance && (batchA === batchB || batchA === 1 || batchB === 1)) {
      const [m, k] = (transposeA ? a.shape.slice(-2).reverse() : a.shape.slice(-2)) as [number, number];
      const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
      const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const out = backend.makeOutput([...batchShape, m, n], 'float32');
      gemmBatch(backend, instance, {
        a: { data: a, rowStride: transposeA ? 1 : k, colStride: transposeA ? m : 1 },
        b: { data: b, rowStride: transposeB ? 1 : n, colStride: transposeB ? k : 1 },
        c: { data: out, ldc: n },
        m, n, k,
        count: Math.max(batchA, batchB), aStep: batchA === 1 ? 0 : m * k, bStep: batchB === 1 ? 0 : k * n, cStep: m * n,
      });
      return out;
    }
    const plainProduct = (left: tf.TensorInfo, right: tf.TensorInfo): tf.TensorInfo => {
      const run = (l: tf.TensorInfo, r: tf.TensorInfo) =>
        stock({ inputs: { a: l, b: r }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      const batchLeft = tf.util.sizeFromShape(left.shape.slice(0, -2));
      const batchRight = tf.util.sizeFromShape(right.shape.slice(0, -2));
      const batch = Math.max(batchLeft, batchRight);
      // One matrix, other dtypes, or batch shapes that broadcast otherwise than one against many: the stock kernel.
      if (batch === 1 || left.dtype !== 'float32' || right.dtype !== 'float32') return run(left, right);
      if ((batchLeft !== batch && batchLeft !== 1) || (batchRight !== batch && batchRight !== 1)) return run(left, right);
      const [m, k] = left.shape.slice(-2) as [number, number];
      const n = right.shape.at(-1)!;
      const batchShape = tf.backend_util.assertAndGetBroadcastShape(left.shape.slice(0, -2), right.shape.slice(0, -2));
      const out = backend.makeOutput([...batchShape, m, n], 'float32');
      // Matrix by matrix through the stock kernel, on views of the operands' memory; each product is copied into place.
      for (let i = 0; i < batch; i++) {
        const l = heapView(backend, left, batchLeft === 1 ? 0 : i * m * k, [m, k]);
        const r = heapView(backend, right, batchRight === 1 ? 0 : i * k * n, [k, n]);
        const product = run(l, r);
        heapFloat32(backend, out).set(heapFloat32(backend, product), i * m * n);
        backend.disposeData(product.dataId);
        disposeHeapView(backend, l);
        disposeHeapView(backend, r);
      }
      return out;
    };
    if (!transposeA && !transposeB) return plainProduct(a, b);
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
    const out = plainProduct(aPlain, bPlain);
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
