// MaxPoolGrad for wasm as a JS loop over the heap: ~15x faster than the stock wasm loop for 2x2/2 pools; and MaxPool's
// 2x2/2 case in SIMD on the worker threads, or taken ready-made from the convolution that made its input.
import * as tf from '@tensorflow/tfjs';
import { elementShares, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';
import { markMaskedBy, reluBackprop, reluOutputOnTape } from './relu-grad.js';

/**
 * 2x2 windows with stride 2 that tile the input exactly (no padding, even height and width): every input element
 * belongs to one window, so each is written once (the gradient or 0) and dx needs no separate clearing pass.
 */
function tilesByTwo(info: tf.backend_util.Conv2DInfo): boolean {
  const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth, inHeight, inWidth, outHeight, outWidth } = info;
  return strideHeight === 2 && strideWidth === 2 && effectiveFilterHeight === 2 && effectiveFilterWidth === 2 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 && inHeight === 2 * outHeight && inWidth === 2 * outWidth;
}

/**
 * The exact 2x2/2 tiling: the first maximum in row-major order (a, b / c, d) gets dy, the other three get 0.
 * (With NaN in a window the choice can differ from the general path, which skips NaN; such a model has diverged.)
 */
function backpropTiledTwoByTwo(x: Float32Array, dy: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const rowStride = inWidth * channels;
  let d = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = (n * 2 * outHeight + 2 * oh) * rowStride;
      for (let ow = 0; ow < outWidth; ow++) {
        const ia = top + 2 * ow * channels;
        const ib = ia + channels;
        const ic = ia + rowStride;
        const id = ic + channels;
        for (let c = 0; c < channels; c++, d++) {
          const a = x[ia + c]!;
          const b = x[ib + c]!;
          const cc = x[ic + c]!;
          const dd = x[id + c]!;
          const g = dy[d]!;
          let ga = 0;
          let gb = 0;
          let gc = 0;
          let gd = 0;
          if (a >= b && a >= cc && a >= dd) ga = g;
          else if (b >= cc && b >= dd) gb = g;
          else if (cc >= dd) gc = g;
          else gd = g;
          dx[ia + c] = ga;
          dx[ib + c] = gb;
          dx[ic + c] = gc;
          dx[id + c] = gd;
        }
      }
    }
  }
}

/** Routes each dy value to the first maximum of its window in row-major order, as the cpu backend does. */
export function maxPoolBackprop(x: Float32Array, dy: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  if (tilesByTwo(info)) {
    backpropTiledTwoByTwo(x, dy, dx, info);
    return;
  }
  const rowStride = inWidth * inChannels;
  dx.fill(0);
  let dyIndex = 0;
  for (let n = 0; n < batchSize; n++) {
    const imageBase = n * inHeight * rowStride;
    for (let oh = 0; oh < outHeight; oh++) {
      const hCorner = oh * strideHeight - padTop;
      const hBegin = Math.max(0, hCorner);
      const hEnd = Math.min(inHeight, hCorner + effectiveFilterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const wCorner = ow * strideWidth - padLeft;
        const wBegin = Math.max(0, wCorner);
        const wEnd = Math.min(inWidth, wCorner + effectiveFilterWidth);
        const windowBase = imageBase + hBegin * rowStride + wBegin * inChannels;
        if (hEnd - hBegin === 2 && wEnd - wBegin === 2) {
          dyIndex = routeTwoByTwo(x, dy, dx, windowBase, rowStride, inChannels, dyIndex);
          continue;
        }
        for (let c = 0; c < inChannels; c++, dyIndex++) {
          let best = -Infinity;
          let bestIndex = -1;
          for (let h = hBegin, row = windowBase + c; h < hEnd; h++, row += rowStride) {
            for (let w = wBegin, i = row; w < wEnd; w++, i += inChannels) {
              if (x[i] > best) {
                best = x[i];
                bestIndex = i;
              }
            }
          }
          if (bestIndex >= 0) dx[bestIndex] += dy[dyIndex];
        }
      }
    }
  }
}

/** The 2x2 window of every channel at `windowBase`, unrolled: loop overhead dominates the general path there. */
function routeTwoByTwo(
  x: Float32Array, dy: Float32Array, dx: Float32Array, windowBase: number, rowStride: number, channels: number, dyIndex: number,
): number {
  for (let c = 0; c < channels; c++, dyIndex++) {
    const i0 = windowBase + c;
    const i1 = i0 + channels;
    const i2 = i0 + rowStride;
    const i3 = i2 + channels;
    let best = -Infinity;
    let bestIndex = -1;
    if (x[i0] > best) { best = x[i0]; bestIndex = i0; }
    if (x[i1] > best) { best = x[i1]; bestIndex = i1; }
    if (x[i2] > best) { best = x[i2]; bestIndex = i2; }
    if (x[i3] > best) bestIndex = i3;
    if (bestIndex >= 0) dx[bestIndex] += dy[dyIndex];
  }
  return dyIndex;
}

/** dataId of a TemperMaxPoolGradRelu output -> its sums over all axes but the last (the channels), in float32. */
const channelSumsOf = new WeakMap<object, Float32Array>();

/** The rows of a rows x channels matrix added in order, in float64, rounded to float32 at the end. */
function addRows(values: Float32Array, rows: number, channels: number): Float32Array {
  const totals = new Float64Array(channels);
  for (let r = 0, at = 0; r < rows; r++) for (let c = 0; c < channels; c++, at++) totals[c] += values[at]!;
  return Float32Array.from(totals);
}

/**
 * Per channel, the sum of t over its other axes where the kernel that made t already has it (a TemperMaxPoolGradRelu
 * output, on the SIMD path): a ReLU conv's bias gradient without another pass over its output gradient. Else undefined.
 * Summed in another order than tf.sum (rows of the pool's output, then those rows in float64), so the bits can differ
 * from tf.sum's at rounding level; the same at any thread count.
 */
export function knownChannelSums(t: tf.Tensor): Float32Array | undefined {
  const sums = channelSumsOf.get(t.dataId);
  // A reshape shares the buffer: the sums hold for any shape with the same last axis (a channel is an index mod that).
  return sums !== undefined && sums.length === t.shape.at(-1) ? sums : undefined;
}

/**
 * The project kernel that fuses a ReLU gradient into the max-pool gradient: ReluGrad(MaxPoolGrad(dy, input, output),
 * input) in one pass, for an input that is a ReLU's output (see maxPoolGradConfig). Same inputs and attributes as
 * MaxPoolGrad.
 */
export const MAX_POOL_GRAD_RELU = 'TemperMaxPoolGradRelu';

/**
 * MaxPoolGrad (relu false) or MAX_POOL_GRAD_RELU (relu true, no `stock`) for wasm; MaxPoolGrad of dtypes other than
 * float32 goes to `stock`. The fused 2x2/2 path gives the bits of MaxPoolGrad then TemperReluGrad, -0 included (a window holding NaN
 * aside: 0 where the two passes give dy).
 */
function maxPoolGradWasm(stock: tf.KernelFunc | undefined, relu: boolean) {
  return (args: WasmKernelArgs): tf.TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') {
      if (!stock) throw new Error(`${MAX_POOL_GRAD_RELU} takes float32 tensors, found dy ${dy.dtype} and input ${input.dtype}`);
      return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const dx = backend.makeOutput(input.shape, 'float32');
    const simd = simdKernels(backend);
    if (simd && tilesByTwo(info) && info.inChannels % 4 === 0) {
      // Four channels at a time in WebAssembly SIMD; same routing as backpropTiledTwoByTwo.
      const rows = info.batchSize * info.outHeight;
      const channels = info.inChannels;
      const dyRow = 4 * info.outWidth * channels;
      // With the ReLU gradient fused in, dx is a ReLU conv's dz, whose bias gradient is its channel sums: each output
      // row's, from the kernel, added here in row order in float64.
      const rowSums = relu ? backend.makeOutput([rows, channels], 'float32') : undefined;
      try {
        const [xAt, dyAt, dxAt] = [heapOffset(backend, input), heapOffset(backend, dy), heapOffset(backend, dx)];
        const sumsAt = rowSums ? heapOffset(backend, rowSums) : 0;
        runKernelJobs(backend, elementShares(backend, rows, 1, tf.util.sizeFromShape(input.shape)).map(([first, end]) => ({
          fn: 'max_pool_grad_2x2',
          args: [xAt + 4 * first * dyRow, dyAt + first * dyRow, dxAt + 4 * first * dyRow, end - first, info.outWidth, channels, relu ? 1 : 0,
            rowSums ? sumsAt + 4 * first * channels : 0],
        })));
        if (rowSums) channelSumsOf.set(dx.dataId, addRows(heapFloat32(backend, rowSums), rows, channels));
      } finally {
        if (rowSums) backend.disposeData(rowSums.dataId);
      }
      return dx;
    }
    const dxData = heapFloat32(backend, dx);
    maxPoolBackprop(heapFloat32(backend, input), heapFloat32(backend, dy), dxData, info);
    if (relu) reluBackprop(heapFloat32(backend, input), dxData, dxData);
    return dx;
  };
}

/** Where a ReLU first layer's convolution pooled its output ahead (directConv): its dataId -> that pool, until taken. */
const pooledAhead = new Map<object, { backend: WasmKernelArgs['backend']; shape: number[]; pooled: tf.TensorInfo }>();
/** Pools held ahead at most; the oldest is freed past this (a convolution whose output no MaxPool read). */
export const POOLED_AHEAD_MAX = 2;

/**
 * Notes that `pooled` is the 2x2/2 max pool (max_pool_2x2) of `input`, so that MaxPool on `input` returns it instead
 * of reading `input` again. The buffer is handed to that MaxPool's output, or freed once POOLED_AHEAD_MAX newer are held.
 */
export function notePooledAhead(backend: WasmKernelArgs['backend'], input: tf.TensorInfo, pooled: tf.TensorInfo): void {
  pooledAhead.set(input.dataId, { backend, shape: [...input.shape], pooled });
  for (const [key, entry] of pooledAhead) {
    if (pooledAhead.size <= POOLED_AHEAD_MAX) break;
    pooledAhead.delete(key);
    entry.backend.disposeData(entry.pooled.dataId);
  }
}

/** Pools held ahead now (tests). */
export function pooledAheadCount(): number {
  return pooledAhead.size;
}

/**
 * MaxPool for wasm: 2x2 windows with stride 2 that tile a float32 input with channels a multiple of 4 take the pool
 * the convolution computed ahead (notePooledAhead), else run the SIMD kernel (simd/kernels.wat max_pool_2x2) split by
 * output rows over the worker threads. Both give the cpu backend's bits (first maximum, NaN skipped). Everything else
 * goes to the stock kernel (XNNPACK's), which alone measured as fast as the SIMD kernel.
 */
export function makeMaxPoolConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function maxPool(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
    const simd = simdKernels(backend);
    if (simd && x.dtype === 'float32' && x.shape.length === 4 && tf.util.sizeFromShape(x.shape) > 0) {
      const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
      if (tilesByTwo(info) && info.inChannels % 4 === 0) {
        const ahead = pooledAhead.get(x.dataId);
        if (ahead && ahead.backend === backend && tf.util.arraysEqual(ahead.shape, x.shape)) {
          pooledAhead.delete(x.dataId);
          return ahead.pooled;
        }
        const y = backend.makeOutput(info.outShape, 'float32');
        const rows = info.batchSize * info.outHeight;
        const yRow = 4 * info.outWidth * info.inChannels;
        const [xAt, yAt] = [heapOffset(backend, x), heapOffset(backend, y)];
        runKernelJobs(backend, elementShares(backend, rows, 1, tf.util.sizeFromShape(x.shape)).map(([first, end]) => ({
          fn: 'max_pool_2x2',
          args: [xAt + 4 * first * yRow, yAt + first * yRow, end - first, info.outWidth, info.inChannels],
        })));
        return y;
      }
    }
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return { kernelName: tf.MaxPool, backendName: 'wasm', kernelFunc: maxPool as unknown as tf.KernelFunc };
}

/** MaxPoolGrad for wasm; falls back to the stock kernel for dtypes other than float32. */
export function makeMaxPoolGradConfig(stock: tf.KernelFunc): tf.KernelConfig {
  return { kernelName: tf.MaxPoolGrad, backendName: 'wasm', kernelFunc: maxPoolGradWasm(stock, false) as unknown as tf.KernelFunc };
}

/** MAX_POOL_GRAD_RELU for wasm (float32 only). */
export const maxPoolGradReluWasmConfig: tf.KernelConfig = {
  kernelName: MAX_POOL_GRAD_RELU, backendName: 'wasm', kernelFunc: maxPoolGradWasm(undefined, true) as unknown as tf.KernelFunc,
};

/**
 * MaxPool's gradient. Where its input x is a ReLU's output (reluOutputOnTape) and the backend has MAX_POOL_GRAD_RELU,
 * it returns that kernel's result, marked as masked by x: the gradient at the ReLU's input, which is what the ReLU's
 * own gradient would compute from the plain max-pool gradient, so that gradient then hands it on unchanged
 * (activationGradient) instead of another pass over the activation. Else, and on other backends, tfjs' own
 * (MaxPoolGrad). On cnn-small's step this saves two full-size passes (~1.5 ms of ~30 on two threads).
 */
export const maxPoolGradConfig: tf.GradConfig = {
  kernelName: tf.MaxPool,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad } = attrs as unknown as tf.MaxPoolAttrs;
    const inputs = { dy: dy as tf.Tensor, input: x, output: y };
    const gradAttrs = { filterSize, strides, pad } as unknown as tf.NamedAttrMap;
    return {
      x: () => {
        if (x.dtype === 'float32' && tf.getKernel(MAX_POOL_GRAD_RELU, tf.getBackend()) !== undefined && reluOutputOnTape(x)) {
          const dx = tf.engine().runKernel(MAX_POOL_GRAD_RELU, inputs, gradAttrs) as tf.Tensor;
          markMaskedBy(dx, x);
          return dx;
        }
        return tf.engine().runKernel(tf.MaxPoolGrad, inputs, gradAttrs) as tf.Tensor;
      },
    };
  },
};
