// Conv2DBackpropFilter for webgpu as im2col + one matrix product, composed of the backend's own kernels.
// Stock tfjs-webgpu loops over every (image, output pixel) inside each filter element's thread: on an H100 it took
// 173 ms of a 201 ms cnn-small step at batch 512; this composition took that step to 28 ms (see PERF.md).
import * as tf from '@tensorflow/tfjs';

/** What the kernel reads from tfjs-webgpu's backend object beyond the generic KernelBackend. */
type WebGPUBackendLike = tf.KernelBackend & { device?: { limits?: { maxStorageBufferBindingSize?: number } } };

export type WebGPUKernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: WebGPUBackendLike;
  attrs?: tf.NamedAttrMap;
};

/** Runs the kernel currently registered under `kernelName` for webgpu; free its output with `backend.disposeData`. */
export function runWebGPUKernel(
  kernelName: string,
  backend: WebGPUBackendLike,
  inputs: tf.NamedTensorInfoMap | tf.TensorInfo[],
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'webgpu');
  if (kernel === undefined) throw new Error(`kernel '${kernelName}' is not registered for backend 'webgpu'`);
  return kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs }) as tf.TensorInfo;
}

/** Largest im2col matrix built at once (256 MiB), lowered to the device's storage-binding limit; bigger batches go in chunks. */
export const WEBGPU_MAX_COLUMN_FLOATS = 1 << 26;

/**
 * dW of images [start, start + count): the patches of the zero-padded images, one strided slice per filter tap
 * (kh, kw) concatenated on the channel axis, form cols [P, KH*KW*CI] with p = (n, oh, ow) and k = (kh, kw, ci),
 * the filter's own layout; then dW [K, CO] = cols^T dy [P, CO].
 */
function chunkProduct(
  backend: WebGPUBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  start: number,
  count: number,
  filterShape: [number, number, number, number],
): tf.TensorInfo {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { top, bottom, left, right } = info.padInfo;
  const temporaries: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo): tf.TensorInfo => (temporaries.push(t), t);
  try {
    const whole = start === 0 && count === info.batchSize;
    const xPart = whole ? x : keep(runWebGPUKernel(tf.Slice, backend, { x }, { begin: [start, 0, 0, 0], size: [count, inHeight, inWidth, inChannels] }));
    const dyPart = whole ? dy : keep(runWebGPUKernel(tf.Slice, backend, { x: dy }, { begin: [start, 0, 0, 0], size: [count, outHeight, outWidth, outChannels] }));
    const padded = top + bottom + left + right === 0
      ? xPart
      : keep(runWebGPUKernel(tf.PadV2, backend, { x: xPart }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }));
    const taps: tf.TensorInfo[] = [];
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        taps.push(keep(runWebGPUKernel(tf.StridedSlice, backend, { x: padded }, {
          begin: [0, kh, kw, 0],
          end: [count, kh + strideHeight * (outHeight - 1) + 1, kw + strideWidth * (outWidth - 1) + 1, inChannels],
          strides: [1, strideHeight, strideWidth, 1],
          beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        })));
      }
    }
    const cols = taps.length === 1 ? taps[0]! : keep(runWebGPUKernel(tf.Concat, backend, taps, { axis: 3 }));
    const rows = count * outHeight * outWidth;
    const patchSize = filterHeight * filterWidth * inChannels;
    const colMatrix = keep(runWebGPUKernel(tf.Reshape, backend, { x: cols }, { shape: [1, rows, patchSize] }));
    const dyMatrix = keep(runWebGPUKernel(tf.Reshape, backend, { x: dyPart }, { shape: [1, rows, outChannels] }));
    const product = keep(runWebGPUKernel(tf.BatchMatMul, backend, { a: colMatrix, b: dyMatrix }, { transposeA: true, transposeB: false }));
    return runWebGPUKernel(tf.Reshape, backend, { x: product }, { shape: filterShape });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/**
 * The kernel config given the stock kernel, which still handles what the composition does not: other dtypes,
 * NCHW data, and single images whose im2col matrix alone exceeds `maxColumnFloats` (tests lower it to exercise
 * chunking; by default it is the device's storage-binding limit, at most WEBGPU_MAX_COLUMN_FLOATS).
 */
export function makeWebGPUConv2DBackpropFilterConfig(stock: tf.KernelFunc, maxColumnFloats?: number): tf.KernelConfig {
  function conv2DBackpropFilter(args: WebGPUKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const useStock = () => stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    if (x.dtype !== 'float32' || dy.dtype !== 'float32' || (dataFormat !== undefined && dataFormat !== 'NHWC')) return useStock();
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const bindingFloats = Math.floor((backend.device?.limits?.maxStorageBufferBindingSize ?? 128 * 2 ** 20) / 4);
    const limit = maxColumnFloats ?? Math.min(WEBGPU_MAX_COLUMN_FLOATS, bindingFloats);
    const imageColumns = info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels;
    if (imageColumns > limit) return useStock();
    const chunk = Math.min(info.batchSize, Math.floor(limit / imageColumns));
    if (chunk === info.batchSize) return chunkProduct(backend, x, dy, info, 0, info.batchSize, filterShape);

    // dW is a sum over images, so the chunks' products add up to it.
    let sum: tf.TensorInfo | undefined;
    for (let start = 0; start < info.batchSize; start += chunk) {
      const part = chunkProduct(backend, x, dy, info, start, Math.min(chunk, info.batchSize - start), filterShape);
      if (sum === undefined) {
        sum = part;
        continue;
      }
      const next = runWebGPUKernel(tf.Add, backend, { a: sum, b: part });
      backend.disposeData(sum.dataId);
      backend.disposeData(part.dataId);
      sum = next;
    }
    return sum!;
  }
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'webgpu',
    kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
  };
}
