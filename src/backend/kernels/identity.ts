// Identity and same-dtype Cast for wasm that share the input's buffer: stock copies it, and gradients call them on every activation.
import * as tf from '@tensorflow/tfjs';
import type { WasmKernelArgs } from './wasm-compose.js';

/** Tensor data is immutable and no wasm kernel writes into its inputs, so a new reference is as good as a copy (the cpu backend does the same). */
function shareBuffer(backend: WasmKernelArgs['backend'], x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function makeIdentityConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function identity(args: WasmKernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return shareBuffer(args.backend, x);
  }
  return { kernelName: tf.Identity, backendName: 'wasm', kernelFunc: identity as unknown as tf.KernelFunc };
}

export function makeCastConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function cast(args: WasmKernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = (args.attrs ?? {}) as unknown as tf.CastAttrs;
    if (x.dtype !== dtype || dtype === 'string') return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return shareBuffer(args.backend, x);
  }
  return { kernelName: tf.Cast, backendName: 'wasm', kernelFunc: cast as unknown as tf.KernelFunc };
}
