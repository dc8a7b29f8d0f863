// Maximum, Minimum, Greater and Less for float32 on wasm, where stock tfjs-wasm is 8-25x slower than its own Add:
// 1.2 ms for a Maximum of two 128x28x28x1 batches against Add's 0.05 (measured). PGD and every other attack project
// their iterates with two of them and take the gradient's sign with the other two, on every step. One SIMD kernel
// (binary_f32) for all four, split over the worker threads; the same values as the cpu backend (Math.max, Math.min,
// > and <: NaN in, NaN out for the first two, false for the others). Broadcasting other than against a single value,
// and other dtypes, go to the stock kernel.
import * as tf from '@tensorflow/tfjs';
import { elementShares, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

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

// Add, Sub, Multiply and RealDiv of small float32 tensors (a loss's logits, a dense layer's bias) in JavaScript on the
// heap. Stock tfjs-wasm runs them with XNNPACK on its thread pool, which wakes a sleeping pool thread for every op: on
// the machines measured ~40 us of waiting for a 1,280-value op whose work takes a few (10 us back to back, 50 us after
// 1 ms without a pool op), 1.3 ms of cnn-small's training step. One float32 operation per value: the bits of IEEE
// float32 arithmetic, which XNNPACK's kernels and the cpu backend also compute.
const ARITHMETIC = { [tf.Add]: 0, [tf.Sub]: 1, [tf.Multiply]: 2, [tf.RealDiv]: 3 } as const;
type ArithmeticName = keyof typeof ARITHMETIC;
export const SMALL_ARITHMETIC_KERNELS = Object.keys(ARITHMETIC) as ArithmeticName[];

/** out[o + j] = a[qa + j ia] op b[qb + j ib] for j < count: one loop per op, so each stays monomorphic and tight. */
function arithmeticRun(op: number, out: Float32Array, o: number, count: number, a: Float32Array, qa: number, ia: number, b: Float32Array, qb: number, ib: number): void {
  const end = o + count;
  switch (op) {
    case 0: for (; o < end; o++, qa += ia, qb += ib) out[o] = a[qa]! + b[qb]!; break;
    case 1: for (; o < end; o++, qa += ia, qb += ib) out[o] = a[qa]! - b[qb]!; break;
    case 2: for (; o < end; o++, qa += ia, qb += ib) out[o] = a[qa]! * b[qb]!; break;
    default: for (; o < end; o++, qa += ia, qb += ib) out[o] = a[qa]! / b[qb]!;
  }
}

/** Most output values the JavaScript loop takes; larger outputs go to the stock kernel, whose threads pay there. */
export const SMALL_ARITHMETIC_MAX = 16384;

/** Strides of `shape` read as broadcast to `outShape` (numpy rules): 0 along an axis of size 1 or one it lacks. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  for (let axis = shape.length - 1, stride = 1; axis >= 0; axis--) {
    const at = axis + outShape.length - shape.length;
    strides[at] = shape[axis] === 1 ? 0 : stride;
    stride *= shape[axis]!;
  }
  return strides;
}

/**
 * out = a op b with numpy broadcasting, rounded to float32 (Float32Array stores round each result once: the exact
 * float32 operation, since a double holds the exact product, sum or a quotient rounded finely enough).
 */
export function broadcastArithmetic(
  op: number, a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[], out: Float32Array, outShape: readonly number[],
): void {
  const rank = outShape.length;
  if (rank === 0 || (a.length === out.length && b.length === out.length)) {
    arithmeticRun(op, out, 0, out.length, a, 0, 1, b, 0, 1);
    return;
  }
  const [sa, sb] = [broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)];
  // The last axis in one run; the others counted like an odometer.
  const inner = outShape[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  let [pa, pb] = [0, 0];
  for (let o = 0; o < out.length; o += inner) {
    arithmeticRun(op, out, o, inner, a, pa, sa[rank - 1]!, b, pb, sb[rank - 1]!);
    for (let axis = rank - 2; axis >= 0; axis--) {
      pa += sa[axis]!;
      pb += sb[axis]!;
      if (++index[axis]! < outShape[axis]!) break;
      pa -= sa[axis]! * outShape[axis]!;
      pb -= sb[axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
}

/** The kernel `name` on wasm: small float32 outputs in JavaScript (broadcastArithmetic), the rest to `stock`. */
export function makeSmallArithmeticConfig(name: ArithmeticName, stock: tf.KernelFunc): tf.KernelConfig {
  const op = ARITHMETIC[name];
  function arithmetic(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype === 'float32' && b.dtype === 'float32') {
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const size = tf.util.sizeFromShape(outShape);
      if (size > 0 && size <= SMALL_ARITHMETIC_MAX) {
        const out = backend.makeOutput(outShape, 'float32');
        broadcastArithmetic(op, heapFloat32(backend, a), a.shape, heapFloat32(backend, b), b.shape, heapFloat32(backend, out), outShape);
        return out;
      }
    }
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return { kernelName: name, backendName: 'wasm', kernelFunc: arithmetic as unknown as tf.KernelFunc };
}

/**
 * Relu on wasm: small float32 tensors (SMALL_ARITHMETIC_MAX values at most, a dense layer's output) in JavaScript, for
 * the reason above; max(x, 0) as stock tfjs-wasm computes it (NaN stays NaN, -0 and negatives become 0). The rest
 * to `stock`.
 */
export function makeSmallReluConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function relu(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const size = tf.util.sizeFromShape(x.shape);
    if (x.dtype !== 'float32' || size === 0 || size > SMALL_ARITHMETIC_MAX) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const out = backend.makeOutput(x.shape, 'float32');
    const [from, to] = [heapFloat32(backend, x), heapFloat32(backend, out)];
    for (let i = 0; i < size; i++) {
      const v = from[i]!;
      to[i] = v > 0 || v !== v ? v : 0;
    }
    return out;
  }
  return { kernelName: tf.Relu, backendName: 'wasm', kernelFunc: relu as unknown as tf.KernelFunc };
}
