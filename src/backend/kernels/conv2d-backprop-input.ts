// Conv2DBackpropInput for wasm as an XNNPACK conv2d (or matmul + col2im): the stock kernel is a naive loop (~3 GFLOP/s against ~28).
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels } from './simd/index.js';
import { assertNhwcUndilated, heapFloat32, runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';
import { elementShares, gemmInstance, parallelThreads, runJobs, runKernelJobs } from './gemm.js';
import { INPUT_GRAD_K3_ARGS } from './fused-jobs.js';
import { forwardTile, imageShares, transformFilter, winogradApplies, winogradConv } from './winograd.js';

// Below this many input channels col2im beats the conv path (measured at 28x28x32, 3x3: wins at 1 channel, loses at 3).
const COL2IM_BELOW_INPUT_CHANNELS = 2;

/** filter [KH, KW, CI, CO] -> [KH, KW, CO, CI], spatially flipped: the filter of the transposed convolution. */
function flipAndSwapFilter(w: Float32Array, out: Float32Array, [kh, kw, ci, co]: number[]): void {
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const src = ((kh - 1 - y) * kw + (kw - 1 - x)) * ci * co;
      const dst = (y * kw + x) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) out[dst + o * ci + i] = w[src + i * co + o];
      }
    }
  }
}

/** filter [KH, KW, CI, CO] viewed as [K, CO] -> [CO, K], so dy [P, CO] times it needs no transpose flag. */
function transposeFilter(w: Float32Array, out: Float32Array, patchSize: number, outChannels: number): void {
  for (let k = 0; k < patchSize; k++) {
    for (let o = 0; o < outChannels; o++) out[o * patchSize + k] = w[k * outChannels + o];
  }
}

/** Adds each row p = (n, oh, ow) of cols [P, KH*KW*CI] back onto the input pixels its patch covers. */
export function col2im(cols: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  dx.fill(0);
  let c = 0;
  for (let n = 0; n < batchSize; n++) {
    const imageBase = n * inHeight * inWidth * inChannels;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh - padTop;
          for (let kw = 0; kw < filterWidth; kw++, c += inChannels) {
            const iw = ow * strideWidth + kw - padLeft;
            if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) continue;
            const base = imageBase + (ih * inWidth + iw) * inChannels;
            for (let ci = 0; ci < inChannels; ci++) dx[base + ci] += cols[c + ci];
          }
        }
      }
    }
  }
}

/** dx = col2im(dy [P, CO] times filter^T [CO, K]): for few input channels, where XNNPACK's conv tiles sit mostly idle. */
function backpropByCol2im(dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, backend: WasmKernelArgs['backend']): tf.TensorInfo {
  const patchCount = info.batchSize * info.outHeight * info.outWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  const filterT = backend.makeOutput([info.outChannels, patchSize], 'float32');
  transposeFilter(heapFloat32(backend, filter), heapFloat32(backend, filterT), patchSize, info.outChannels);
  const dyMatrix = runWasmKernel(tf.Reshape, backend, { x: dy }, { shape: [patchCount, info.outChannels] });
  const cols = runWasmKernel(tf.BatchMatMul, backend, { a: dyMatrix, b: filterT }, { transposeA: false, transposeB: false });
  const dx = backend.makeOutput(info.inShape, 'float32');
  const simd = simdKernels(backend);
  if (simd) {
    // The same scatter in WebAssembly (about 3x the JavaScript loop's speed); the geometry goes in as 12 int32.
    const geometry = backend.makeOutput([12], 'int32');
    (backend.typedArrayFromHeap(geometry) as Int32Array).set([
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
      info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
    ]);
    simd.col2im(heapOffset(backend, cols), heapOffset(backend, dx), heapOffset(backend, geometry));
    backend.disposeData(geometry.dataId);
  } else {
    col2im(heapFloat32(backend, cols), heapFloat32(backend, dx), info);
  }
  for (const t of [filterT, dyMatrix, cols]) backend.disposeData(t.dataId);
  return dx;
}

/**
 * Up to this many input channels (first layers: 1 or 3) a stride-1 input gradient is read straight from dy
 * (input_grad_few_channels). Measured at batch 128, 3x3 'same', alternating in one process (ms, the kernel, then the
 * path before it): 28x28, 1 <- 32 channels 2.8 against 5.3 (product and col2im); 32x32, 3 <- 64 16.7 against 22.1
 * (XNNPACK's convolution); 4 <- 64 22.1 against 22.4, no gain left.
 */
export const FEW_INPUT_CHANNELS = 3;

/** dx of a stride-1 convolution with few input channels: the SIMD kernel, split by images over the worker threads. */
function inputGradFewChannels(backend: WasmKernelArgs['backend'], dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const dx = backend.makeOutput(info.inShape, 'float32');
  const shares = elementShares(backend, info.batchSize, 1, info.batchSize * info.outHeight * info.outWidth * info.outChannels * info.inChannels);
  const geometry = backend.makeOutput([16 * shares.length], 'int32');
  const dyImage = 4 * info.outHeight * info.outWidth * info.outChannels;
  const dxImage = 4 * info.inHeight * info.inWidth * info.inChannels;
  shares.forEach(([first, end], t) => (backend.typedArrayFromHeap(geometry) as Int32Array).set([
    end - first, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.padInfo.top, info.padInfo.left,
  ], 16 * t));
  runKernelJobs(backend, shares.map(([first], t) => ({
    fn: 'input_grad_few_channels',
    args: [heapOffset(backend, dy) + first * dyImage, heapOffset(backend, filter), heapOffset(backend, dx) + first * dxImage, heapOffset(backend, geometry) + 64 * t],
  })));
  backend.disposeData(geometry.dataId);
  return dx;
}

/**
 * dx of a stride-1 convolution with 3-wide filters and few input channels: the product module's input_grad_k3 (fused
 * multiply-adds, four dx pixels per pass over the filter), split by images over the worker threads. Measured at batch
 * 128, 3x3 'same', two threads, alternating with input_grad_few_channels (ms): 28x28, 1 <- 32 channels 2.3 -> 1.25;
 * 32x32, 3 <- 64 13.5 -> 8.4; 3 <- 32 8.2 -> 4.1.
 */
function inputGradK3(backend: WasmKernelArgs['backend'], instance: NonNullable<ReturnType<typeof gemmInstance>>, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const dx = backend.makeOutput(info.inShape, 'float32');
  const dyImage = 4 * info.outHeight * info.outWidth * info.outChannels;
  const dxImage = 4 * info.inHeight * info.inWidth * info.inChannels;
  runJobs(backend, instance, imageShares(info.batchSize, parallelThreads(instance)).map(([first, end]) => {
    const args: Record<(typeof INPUT_GRAD_K3_ARGS)[number], number> = {
      dy: heapOffset(backend, dy) + first * dyImage, filter: heapOffset(backend, filter), dx: heapOffset(backend, dx) + first * dxImage,
      images: end - first, height: info.inHeight, width: info.inWidth, inChannels: info.inChannels, outHeight: info.outHeight,
      outWidth: info.outWidth, outChannels: info.outChannels, filterHeight: info.filterHeight, padTop: info.padInfo.top, padLeft: info.padInfo.left,
    };
    return { fn: 'input_grad_k3', args: INPUT_GRAD_K3_ARGS.map((name) => args[name]) };
  }));
  return dx;
}

/**
 * Stride 1: dx = conv2d(dy, flip(filter) with in/out channels swapped), padded by (filter size - 1 - forward padding)
 * on the leading side and whatever restores the input size on the trailing side: Winograd where it applies, the
 * few-channels kernels for up to FEW_INPUT_CHANNELS input channels (input_grad_k3 for 3-wide filters where the product
 * module runs, input_grad_few_channels else), else XNNPACK's convolution. Strided convolutions
 * and negative padding there (forward padding at least the filter size) use col2im; dtypes other than float32 the
 * stock kernel.
 */
export function makeConv2DBackpropInputConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function conv2DBackpropInput(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const { strides, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    assertNhwcUndilated('Conv2DBackpropInput', attrs);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const { strideHeight, strideWidth, filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth } = info;
    const top = filterHeight - 1 - info.padInfo.top;
    const left = filterWidth - 1 - info.padInfo.left;
    const bottom = inHeight - outHeight + filterHeight - 1 - top;
    const right = inWidth - outWidth + filterWidth - 1 - left;
    const strided = strideHeight > 1 || strideWidth > 1;
    // Strided: the dilated dy is mostly zeros (3/4 of it at stride 2), which the conv path would multiply through;
    // the matrix product does only the real work (measured, ResNet-18's stride-2 3x3 convs at batch 32: 2-4x faster).
    // 3x3 with enough channels: Winograd on dy, with the filter rotated and its channels swapped inside the transform.
    const winograd = !strided && Math.min(top, left, bottom, right) >= 0
      && winogradApplies({ ...info, inChannels: info.outChannels, outChannels: info.inChannels, outHeight: inHeight, outWidth: inWidth }, backend);
    if (!strided && !winograd && info.inChannels <= FEW_INPUT_CHANNELS && info.outChannels % 4 === 0 && simdKernels(backend)) {
      const instance = gemmInstance(backend);
      if (instance && filterWidth === 3) return inputGradK3(backend, instance, dy, filter, info);
      return inputGradFewChannels(backend, dy, filter, info);
    }
    if (strided || Math.min(top, left, bottom, right) < 0 || info.inChannels < COL2IM_BELOW_INPUT_CHANNELS) {
      return backpropByCol2im(dy, filter, info, backend);
    }
    if (winograd) {
      const tile = forwardTile(info.batchSize, inHeight, inWidth, Math.min(info.inChannels, info.outChannels));
      const u = transformFilter(backend, filter, true, tile);
      const dx = winogradConv(backend, dy, { u, tile, outShape: info.inShape, padTop: top, padLeft: left, relu: false });
      backend.disposeData(u.dataId);
      return dx;
    }
    const flipped = backend.makeOutput([filterHeight, filterWidth, info.outChannels, info.inChannels], 'float32');
    flipAndSwapFilter(heapFloat32(backend, filter), heapFloat32(backend, flipped), filter.shape);
    const dx = runWasmKernel(tf.Conv2D, backend, { x: dy, filter: flipped }, {
      strides: [1, 1],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [1, 1],
    });
    backend.disposeData(flipped.dataId);
    return dx;
  }
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
  };
}
