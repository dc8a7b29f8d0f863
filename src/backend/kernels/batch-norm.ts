// FusedBatchNorm for wasm. The stock kernel (tfjs-wasm's FusedBatchNorm.cc) is a scalar loop with a double-precision
// division per element, about 5 ns an element: 150 ms of vgg6-bn's PGD step at batch 128, and it runs three times per
// batch-norm layer in a training step (forward, and twice in temper's backward pass). This one runs the same float
// and double operations in the same order four channels at a time (simd/kernels.wat batch_norm), so its output is
// the stock kernel's, bit for bit. Shapes it does not take (channels not a multiple of 4, per-element statistics) go
// to the stock kernel.
import * as tf from '@tensorflow/tfjs';
import { elementShares, floatBits, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

export function makeFusedBatchNormConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function fusedBatchNorm(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x, mean, variance, offset, scale } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const simd = simdKernels(backend);
    const channels = x!.shape.at(-1) ?? 1;
    const size = tf.util.sizeFromShape(x!.shape);
    // Each per-channel input: one value per channel, or one for all (the stock kernel cycles through any of them).
    const perChannel = (t: tf.TensorInfo | undefined) => {
      if (t === undefined) return true;
      const n = tf.util.sizeFromShape(t.shape);
      return t.dtype === 'float32' && (n === channels || n === 1);
    };
    const fits = simd !== undefined && x!.dtype === 'float32' && x!.shape.length >= 1 && channels % 4 === 0 && size > 0
      && [mean, variance, offset, scale].every(perChannel) && mean !== undefined && variance !== undefined;
    if (!fits) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const out = backend.makeOutput(x!.shape, 'float32');
    // Rows of x for each thread; each thread's call has its own parameters, since the kernel writes in them.
    const shares = elementShares(backend, size / channels, 1, size);
    // Four rows of floats, then room for two rows of doubles (the kernel's own), per share.
    const params = backend.makeOutput([shares.length, 8, channels], 'float32');
    const rows = heapFloat32(backend, params).subarray(0, 8 * channels);
    // mean, variance, scale (1 when absent, as stock), offset (0 when absent).
    [mean, variance, scale, offset].forEach((t, i) => {
      const row = rows.subarray(i * channels, (i + 1) * channels);
      if (t === undefined) row.fill(i === 2 ? 1 : 0);
      else {
        const values = heapFloat32(backend, t);
        if (values.length === 1) row.fill(values[0]!);
        else row.set(values);
      }
    });
    for (let t = 1; t < shares.length; t++) heapFloat32(backend, params).copyWithin(8 * channels * t, 0, 4 * channels);
    runKernelJobs(backend, shares.map(([first, end], t) => ({
      fn: 'batch_norm',
      args: [
        heapOffset(backend, x!) + 4 * first * channels, heapOffset(backend, out) + 4 * first * channels,
        heapOffset(backend, params) + 32 * channels * t, end - first, channels, floatBits(varianceEpsilon),
      ],
    })));
    backend.disposeData(params.dataId);
    return out;
  }
  return { kernelName: tf.FusedBatchNorm, backendName: 'wasm', kernelFunc: fusedBatchNorm as unknown as tf.KernelFunc };
}
