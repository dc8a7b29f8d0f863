// One Adam step for one variable in a single pass. tfjs's Adam spends 14 kernels per variable per step (116 for
// cnn-small: 10.5 ms of a 165 ms training step on wasm, and a kernel launch each on a GPU).
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

/** Name of the project kernel: inputs value, m, v, gradient and the scalars 1 - beta1^t, 1 - beta2^t; outputs value, m, v. */
export const ADAM_UPDATE = 'TemperAdamUpdate';

export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

/**
 * The arithmetic of tfjs 4.22's AdamOptimizer.applyGradients, operation for operation in float32 (each product,
 * sum, quotient and square root rounded with Math.fround, scalars rounded as tfjs turns them into float32 tensors),
 * so the result is bit-identical to the stock optimizer on a backend whose elementwise kernels round correctly:
 *   m' = m * b1 + g * (1 - b1);  v' = v * b2 + g^2 * (1 - b2)
 *   value' = (m' / c1) / (sqrt(v' / c2) + eps) * (-lr) + value,  c1 = 1 - b1^t, c2 = 1 - b2^t (float32 tensors)
 */
export function adamUpdate(
  value: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, c1: number, c2: number,
  attrs: AdamUpdateAttrs, outValue: Float32Array, outM: Float32Array, outV: Float32Array,
): void {
  const f = Math.fround;
  const b1 = f(attrs.beta1);
  const a1 = f(1 - attrs.beta1);
  const b2 = f(attrs.beta2);
  const a2 = f(1 - attrs.beta2);
  const eps = f(attrs.epsilon);
  const step = f(-attrs.learningRate);
  for (let i = 0; i < value.length; i++) {
    const gi = g[i]!;
    const mi = f(f(m[i]! * b1) + f(gi * a1));
    const vi = f(f(v[i]! * b2) + f(f(gi * gi) * a2));
    outM[i] = mi;
    outV[i] = vi;
    outValue[i] = f(f(f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps)) * step) + value[i]!);
  }
}

export const adamUpdateWasmConfig: tf.KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }: WasmKernelArgs) => {
    const { value, m, v, gradient, c1, c2 } = inputs as Record<'value' | 'm' | 'v' | 'gradient' | 'c1' | 'c2', tf.TensorInfo>;
    const outValue = backend.makeOutput(value.shape, 'float32');
    const outM = backend.makeOutput(value.shape, 'float32');
    const outV = backend.makeOutput(value.shape, 'float32');
    const c1Value = heapFloat32(backend, c1)[0]!;
    const c2Value = heapFloat32(backend, c2)[0]!;
    const update = attrs as unknown as AdamUpdateAttrs;
    const simd = simdKernels(backend);
    if (simd) {
      // The same operations four lanes at a time; float32 SIMD arithmetic rounds each one as the scalar loop does.
      const at = (t: tf.TensorInfo) => heapOffset(backend, t);
      simd.adam(at(value), at(m), at(v), at(gradient), at(outValue), at(outM), at(outV), tf.util.sizeFromShape(value.shape),
        update.beta1, 1 - update.beta1, update.beta2, 1 - update.beta2, update.epsilon, -update.learningRate, c1Value, c2Value);
      return [outValue, outM, outV];
    }
    adamUpdate(
      heapFloat32(backend, value), heapFloat32(backend, m), heapFloat32(backend, v), heapFloat32(backend, gradient), c1Value, c2Value, update,
      heapFloat32(backend, outValue), heapFloat32(backend, outM), heapFloat32(backend, outV),
    );
    return [outValue, outM, outV];
  }) as unknown as tf.KernelFunc,
};
