// A fused convolution (conv + bias + ReLU or linear) that stays fused under a gradient tape. tfjs splits a ReLU conv
// into Conv2D, Add and Relu kernels whenever a tape records (two extra passes over the activation, and on a GPU two
// more launches), and its fused kernel's own gradient computes the filter gradient even when only the input's is
// wanted. This kernel is the backend's own FusedConv2D under another name, with a gradient whose parts are computed
// only when asked for. src/models/fast-layers.ts (FastConv2D) uses it.
import * as tf from '@tensorflow/tfjs';
import { isMaskedBy, noteReluOutput, RELU_GRAD } from './relu-grad.js';
import { knownChannelSums, notePooledAhead } from './max-pool-grad.js';
import { forwardTile, imageShares, transformFilter, winogradApplies, winogradConv } from './winograd.js';
import { CONV_DIRECT_ARGS } from './fused-jobs.js';
import { elementShares, gemm, gemmInstance, parallelThreads, runJobs, runKernelJobs } from './gemm.js';
import { heapOffset } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

/** The project kernel: the backend's FusedConv2D kernel under this name (inputs x, filter, bias?; FusedConv2D's attrs). */
export const FUSED_CONV = 'TemperFusedConv2D';

/** The stock kernel `stockName` of `backendName` under the project's name `kernelName`; throws if the backend has none. */
export function stockKernelAs(kernelName: string, stockName: string, backendName: string): tf.KernelConfig {
  const stock = tf.getKernel(stockName, backendName);
  if (!stock) throw new Error(`${stockName} is not registered for ${backendName}`);
  return { kernelName, backendName, kernelFunc: stock.kernelFunc };
}

/**
 * The gradient at the pre-activation of a fused kernel's output y: dy where y is positive (ReLU; y > 0 exactly where
 * the pre-activation is), dy itself (linear); `kernelName` names the kernel in the error for any other activation.
 */
export function activationGradient<T extends tf.Tensor>(kernelName: string, dy: T, y: T, activation: string | undefined): T {
  if (activation === 'linear') return dy;
  if (activation !== 'relu') throw new Error(`${kernelName}: no gradient for activation '${activation}'`);
  // The max pool's gradient already applied it (maxPoolGradConfig): same values, one pass fewer.
  if (isMaskedBy(dy, y)) return dy;
  return tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined
    ? (tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as T)
    : (tf.mul(dy, tf.cast(tf.step(y), 'float32')) as T);
}

/** FusedConv2D of `backendName` registered as FUSED_CONV; throws if the backend has none. */
export function fusedConvConfigFor(backendName: string): tf.KernelConfig {
  return stockKernelAs(FUSED_CONV, tf.FusedConv2D, backendName);
}

/**
 * FUSED_CONV on wasm: 3x3 stride-1 convolutions with enough channels (winogradApplies), linear or ReLU, as Winograd
 * (F(4x4, 3x3) or F(2x2, 3x3), forwardTile); long-patch strided ones as im2col and the project's product
 * (im2colApplies); everything else the backend's FusedConv2D.
 */
export function makeFusedConvWasmConfig(stock: tf.KernelFunc): tf.KernelConfig {
  // Noting ReLU outputs lets the max pool after the convolution fuse the ReLU gradient into its own (max-pool-grad.ts).
  function fusedConv(args: WasmKernelArgs): tf.TensorInfo {
    const y = fusedConvOutput(args);
    if (args.attrs?.['activation'] === 'relu') noteReluOutput(y.dataId, FUSED_CONV);
    return y;
  }
  function fusedConvOutput(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = attrs as unknown as tf.FusedConv2DAttrs;
    const plain = x!.dtype === 'float32' && filter!.dtype === 'float32' && x!.shape.length === 4
      && (dataFormat === undefined || dataFormat === 'NHWC') && preluActivationWeights === undefined
      && (activation === undefined || activation === 'linear' || activation === 'relu')
      && (bias === undefined || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === filter!.shape[3]));
    if (plain) {
      const info = tf.backend_util.computeConv2DInfo(
        x!.shape as [number, number, number, number], filter!.shape as [number, number, number, number],
        strides, dilations ?? 1, pad, dimRoundingMode, false, 'channelsLast');
      if (winogradApplies(info, backend) && info.padInfo.top >= 0 && info.padInfo.left >= 0) {
        const tile = forwardTile(info.batchSize, info.outHeight, info.outWidth, Math.min(info.inChannels, info.outChannels));
        const u = transformFilter(backend, filter!, false, tile);
        const y = winogradConv(backend, x!, {
          u, tile, outShape: info.outShape as [number, number, number, number], padTop: info.padInfo.top, padLeft: info.padInfo.left,
          bias, relu: activation === 'relu', poolAhead: activation === 'relu',
        });
        backend.disposeData(u.dataId);
        return y;
      }
      if (directConvApplies(info) && gemmInstance(backend)) return directConv(backend, x!, filter!, bias, activation === 'relu', info);
      if (im2colApplies(info) && gemmInstance(backend)) return im2colConv(backend, x!, filter!, bias, activation === 'relu', info);
    }
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return { kernelName: FUSED_CONV, backendName: 'wasm', kernelFunc: fusedConv as unknown as tf.KernelFunc };
}

/**
 * dz = dy where the output y is positive (ReLU; y > 0 exactly where the pre-activation is), else dy itself (linear);
 * then dx, dfilter and dbias from dz, each only when the tape asks for it.
 */
export const fusedConvGradConfig: tf.GradConfig = {
  kernelName: FUSED_CONV,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, dataFormat, dimRoundingMode, activation } = attrs as unknown as tf.FusedConv2DAttrs;
    const dz = activationGradient(FUSED_CONV, dy as tf.Tensor4D, y, activation);
    const common = { strides, pad, dataFormat, dimRoundingMode } as unknown as tf.NamedAttrMap;
    return {
      x: () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dz, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: dz }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      bias: () => {
        const known = knownChannelSums(dz);
        return known ? tf.tensor1d(known) : tf.sum(dz, [0, 1, 2]);
      },
    };
  },
};

/**
 * Where im2col and the project's product beat XNNPACK's convolution: patches of 512+ values and 64+ output channels
 * (ResNet-18's 3x3 stride-2 layers at batch 128: 78 -> 63, 77 -> 53, 74 -> 51 ms). With shorter patches it lost
 * (3x3x32 -> 64: 9.1 against 8.2 ms; 3 input channels: 13.4 against 8.2; 1x1 64 -> 128: 9.4 against 8.4).
 */
export function im2colApplies(info: tf.backend_util.Conv2DInfo): boolean {
  return info.filterHeight * info.filterWidth * info.inChannels >= 512 && info.outChannels >= 64
    && info.dilationHeight === 1 && info.dilationWidth === 1;
}

/** Most input channels the direct convolution takes: first layers (grey or RGB images, a few more). */
export const DIRECT_CONV_MAX_IN_CHANNELS = 4;

/**
 * Where the direct convolution (conv_direct) applies: stride 1, undilated, few input channels, output channels a
 * multiple of 8 (whole panels) and non-negative padding. There the patch is too short (9 values for a grey image) for
 * a matrix product's depth. Against XNNPACK's convolution at batch 128, 3x3 'same', two threads (ms): 28x28, 1 -> 32
 * channels 1.8 -> 1.3; 32x32, 3 -> 64 8.7 -> 5.0; 3 -> 32 4.2 -> 2.9; 3 -> 16 2.2 -> 1.6.
 */
export function directConvApplies(info: tf.backend_util.Conv2DInfo): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1
    && info.inChannels <= DIRECT_CONV_MAX_IN_CHANNELS && info.outChannels % 8 === 0
    && info.padInfo.top >= 0 && info.padInfo.left >= 0;
}

/**
 * y = conv(x, filter) + bias (ReLU) read straight from x (gemm-wat.mjs's conv_direct), split by images over the worker
 * threads, each padding one image at a time into a buffer of its own. Each output is summed over the taps in one
 * fixed order, so the bits do not depend on the thread count.
 */
export function directConv(
  backend: WasmKernelArgs['backend'], x: tf.TensorInfo, filter: tf.TensorInfo, bias: tf.TensorInfo | undefined, relu: boolean,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const instance = gemmInstance(backend)!;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const taps = filterHeight * filterWidth * inChannels;
  const shares = imageShares(batchSize, parallelThreads(instance));
  const padFloats = (outHeight + filterHeight - 1) * (outWidth + filterWidth - 1) * inChannels;
  const y = backend.makeOutput(info.outShape, 'float32');
  const packed = backend.makeOutput([outChannels * taps], 'float32');
  const zeros = bias ? undefined : backend.makeOutput([outChannels], 'float32');
  const pads = backend.makeOutput([shares.length * padFloats], 'float32');
  // A ReLU first layer is most often pooled next (cnn-small): its 2x2/2 max pool, computed while each image's output is
  // in cache, waits for the MaxPool that reads y (makeMaxPoolConfig), which then skips its own pass over y.
  const pooled = relu && outHeight % 2 === 0 && outWidth % 2 === 0 && outHeight > 0 && outWidth > 0
    ? backend.makeOutput([batchSize, outHeight / 2, outWidth / 2, outChannels], 'float32') : undefined;
  if (zeros) heapFloat32(backend, zeros).fill(0);
  instance.exports.pack_b(heapOffset(backend, filter), 4 * outChannels, 4, taps, outChannels, heapOffset(backend, packed));
  const imageIn = 4 * inHeight * inWidth * inChannels;
  const imageOut = 4 * outHeight * outWidth * outChannels;
  runJobs(backend, instance, shares.map(([first, end], t) => {
    const args: Record<(typeof CONV_DIRECT_ARGS)[number], number> = {
      x: heapOffset(backend, x) + first * imageIn, pad: heapOffset(backend, pads) + 4 * t * padFloats, out: heapOffset(backend, y) + first * imageOut,
      packed: heapOffset(backend, packed), bias: heapOffset(backend, bias ?? zeros!), images: end - first,
      height: inHeight, width: inWidth, inChannels, outHeight, outWidth, padTop: info.padInfo.top, padLeft: info.padInfo.left,
      filterHeight, filterWidth, panels: outChannels / 8, relu: relu ? 1 : 0, pooled: pooled ? heapOffset(backend, pooled) + first * (imageOut / 4) : 0,
    };
    return { fn: 'conv_direct', args: CONV_DIRECT_ARGS.map((name) => args[name]) };
  }));
  for (const t of [packed, pads, ...(zeros ? [zeros] : [])]) backend.disposeData(t.dataId);
  if (pooled) notePooledAhead(backend, y, pooled);
  return y;
}

/** Largest im2col matrix built at once, in floats (16 MiB); bigger batches go in chunks of images. */
export const IM2COL_CHUNK_FLOATS = 1 << 22;

/**
 * y = conv(x, filter) (+ bias, ReLU) as im2col (simd/kernels.wat, split by images over the worker threads) times the
 * filter with the project's matrix product, in chunks of images; then bias and activation, split by rows.
 */
export function im2colConv(
  backend: WasmKernelArgs['backend'], x: tf.TensorInfo, filter: tf.TensorInfo, bias: tf.TensorInfo | undefined, relu: boolean,
  info: tf.backend_util.Conv2DInfo, chunkFloats = IM2COL_CHUNK_FLOATS,
): tf.TensorInfo {
  const instance = gemmInstance(backend)!;
  const { batchSize, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const patch = filterHeight * filterWidth * inChannels;
  const positions = outHeight * outWidth;
  const chunk = Math.max(1, Math.min(batchSize, Math.floor(chunkFloats / (positions * patch))));
  const y = backend.makeOutput(info.outShape, 'float32');
  const cols = backend.makeOutput([chunk * positions, patch], 'float32');
  const geometry = backend.makeOutput([8 * 16], 'int32');
  const zeros = backend.makeOutput([outChannels], 'float32');
  heapFloat32(backend, zeros).fill(0);
  for (let start = 0; start < batchSize; start += chunk) {
    const count = Math.min(chunk, batchSize - start);
    im2colImages(backend, x, cols, geometry, info, start, count);
    gemm(backend, instance, {
      a: { data: cols, rowStride: patch, colStride: 1 },
      b: { data: filter, rowStride: outChannels, colStride: 1 },
      c: { data: y, floatOffset: start * positions * outChannels, ldc: outChannels },
      m: count * positions, n: outChannels, k: patch,
    });
  }
  if (bias || relu) {
    const rows = batchSize * positions;
    runKernelJobs(backend, elementShares(backend, rows, 1, rows * outChannels).map(([first, end]) => ({
      fn: 'bias_activation',
      args: [heapOffset(backend, y) + 4 * first * outChannels, heapOffset(backend, bias ?? zeros), end - first, outChannels, relu ? 1 : 0],
    })));
  }
  for (const t of [cols, geometry, zeros]) backend.disposeData(t.dataId);
  return y;
}

/**
 * cols[count oh ow][kh kw in] = the im2col rows of images [start, start + count) of x, split by images over the worker
 * threads; `geometry` is scratch of 8 x 16 int32 (a block per thread).
 */
export function im2colImages(
  backend: WasmKernelArgs['backend'], x: tf.TensorInfo, cols: tf.TensorInfo, geometry: tf.TensorInfo, info: tf.backend_util.Conv2DInfo,
  start: number, count: number,
): void {
  const positions = info.outHeight * info.outWidth;
  const patch = info.filterHeight * info.filterWidth * info.inChannels;
  const imageBytes = 4 * info.inHeight * info.inWidth * info.inChannels;
  const shares = elementShares(backend, count, 1, count * positions * patch);
  shares.forEach(([first, end], t) => (backend.typedArrayFromHeap(geometry) as Int32Array).set([
    end - first, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
    info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
  ], 16 * t));
  runKernelJobs(backend, shares.map(([first], t) => ({
    fn: 'im2col',
    args: [heapOffset(backend, x) + (start + first) * imageBytes, heapOffset(backend, cols) + 4 * first * positions * patch, heapOffset(backend, geometry) + 64 * t],
  })));
}
