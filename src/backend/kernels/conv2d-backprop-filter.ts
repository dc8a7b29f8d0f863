// Conv2DBackpropFilter for wasm (stock tfjs-wasm has none): Winograd for 3x3 stride-1 convolutions where it applies
// (winograd.ts); a SIMD kernel for filters with few taps (first layers); else im2col and the project's matrix product
// (gemm.ts), or, without it (TEMPER_GEMM=0), im2col in JavaScript and one XNNPACK product.
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels } from './simd/index.js';
import { assertNhwcUndilated, heapFloat32, runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';
import { FILTER_GRAD_DIRECT_ARGS, FILTER_GRAD_TAPS_ARGS } from './fused-jobs.js';
import { gemm, gemmInstance, parallelThreads, runKernelJobs } from './gemm.js';
import { im2colImages } from './fused-conv.js';
import { filterGradTile, winogradFilterGradApplies, winogradFilterGradient } from './winograd.js';

/**
 * Copies image `n` of NHWC `x` into channel planes: planes[ci][padTop + ih][padLeft + iw], rows `planeWidth` long,
 * planes `planeSize` apart. Cells outside the image are left as they are (zero from the allocation, every time).
 */
function copyToPlanes(x: Float32Array, n: number, planes: Float32Array, info: tf.backend_util.Conv2DInfo, planeWidth: number, planeSize: number): void {
  const { inHeight, inWidth, inChannels } = info;
  const { top, left } = info.padInfo;
  let src = n * inHeight * inWidth * inChannels;
  for (let ih = 0; ih < inHeight; ih++) {
    for (let iw = 0; iw < inWidth; iw++) {
      let dst = (ih + top) * planeWidth + iw + left;
      for (let ci = 0; ci < inChannels; ci++, src++, dst += planeSize) planes[dst] = x[src]!;
    }
  }
}

/**
 * Writes the transposed im2col matrix `cols[k][p]` with k = (kh, kw, ci) and p = (n, oh, ow), so that
 * dW[k][co] = sum_p cols[k][p] * dy[p][co] is a product with no transpose flag (transposed products are
 * ~10x slower on wasm). Each image is first copied into zero-padded channel planes (small enough to stay in
 * cache), so that every row of `cols` is filled by reading a plane row by row: sequential reads and writes,
 * where reading NHWC directly would stride by the channel count for every element.
 */
export function im2colTransposed(x: Float32Array, cols: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  // Plane rows cover every input row and column a patch can reach, padding included.
  const planeHeight = Math.max(inHeight + padTop, (outHeight - 1) * strideHeight + filterHeight);
  const planeWidth = Math.max(inWidth + padLeft, (outWidth - 1) * strideWidth + filterWidth);
  const planeSize = planeHeight * planeWidth;
  const planes = new Float32Array(inChannels * planeSize);
  const patchCount = batchSize * outHeight * outWidth;
  const outArea = outHeight * outWidth;
  for (let n = 0; n < batchSize; n++) {
    copyToPlanes(x, n, planes, info, planeWidth, planeSize);
    let k = 0;
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        for (let ci = 0; ci < inChannels; ci++, k++) {
          let o = k * patchCount + n * outArea;
          const plane = ci * planeSize + kh * planeWidth + kw;
          for (let oh = 0; oh < outHeight; oh++) {
            let r = plane + oh * strideHeight * planeWidth;
            if (strideWidth === 1) {
              for (let ow = 0; ow < outWidth; ow++) cols[o++] = planes[r++]!;
            } else {
              for (let ow = 0; ow < outWidth; ow++, r += strideWidth) cols[o++] = planes[r]!;
            }
          }
        }
      }
    }
  }
}

/**
 * Positions per output row in the stride-1 layout: the padded input width. Rows then carry filterWidth - 1
 * "junk" positions past the real output columns; their dy rows are zero, so they add nothing to dW, and in
 * exchange every row of `cols` for one image is a single contiguous copy of a padded channel plane.
 */
function extendedRowWidth(info: tf.backend_util.Conv2DInfo): number {
  return info.outWidth + info.filterWidth - 1;
}

/**
 * Filters with at most this many taps (filterHeight * filterWidth * inChannels: a first layer on 1 or 3 channels) go
 * to the SIMD few-taps kernel, where a matrix product would spend most of its time packing dy (measured, cnn-small's
 * first layer at batch 128: 25 ms for the product, of which the packing of dy is most).
 */
const FEW_TAPS = 32;

/** Whether the few-taps SIMD kernel handles this convolution on this backend. */
function fewTaps(info: tf.backend_util.Conv2DInfo, backend: WasmKernelArgs['backend']): boolean {
  return info.filterHeight * info.filterWidth * info.inChannels <= FEW_TAPS && info.outChannels % 4 === 0 && simdKernels(backend) !== undefined;
}

/**
 * Where the few-taps filter gradient reads x and dy directly (the product module's filter_grad_direct, fused
 * multiply-adds, no im2col matrix): stride 1, output channels a multiple of 8, non-negative padding, and the product.
 * At batch 128, 3x3 'same', two threads, alternating (ms, against im2col and filter_grad_taps): 28x28, 1 -> 32 channels
 * 2.2-2.4 -> 1.3-1.8; 32x32, 3 -> 64 10.5-11.9 -> 6.5-7.2; 3 -> 32 5.0-5.8 -> 3.5-3.9.
 */
function directFilterGradApplies(info: tf.backend_util.Conv2DInfo, backend: WasmKernelArgs['backend']): boolean {
  return unitStride(info) && info.outChannels % 8 === 0 && info.padInfo.top >= 0 && info.padInfo.left >= 0 && gemmInstance(backend) !== undefined;
}

/** Stride 1 in both directions: the layout of `im2colExtended` applies. */
function unitStride(info: tf.backend_util.Conv2DInfo): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1;
}

/**
 * Stride-1 im2col, transposed as in `im2colTransposed`, over extended rows (see `extendedRowWidth`):
 * cols[k][(n, oh, w)] = plane(n, ci)[oh + kh][w + kw] for w < rowWidth. Each image is copied into zero-padded
 * channel planes (plus one zero row, so the last copy may run past the bottom edge), then each of its
 * filterHeight * filterWidth * inChannels rows of `cols` is one memcpy of outHeight * rowWidth floats.
 */
export function im2colExtended(x: Float32Array, cols: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inChannels, outHeight, filterHeight, filterWidth } = info;
  const rowWidth = extendedRowWidth(info);
  const planeSize = (outHeight + filterHeight) * rowWidth;
  const planes = new Float32Array(inChannels * planeSize);
  const run = outHeight * rowWidth;
  const patchCount = batchSize * run;
  for (let n = 0; n < batchSize; n++) {
    copyToPlanes(x, n, planes, info, rowWidth, planeSize);
    let k = 0;
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        for (let ci = 0; ci < inChannels; ci++, k++) {
          const from = ci * planeSize + kh * rowWidth + kw;
          cols.set(planes.subarray(from, from + run), k * patchCount + n * run);
        }
      }
    }
  }
}

/** dy [N, OH, OW, C] -> [N, OH, rowWidth, C] with zeros in the extra positions of every row. */
export function extendDyRows(dy: Float32Array, out: Float32Array, rowCount: number, outWidth: number, rowWidth: number, channels: number): void {
  const real = outWidth * channels;
  const extended = rowWidth * channels;
  for (let r = 0; r < rowCount; r++) {
    out.set(dy.subarray(r * real, (r + 1) * real), r * extended);
    out.fill(0, r * extended + real, (r + 1) * extended);
  }
}

/** Largest im2col matrix built at once (8 MiB): bigger batches are done in chunks of images. Chunks this size stay in cache between im2col and the product (measured: 128x14x14x32 -> 64, 34 ms against 43 ms unchunked), and large nets fit the wasm heap. */
export const DEFAULT_MAX_COLUMN_FLOATS = 1 << 21;

function filterGradient({ inputs, backend, attrs = {} }: WasmKernelArgs, maxColumnFloats: number, winogradChunkFloats?: number): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  assertNhwcUndilated('Conv2DBackpropFilter', attrs);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const expectedDy = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy.shape.join() !== expectedDy.join()) {
    throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${expectedDy}] for x [${x.shape}] and filter [${filterShape}]`);
  }
  // 3x3 stride 1 with enough channels: Winograd F(4x4, 3x3) run backwards (4x fewer multiplications).
  if (winogradFilterGradApplies(info, backend) && info.padInfo.top >= 0 && info.padInfo.left >= 0) {
    return winogradFilterGradient(backend, x, dy, {
      outShape: expectedDy as [number, number, number, number], padTop: info.padInfo.top, padLeft: info.padInfo.left, chunkFloats: winogradChunkFloats,
      tile: filterGradTile(info.outHeight, info.outWidth),
    });
  }
  if (fewTaps(info, backend)) return fewTapsFilterGradient(backend, x, dy, info, filterShape);
  if (gemmInstance(backend)) return im2colFilterGradient(backend, x, dy, info, filterShape, maxColumnFloats);
  const rowWidth = unitStride(info) ? extendedRowWidth(info) : info.outWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  const chunk = Math.max(1, Math.min(info.batchSize, Math.floor(maxColumnFloats / (patchSize * info.outHeight * rowWidth))));
  if (chunk === info.batchSize) return chunkProduct(backend, x, dy, info, 0, info.batchSize, filterShape);

  // dW is a sum over images, so chunks of images add up to it.
  const sum = new Float32Array(patchSize * info.outChannels);
  for (let start = 0; start < info.batchSize; start += chunk) {
    const count = Math.min(chunk, info.batchSize - start);
    const part = chunkProduct(backend, x, dy, info, start, count, filterShape);
    const values = heapFloat32(backend, part);
    for (let i = 0; i < sum.length; i++) sum[i]! += values[i]!;
    backend.disposeData(part.dataId);
  }
  const dw = backend.makeOutput(filterShape, 'float32');
  heapFloat32(backend, dw).set(sum);
  return dw;
}

/**
 * dW = im2col(x)^T dy with the SIMD im2col (split by images over the worker threads) and the project's product, which
 * reads the im2col matrix transposed in place and adds each chunk of images into dW (C += A B).
 */
function im2colFilterGradient(
  backend: WasmKernelArgs['backend'], x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo,
  filterShape: [number, number, number, number], maxColumnFloats: number,
): tf.TensorInfo {
  const instance = gemmInstance(backend)!;
  const positions = info.outHeight * info.outWidth;
  const patch = info.filterHeight * info.filterWidth * info.inChannels;
  const chunk = Math.max(1, Math.min(info.batchSize, Math.floor(maxColumnFloats / (patch * positions))));
  const cols = backend.makeOutput([chunk * positions, patch], 'float32');
  const geometry = backend.makeOutput([8 * 16], 'int32');
  const dw = backend.makeOutput(filterShape, 'float32');
  if (info.batchSize === 0) heapFloat32(backend, dw).fill(0);
  for (let start = 0; start < info.batchSize; start += chunk) {
    const count = Math.min(chunk, info.batchSize - start);
    im2colImages(backend, x, cols, geometry, info, start, count);
    gemm(backend, instance, {
      a: { data: cols, rowStride: 1, colStride: patch },
      b: { data: dy, floatOffset: start * positions * info.outChannels, rowStride: info.outChannels, colStride: 1 },
      c: { data: dw, ldc: info.outChannels },
      m: patch, n: info.outChannels, k: count * positions, accumulate: start > 0,
    });
  }
  backend.disposeData(cols.dataId);
  backend.disposeData(geometry.dataId);
  return dw;
}

/** dW of images [start, start + count): im2col of those images times their rows of dy. */
function chunkProduct(
  backend: WasmKernelArgs['backend'],
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  start: number,
  count: number,
  filterShape: [number, number, number, number],
): tf.TensorInfo {
  const extended = unitStride(info);
  const rowWidth = extended ? extendedRowWidth(info) : info.outWidth;
  const rows = count * info.outHeight * rowWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  const imageSize = info.inHeight * info.inWidth * info.inChannels;
  const dySize = info.outHeight * info.outWidth * info.outChannels;
  const whole = start === 0 && count === info.batchSize;
  const cols = backend.makeOutput([patchSize, rows], 'float32');
  const dyRows = whole && !extended ? undefined : backend.makeOutput([rows, info.outChannels], 'float32');
  // Heap views are taken after the last allocation: growing the heap detaches them.
  const images = heapFloat32(backend, x).subarray(start * imageSize, (start + count) * imageSize);
  const chunkDy = heapFloat32(backend, dy).subarray(start * dySize, (start + count) * dySize);
  const chunkInfo = { ...info, batchSize: count };
  if (extended) {
    im2colExtended(images, heapFloat32(backend, cols), chunkInfo);
    extendDyRows(chunkDy, heapFloat32(backend, dyRows!), count * info.outHeight, info.outWidth, rowWidth, info.outChannels);
  } else {
    im2colTransposed(images, heapFloat32(backend, cols), chunkInfo);
    if (dyRows) heapFloat32(backend, dyRows).set(chunkDy);
  }
  const dyMatrix = runWasmKernel(tf.Reshape, backend, { x: dyRows ?? dy }, { shape: [rows, info.outChannels] });
  const product = runWasmKernel(tf.BatchMatMul, backend, { a: cols, b: dyMatrix }, { transposeA: false, transposeB: false });
  const dw = runWasmKernel(tf.Reshape, backend, { x: product }, { shape: filterShape });
  for (const t of [cols, dyMatrix, product, ...(dyRows ? [dyRows] : [])]) backend.disposeData(t.dataId);
  return dw;
}

/** Parts a few-taps filter gradient cuts the batch into (one partial sum each): a function of the batch alone, never of the thread count. */
export const FEW_TAPS_MAX_PARTS = 8;
/** One group's im2col matrix and rows of dy, in bytes: they stay in the core's cache between the two kernels. */
export const FEW_TAPS_GROUP_BYTES = 1 << 19;

/**
 * dW for a filter with few taps (filterGradTapsJob): the batch in up to FEW_TAPS_MAX_PARTS parts of images, each summed
 * by one thread a group of images at a time (im2col, then its product with dy in place; or, where
 * directFilterGradApplies, filter_grad_direct straight from x and dy), then the parts added in order. Before
 * (cnn-small's first layer at batch 128): a JavaScript im2col and one thread, 8.3 ms.
 */
function fewTapsFilterGradient(
  backend: WasmKernelArgs['backend'], x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo,
  filterShape: [number, number, number, number],
): tf.TensorInfo {
  const { batchSize, outHeight, outWidth, outChannels } = info;
  const taps = info.filterHeight * info.filterWidth * info.inChannels;
  const positions = outHeight * outWidth;
  const parts = Math.max(1, Math.min(FEW_TAPS_MAX_PARTS, batchSize));
  const group = Math.max(1, Math.min(Math.ceil(batchSize / parts), Math.floor(FEW_TAPS_GROUP_BYTES / (4 * positions * (taps + outChannels)))));
  const threads = Math.min(parts, parallelThreads(gemmInstance(backend)));
  const shares = Array.from({ length: threads }, (_, t) => [Math.floor((t * parts) / threads), Math.floor(((t + 1) * parts) / threads)] as const);
  // Per thread: the group's im2col matrix, then 16 floats of geometry and the product's 32 floats of scratch.
  const direct = directFilterGradApplies(info, backend);
  const padFloats = (outHeight + info.filterHeight - 1) * (outWidth + info.filterWidth - 1) * info.inChannels;
  const perThread = direct ? padFloats : group * positions * taps + 48;
  const partials = backend.makeOutput([parts * taps * outChannels], 'float32');
  const scratch = backend.makeOutput([threads * perThread], 'float32');
  heapFloat32(backend, partials).fill(0);
  const imageIn = 4 * info.inHeight * info.inWidth * info.inChannels;
  const imageDy = 4 * positions * outChannels;
  runKernelJobs(backend, shares.map(([part0, part1], t) => {
    if (direct) {
      const args: Record<(typeof FILTER_GRAD_DIRECT_ARGS)[number], number> = {
        part0, part1, parts, batch: batchSize, x: heapOffset(backend, x), imageIn, dy: heapOffset(backend, dy), imageDy,
        pad: heapOffset(backend, scratch) + 4 * t * perThread, partials: heapOffset(backend, partials), partialBytes: 4 * taps * outChannels,
        height: info.inHeight, width: info.inWidth, inChannels: info.inChannels, outHeight, outWidth, padTop: info.padInfo.top,
        padLeft: info.padInfo.left, filterHeight: info.filterHeight, filterWidth: info.filterWidth, panels: outChannels / 8,
      };
      return { fn: 'filter_grad_direct', args: FILTER_GRAD_DIRECT_ARGS.map((name) => args[name]) };
    }
    const cols = heapOffset(backend, scratch) + 4 * t * perThread;
    const args: Record<(typeof FILTER_GRAD_TAPS_ARGS)[number], number> = {
      part0, part1, parts, batch: batchSize, group, x: heapOffset(backend, x), imageIn, dy: heapOffset(backend, dy), imageDy, cols,
      geometry: cols + 4 * group * positions * taps, partials: heapOffset(backend, partials), taps, channels: outChannels, positions,
      height: info.inHeight, width: info.inWidth, inChannels: info.inChannels, outHeight, outWidth, filterHeight: info.filterHeight,
      filterWidth: info.filterWidth, strideHeight: info.strideHeight, strideWidth: info.strideWidth, padTop: info.padInfo.top, padLeft: info.padInfo.left,
    };
    return { fn: 'filter_grad_taps_fused', args: FILTER_GRAD_TAPS_ARGS.map((name) => args[name]) };
  }));
  const dw = backend.makeOutput(filterShape, 'float32');
  const sum = heapFloat32(backend, dw);
  const values = heapFloat32(backend, partials);
  const size = taps * outChannels;
  sum.set(values.subarray(0, size));
  for (let part = 1; part < parts; part++) for (let i = 0; i < size; i++) sum[i]! += values[part * size + i]!;
  backend.disposeData(partials.dataId);
  backend.disposeData(scratch.dataId);
  return dw;
}

/** The kernel config; `maxColumnFloats` bounds the im2col matrix, `winogradChunkFloats` Winograd's buffers (tests lower them to exercise chunking). */
export function makeConv2DBackpropFilterConfig(maxColumnFloats = DEFAULT_MAX_COLUMN_FLOATS, winogradChunkFloats?: number): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ((args: WasmKernelArgs) => filterGradient(args, maxColumnFloats, winogradChunkFloats)) as unknown as tf.KernelFunc,
  };
}

export const conv2DBackpropFilterConfig = makeConv2DBackpropFilterConfig();
