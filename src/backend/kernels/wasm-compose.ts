// Helpers for kernels that compose the wasm backend's own registered kernels and read its heap.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type WasmKernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
};

/** Runs the kernel currently registered under `kernelName` for wasm; free its output with `backend.disposeData`. */
export function runWasmKernel(
  kernelName: string,
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`kernel '${kernelName}' is not registered for backend 'wasm'`);
  return kernel.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
}

/** A float32 view of a tensor on the wasm heap; take it after the last allocation, since heap growth detaches views. */
export function heapFloat32(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`expected a float32 tensor, found ${info.dtype} with shape [${info.shape}]`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Throws unless the kernel was asked for NHWC data with dilation 1, the only layout these kernels implement. */
export function assertNhwcUndilated(kernelName: string, attrs: tf.NamedAttrMap): void {
  const dataFormat = attrs['dataFormat'];
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only, found '${String(dataFormat)}'; transpose the input to NHWC`);
  }
  const dilations = attrs['dilations'];
  const dilationList = dilations === undefined ? [1] : Array.isArray(dilations) ? dilations : [dilations];
  if (dilationList.some((d) => d !== 1)) {
    throw new Error(`${kernelName} on wasm supports dilations 1 only, found ${JSON.stringify(dilations)}`);
  }
}
