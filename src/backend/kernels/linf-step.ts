// One sign step of an L-infinity attack with its projection, as one kernel on wasm: x + step * sign(g), then into the
// eps-box around the clean images and [0, 1]. Composed of tfjs ops it is eleven kernels over the batch (greater, less,
// two casts, sub, mul, add, sub, add, maximum, minimum, clipByValue), each ~0.1-0.3 ms at 128x28x28x1 on wasm where
// the pass itself costs ~0.05: 1.6 ms of cnn-small's ~26 ms PGD step. Same bits as the composition (linfStep).
import * as tf from '@tensorflow/tfjs';
import { elementShares, floatBits, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

/** The project kernel: inputs x, gradient, clean (float32, one shape); attrs stepSize, eps. */
export const LINF_STEP = 'TemperLinfStep';

/**
 * kernels.wat's linf_step in JavaScript, operation for operation in float32 (the SIMD kernels off:
 * TEMPER_NO_SIMD_KERNELS=1), with its bits: sign (g > 0) - (g < 0), times step, plus x; Math.max and Math.min as
 * f32x4.max and min (NaN in, NaN out; max(-0, +0) = +0); the clip as pmax(0, v) then pmin(1, v).
 */
export function linfStepJs(x: Float32Array, g: Float32Array, clean: Float32Array, out: Float32Array, stepSize: number, eps: number): void {
  const step = Math.fround(stepSize);
  const radius = Math.fround(eps);
  for (let i = 0; i < out.length; i++) {
    const sign = +(g[i]! > 0) - +(g[i]! < 0);
    let v = Math.fround(x[i]! + Math.fround(sign * step));
    v = Math.min(Math.max(v, Math.fround(clean[i]! - radius)), Math.fround(clean[i]! + radius));
    v = 0 < v ? v : 0;
    out[i] = v < 1 ? v : 1;
  }
}

export const linfStepWasmConfig: tf.KernelConfig = {
  kernelName: LINF_STEP,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs = {} }: WasmKernelArgs) => {
    const { x, gradient, clean } = inputs as { x: tf.TensorInfo; gradient: tf.TensorInfo; clean: tf.TensorInfo };
    const { stepSize, eps } = attrs as { stepSize: number; eps: number };
    const sameShape = tf.util.arraysEqual(x.shape, gradient.shape) && tf.util.arraysEqual(x.shape, clean.shape);
    if (!sameShape || [x, gradient, clean].some((t) => t.dtype !== 'float32')) {
      throw new Error(`${LINF_STEP} takes three float32 tensors of one shape; use linfStep, which falls back to tfjs ops`);
    }
    const out = backend.makeOutput(x.shape, 'float32');
    if (!simdKernels(backend)) {
      linfStepJs(heapFloat32(backend, x), heapFloat32(backend, gradient), heapFloat32(backend, clean), heapFloat32(backend, out), stepSize, eps);
      return out;
    }
    const [stepBits, epsBits] = [floatBits(stepSize), floatBits(eps)];
    runKernelJobs(backend, elementShares(backend, tf.util.sizeFromShape(x.shape), 4).map(([first, end]) => ({
      fn: 'linf_step',
      args: [
        heapOffset(backend, x) + 4 * first, heapOffset(backend, gradient) + 4 * first, heapOffset(backend, clean) + 4 * first,
        heapOffset(backend, out) + 4 * first, end - first, stepBits, epsBits,
      ],
    })));
    return out;
  }) as unknown as tf.KernelFunc,
};
