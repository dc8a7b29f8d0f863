// Slice for wasm that reads its input in place. Stock tfjs-wasm's Slice first copies the whole input out of the heap
// (readSync), so one value of a 128x28x28x1 batch cost 0.2 ms, and a class token out of ViT's activations a 6 MB copy.
import * as tf from '@tensorflow/tfjs';
import type { WasmKernelArgs } from './wasm-compose.js';

/** Slice of any rank and dtype but string (those go to `stock`): rows of the last axis copied from heap views. */
export function makeSliceConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function slice(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { begin, size } = attrs as unknown as tf.SliceAttrs;
    const rank = x.shape.length;
    if (x.dtype === 'string' || rank === 0) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const [first, extent] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo & { rank: number }, begin, size);
    const out = backend.makeOutput(extent, x.dtype);
    const count = tf.util.sizeFromShape(extent);
    if (count === 0) return out;
    // Views after the output is made: making it may grow the heap, which detaches earlier views.
    const from = backend.typedArrayFromHeap(x);
    const to = backend.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    if (tf.slice_util.isSliceContinous(x.shape, first, extent)) {
      const offset = tf.slice_util.computeFlatOffset(first, strides);
      to.set(from.subarray(offset, offset + count));
      return out;
    }
    const row = extent[rank - 1]!;
    const index = new Array<number>(rank - 1).fill(0);
    for (let at = 0; at < count; at += row) {
      let offset = first[rank - 1]!;
      for (let d = 0; d < rank - 1; d++) offset += (first[d]! + index[d]!) * strides[d]!;
      to.set(from.subarray(offset, offset + row), at);
      for (let d = rank - 2; d >= 0; d--) {
        if (++index[d]! < extent[d]!) break;
        index[d] = 0;
      }
    }
    return out;
  }
  return { kernelName: tf.Slice, backendName: 'wasm', kernelFunc: slice as unknown as tf.KernelFunc };
}
