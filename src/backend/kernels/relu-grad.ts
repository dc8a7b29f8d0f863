// The ReLU gradient in one pass on wasm. Stock tfjs computes it as mul(dy, cast(step(x))): three kernels and two
// temporaries the size of the activation, which on cnn-small cost as much as a convolution.
import * as tf from '@tensorflow/tfjs';
import { elementShares, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

/** Name of the project kernel that computes dx = dy * step(x). */
export const RELU_GRAD = 'TemperReluGrad';

/**
 * dx = dy * step(x) as tfjs computes it, except where x is NaN (0 here, NaN in tfjs; a NaN activation makes dy NaN
 * too, which still propagates). Branch-free: with activations of random sign a branch is mispredicted half the
 * time, which made a branching loop 4-6x slower (measured: 3.7 ms against 16-25 ms for 3.2M values).
 */
export function reluBackprop(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) dx[i] = dy[i]! * +(x[i]! > 0);
}

export const reluGradWasmConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend }: WasmKernelArgs) => {
    const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const dx = backend.makeOutput(x.shape, 'float32');
    const simd = simdKernels(backend);
    if (simd) {
      runKernelJobs(backend, elementShares(backend, tf.util.sizeFromShape(x.shape), 4).map(([first, end]) => ({
        fn: 'relu_grad',
        args: [heapOffset(backend, x) + 4 * first, heapOffset(backend, dy) + 4 * first, heapOffset(backend, dx) + 4 * first, end - first],
      })));
    }
    else reluBackprop(heapFloat32(backend, x), heapFloat32(backend, dy), heapFloat32(backend, dx));
    return dx;
  }) as unknown as tf.KernelFunc,
};

/**
 * Relu's gradient: the one-pass kernel where the active backend has it and both tensors are float32, else the
 * stock formula. Gradients are registered for all backends at once, hence the check at every call.
 */
export const reluGradConfig: tf.GradConfig = {
  kernelName: tf.Relu,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [tf.Tensor];
    const grad = dy as tf.Tensor;
    const fast = grad.dtype === 'float32' && x.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined;
    return { x: () => (fast ? tf.engine().runKernel(RELU_GRAD, { dy: grad, x }) as tf.Tensor : tf.mul(grad, tf.cast(tf.step(x), 'float32'))) };
  },
};

// A ReLU gradient fused into the gradient of the op that reads the ReLU's output (the max pool after a conv, see
// max-pool-grad.ts). Tensors are told apart by their dataId, which reshapes and the tape's saved clones share.
/** dataId of an output of a ReLU-activated project kernel (TemperFusedConv2D with activation 'relu') -> that kernel's name. */
const reluOutputs = new WeakMap<object, string>();
/** gradient dataId -> the dataId of the ReLU output y it is already masked by (zero, times dy, where y <= 0). */
const maskedBy = new WeakMap<object, object>();

/** Notes that `dataId`, a new buffer the kernel `kernelName` wrote, holds a ReLU's output (kernels that apply one call it). */
export function noteReluOutput(dataId: object, kernelName: string): void {
  reluOutputs.set(dataId, kernelName);
}

/** The parts of tfjs-core's Engine (4.22; private in its typings) that reluOutputOnTape reads. */
interface TapeInternals {
  state?: { gradientDepth?: number; activeTape?: Array<{ kernelName: string; outputs: tf.Tensor[] }> | null };
}

/**
 * Whether x is a ReLU's output that a node of the tape being differentiated now computed (that kernel's node: views
 * and copies share the buffer, so the buffer alone does not say where x was made). Such a tensor was made inside the
 * function being differentiated, so it cannot be one of the tensors the gradient is taken with respect to (those exist
 * before it runs): its gradient only flows on into the ReLU's own, which masks it anyway. A ReLU output made elsewhere
 * (a tensor someone asks the gradient at) gets the plain max-pool gradient. Only in an outermost backward pass
 * (gradientDepth 0): a gradient taken inside a function being differentiated shares the outer tape, where its own
 * sources, made inside the outer function, have their producing nodes.
 */
export function reluOutputOnTape(x: tf.Tensor): boolean {
  const producer = reluOutputs.get(x.dataId);
  if (producer === undefined) return false;
  const state = (tf.engine() as unknown as TapeInternals).state;
  const tape = state?.activeTape;
  return state?.gradientDepth === 0 && tape != null && tape.some((node) => node.kernelName === producer && node.outputs.some((output) => output.dataId === x.dataId));
}

/** Marks `dx` as already masked by the ReLU output `y`: zero (dy times 0) wherever y <= 0. */
export function markMaskedBy(dx: tf.Tensor, y: tf.Tensor): void {
  maskedBy.set(dx.dataId, y.dataId);
}

/** Whether dy is marked as masked by the ReLU output y (markMaskedBy): its ReLU gradient is dy itself. */
export function isMaskedBy(dy: tf.Tensor, y: tf.Tensor): boolean {
  return maskedBy.get(dy.dataId) === y.dataId;
}
