// Maximum, Minimum, Greater and Less for float32 on wasm, where stock tfjs-wasm is 8-25x slower than its own Add:
// 1.2 ms for a Maximum of two 128x28x28x1 batches against Add's 0.05 (measured). PGD and every other attack project
// their iterates with two of them and take the gradient's sign with the other two, on every step. One SIMD kernel
// (binary_f32) for all four, split over the worker threads; the same values as the cpu backend (Math.max, Math.min,
// > and <: NaN in, NaN out for the first two, false for the others). Broadcasting other than against a single value,
// and other dtypes, go to the stock kernel.
import * as tf from '@tensorflow/tfjs';
import { elementShares, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import type { WasmKernelArgs } from './wasm-compose.js';

/** binary_f32's op codes. */
const OPS = { [tf.Maximum]: 0, [tf.Minimum]: 1, [tf.Greater]: 2, [tf.Less]: 3 } as const;
type BinaryName = keyof typeof OPS;
/** The op that gives the same answer with the operands swapped (a < b is b > a). */
const SWAPPED: Record<number, number> = { 0: 0, 1: 1, 2: 3, 3: 2 };

/** The kernel `name` on wasm, `stock` where it does not apply. */
export function makeBinaryConfig(name: BinaryName, stock: tf.KernelFunc): tf.KernelConfig {
  function binary(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const sizeA = tf.util.sizeFromShape(a.shape);
    const sizeB = tf.util.sizeFromShape(b.shape);
    const sameShape = tf.util.arraysEqual(a.shape, b.shape);
    // One operand a single value whose shape the other's already covers (rank no higher), or both the same shape.
    const scalarB = !sameShape && sizeB === 1 && b.shape.length <= a.shape.length;
    const scalarA = !sameShape && !scalarB && sizeA === 1 && a.shape.length <= b.shape.length;
    const simd = simdKernels(backend);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !simd || !(sameShape || scalarA || scalarB)) {
      return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const [full, other] = scalarA ? [b, a] : [a, b];
    const op = scalarA ? SWAPPED[OPS[name]]! : OPS[name];
    const out = backend.makeOutput(full.shape, op < 2 ? 'float32' : 'bool');
    const n = tf.util.sizeFromShape(full.shape);
    const bytesOut = op < 2 ? 4 : 1;
    const scalar = sameShape ? 0 : 1;
    runKernelJobs(backend, elementShares(backend, n, 4).map(([first, end]) => ({
      fn: 'binary_f32',
      args: [
        heapOffset(backend, full) + 4 * first, heapOffset(backend, other) + (scalar ? 0 : 4 * first), heapOffset(backend, out) + bytesOut * first,
        end - first, op, scalar,
      ],
    })));
    return out;
  }
  return { kernelName: name, backendName: 'wasm', kernelFunc: binary as unknown as tf.KernelFunc };
}

export const BINARY_KERNELS = Object.keys(OPS) as BinaryName[];
