// One sign step of an L-infinity attack with its projection, as one kernel on wasm: x + step * sign(g), then into the
// eps-box around the clean images and [0, 1]. Composed of tfjs ops it is eleven kernels over the batch (greater, less,
// two casts, sub, mul, add, sub, add, maximum, minimum, clipByValue), each ~0.1-0.3 ms at 128x28x28x1 on wasm where
// the pass itself costs ~0.05: 1.6 ms of cnn-small's ~26 ms PGD step. Same bits as the composition (linfStep).
import * as tf from '@tensorflow/tfjs';
import { elementShares, floatBits, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import type { WasmKernelArgs } from './wasm-compose.js';

/** The project kernel: inputs x, gradient, clean (float32, one shape); attrs stepSize, eps. */
export const LINF_STEP = 'TemperLinfStep';

export const linfStepWasmConfig: tf.KernelConfig = {
  kernelName: LINF_STEP,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs = {} }: WasmKernelArgs) => {
    const { x, gradient, clean } = inputs as { x: tf.TensorInfo; gradient: tf.TensorInfo; clean: tf.TensorInfo };
    const { stepSize, eps } = attrs as { stepSize: number; eps: number };
    const simd = simdKernels(backend);
    const sameShape = tf.util.arraysEqual(x.shape, gradient.shape) && tf.util.arraysEqual(x.shape, clean.shape);
    if (!simd || !sameShape || [x, gradient, clean].some((t) => t.dtype !== 'float32')) {
      throw new Error(`${LINF_STEP} takes three float32 tensors of one shape on wasm with SIMD; use linfStep, which falls back`);
    }
    const out = backend.makeOutput(x.shape, 'float32');
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
