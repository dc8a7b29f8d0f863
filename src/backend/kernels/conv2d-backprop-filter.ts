// Conv2DBackpropFilter for wasm (stock tfjs-wasm has none): im2col in JS on the heap, then one XNNPACK matrix product.
import * as tf from '@tensorflow/tfjs';
import { assertNhwcUndilated, heapFloat32, runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';

/**
 * Writes the transposed im2col matrix `cols[k][p]` with k = (kh, kw, ci) and p = (n, oh, ow), so that
 * dW[k][co] = sum_p cols[k][p] * dy[p][co] is a product with no transpose flag (transposed products are
 * ~10x slower on wasm). Images are the outer loop so each one stays in cache while its rows are written.
 */
export function im2colTransposed(x: Float32Array, cols: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const patchCount = batchSize * outHeight * outWidth;
  const imageSize = inHeight * inWidth * inChannels;
  const rowStride = inWidth * inChannels;
  const colStep = strideWidth * inChannels;
  const outArea = outHeight * outWidth;
  for (let n = 0; n < batchSize; n++) {
    const imageBase = n * imageSize;
    let k = 0;
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        // Output columns whose input column lies inside the image; the rest read zero padding.
        const owBegin = Math.min(outWidth, Math.max(0, Math.ceil((padLeft - kw) / strideWidth)));
        const owEnd = Math.max(owBegin, Math.min(outWidth, Math.floor((inWidth - 1 + padLeft - kw) / strideWidth) + 1));
        for (let ci = 0; ci < inChannels; ci++, k++) {
          let o = k * patchCount + n * outArea;
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight + kh - padTop;
            if (ih < 0 || ih >= inHeight) {
              cols.fill(0, o, o + outWidth);
              o += outWidth;
              continue;
            }
            let ow = 0;
            for (; ow < owBegin; ow++) cols[o++] = 0;
            let r = imageBase + ih * rowStride + (owBegin * strideWidth + kw - padLeft) * inChannels + ci;
            for (; ow < owEnd; ow++, r += colStep) cols[o++] = x[r];
            for (; ow < outWidth; ow++) cols[o++] = 0;
          }
        }
      }
    }
  }
}

/** Largest im2col matrix built at once (64 MiB): bigger batches are done in chunks of images, so large nets fit the 4 GiB wasm heap. */
export const DEFAULT_MAX_COLUMN_FLOATS = 1 << 24;

function filterGradient({ inputs, backend, attrs = {} }: WasmKernelArgs, maxColumnFloats: number): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  assertNhwcUndilated('Conv2DBackpropFilter', attrs);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const expectedDy = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy.shape.join() !== expectedDy.join()) {
    throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${expectedDy}] for x [${x.shape}] and filter [${filterShape}]`);
  }
  const outArea = info.outHeight * info.outWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  const chunk = Math.max(1, Math.min(info.batchSize, Math.floor(maxColumnFloats / (patchSize * outArea))));
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
  const rows = count * info.outHeight * info.outWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  const imageSize = info.inHeight * info.inWidth * info.inChannels;
  const whole = start === 0 && count === info.batchSize;
  const cols = backend.makeOutput([patchSize, rows], 'float32');
  const dyRows = whole ? undefined : backend.makeOutput([rows, info.outChannels], 'float32');
  // Heap views are taken after the last allocation: growing the heap detaches them.
  im2colTransposed(heapFloat32(backend, x).subarray(start * imageSize, (start + count) * imageSize), heapFloat32(backend, cols), { ...info, batchSize: count });
  if (dyRows) heapFloat32(backend, dyRows).set(heapFloat32(backend, dy).subarray(start * (rows / count) * info.outChannels, (start + count) * (rows / count) * info.outChannels));
  const dyMatrix = runWasmKernel(tf.Reshape, backend, { x: dyRows ?? dy }, { shape: [rows, info.outChannels] });
  const product = runWasmKernel(tf.BatchMatMul, backend, { a: cols, b: dyMatrix }, { transposeA: false, transposeB: false });
  const dw = runWasmKernel(tf.Reshape, backend, { x: product }, { shape: filterShape });
  for (const t of [cols, dyMatrix, product, ...(dyRows ? [dyRows] : [])]) backend.disposeData(t.dataId);
  return dw;
}

/** The kernel config; `maxColumnFloats` bounds the im2col matrix (tests lower it to exercise chunking). */
export function makeConv2DBackpropFilterConfig(maxColumnFloats = DEFAULT_MAX_COLUMN_FLOATS): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ((args: WasmKernelArgs) => filterGradient(args, maxColumnFloats)) as unknown as tf.KernelFunc,
  };
}

export const conv2DBackpropFilterConfig = makeConv2DBackpropFilterConfig();
