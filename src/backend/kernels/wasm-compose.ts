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

/** The parts of the wasm backend's internals a heap view touches (tfjs-backend-wasm 4.22, backend_wasm.ts). */
interface BackendWasmInternals {
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined; delete(dataId: tf.DataId): boolean };
  wasm: { tfjs: { disposeData(id: number): void } };
}

/**
 * A tensor that reads `shape.size` floats of `owner` starting `floatOffset` floats in, without copying: a matrix of
 * a batch handed to a kernel that takes one. Free it with disposeHeapView, never with backend.disposeData (which
 * would free the owner's memory from the middle).
 */
export function heapView(backend: BackendWasm, owner: tf.TensorInfo, floatOffset: number, shape: number[]): tf.TensorInfo {
  const base = (backend as unknown as BackendWasmInternals).dataIdMap.get(owner.dataId);
  if (base === undefined) throw new Error('heapView: the owner tensor is not on this backend');
  return backend.makeOutput(shape, 'float32', base.memoryOffset + 4 * floatOffset);
}

/** Forgets a heapView (and whatever the C++ side cached under its id), leaving the owner's memory alone. */
export function disposeHeapView(backend: BackendWasm, view: tf.TensorInfo): void {
  const internals = backend as unknown as BackendWasmInternals;
  const data = internals.dataIdMap.get(view.dataId);
  if (data === undefined) return;
  internals.wasm.tfjs.disposeData(data.id);
  internals.dataIdMap.delete(view.dataId);
}
