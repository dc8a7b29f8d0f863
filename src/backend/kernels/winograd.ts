// Winograd convolutions F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1 convolutions on wasm (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016): each t x t block of outputs comes from a (t + 2) x (t + 2)
// input tile as A^T [(G g G^T) . (B^T d B)] A, so over all tiles and channels the convolution is (t + 2)^2 independent
// matrix products [tiles x in] x [in x out] (per output, input and output channel: 4 multiplications for t = 2, 2.25
// for t = 4, against the direct convolution's 9), between an input transform and an output transform. The same
// algorithm run backwards gives the filter gradient (winogradFilterGradient). The transforms are WebAssembly SIMD
// (simd/kernels.wat; the F(4x4) ones and their JavaScript twins below come from tools/winograd/gen_winograd4.py, one
// list of operations for both); the products are the project's matrix product (gemm.ts), or XNNPACK's under
// TEMPER_GEMM=0. Where the transformed filter is small enough, each worker thread runs transforms and products for a
// group of images at a time (fused-jobs.ts), the transformed data staying in its cache. Results differ from the direct
// convolution's at rounding level. TEMPER_WINOGRAD=0 turns it off, TEMPER_WINOGRAD_TILE=2 keeps F(2x2, 3x3).
import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../errors.js';
import { WINOGRAD_FILTER_GRAD_FUSED_ARGS, WINOGRAD_FUSED_ARGS } from './fused-jobs.js';
import { elementShares, gemm, gemmBatch, gemmInstance, parallelThreads, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { notePooledAhead } from './max-pool-grad.js';
import { disposeHeapView, heapFloat32, heapView, runWasmKernel, type WasmKernelArgs } from './wasm-compose.js';

type Backend = WasmKernelArgs['backend'];

/**
 * Where Winograd pays, measured per layer (forward and input gradient, Winograd against XNNPACK's direct convolution,
 * alternating in one process, on a 2-core machine shared with other jobs): with 2 threads every one of the 16 products
 * costs a thread-pool round trip (~1-3 ms there, against ~0.05 ms with 1 thread), and the transforms (single-threaded,
 * memory-bound, ~4x the input and output in size) cost per channel what the products save per channel pair. Faster at
 * 64+ channels with 2^25+ multiply-adds per product: batch 32, 32x32x64->64 1.3x, 16x16x128->128 1.2x, 8x8x256->256
 * 1.5x, 4x4x512->512 1.1-1.4x. Slower below: 32x32x32->32 0.8-0.9x (batch 32 and 128), 32x32x16->16 0.3x, anything
 * at batch 8 0.25-0.8x, 128x8x8x64->64 (2^23 per product) 0.75x. A first layer on 1-3 channels never qualifies.
 */
export const WINOGRAD_MIN_CHANNELS = 64;
/**
 * From this many channels (in and out) Winograd runs wherever its fused form does (winogradFuses), whatever the size:
 * fused, it beat the direct convolution at every shape measured (forward and input gradient, ms, 2 threads, direct then
 * fused Winograd): 128x14x14x32->64 19 / 11, 128x32x32x32->32 46 / 24, 128x32x32x16->16 15 / 12.6, 8x32x32x64->64
 * 12 / 4.7, 32x16x16x64->64 12.4 / 5.2, 128x8x8x64->64 12 / 4.7.
 */
export const WINOGRAD_FUSED_MIN_CHANNELS = 16;
export const WINOGRAD_MIN_PRODUCT_MACS = 2 ** 25;

/** Largest transformed input plus products held at once (floats, 64 MiB): bigger batches are done in chunks of images. Smaller chunks mean more, smaller products, each paying the thread pool's round trip (2 threads, 32x32x64->64 at batch 32: 2^22 floats 250 ms, 2^24 100-150 ms, unchunked 90-150 ms). */
export const DEFAULT_WINOGRAD_CHUNK_FLOATS = 1 << 24;

/** The geometry of a convolution that decides whether Winograd applies. */
export interface WinogradShape {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  inChannels: number;
  outChannels: number;
  /** Images, and the output's height and width (their 2x2 tiles are the products' rows). */
  batchSize: number;
  outHeight: number;
  outWidth: number;
}

/** The values TEMPER_WINOGRAD and TEMPER_WINOGRAD_TILE take (unset or empty: the default, where it pays). */
const WINOGRAD_ENV_VALUES: Record<string, string[]> = { TEMPER_WINOGRAD: ['0', '1', 'all'], TEMPER_WINOGRAD_TILE: ['2', '4'] };

/** Throws, naming the variable, on a value of TEMPER_WINOGRAD or TEMPER_WINOGRAD_TILE that means nothing (a typo would otherwise be ignored). */
export function checkWinogradEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, values] of Object.entries(WINOGRAD_ENV_VALUES)) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '' || values.includes(raw.trim())) continue;
    throw new BackendError(`${name} must be one of ${values.join(', ')} (or unset), found '${raw}'`);
  }
}

/** TEMPER_WINOGRAD: '0' never, 'all' every 3x3 stride-1 convolution whose channels are a multiple of 4 (tests and measurements), '1' or unset where it pays. */
function winogradMode(): 'off' | 'all' | 'auto' {
  const value = process.env['TEMPER_WINOGRAD']?.trim();
  return value === '0' ? 'off' : value === 'all' ? 'all' : 'auto';
}

/**
 * Whether a convolution of this shape runs as Winograd on this backend: 3x3, stride 1, undilated, channels a multiple
 * of 4 and at least WINOGRAD_MIN_CHANNELS, at least WINOGRAD_MIN_PRODUCT_MACS per product, SIMD kernels available.
 */
export function winogradApplies(shape: WinogradShape, backend: Backend): boolean {
  const mode = winogradMode();
  if (mode === 'off') return false;
  const channels = Math.min(shape.inChannels, shape.outChannels);
  const large = channels >= WINOGRAD_MIN_CHANNELS
    && shape.batchSize * Math.ceil(shape.outHeight / 2) * Math.ceil(shape.outWidth / 2) * shape.inChannels * shape.outChannels >= WINOGRAD_MIN_PRODUCT_MACS;
  const fused = channels >= WINOGRAD_FUSED_MIN_CHANNELS
    && winogradFuses(backend, forwardTile(shape.batchSize, shape.outHeight, shape.outWidth, channels), shape.inChannels, shape.outChannels);
  return (mode === 'all' || large || fused)
    && shape.filterHeight === 3 && shape.filterWidth === 3
    && shape.strideHeight === 1 && shape.strideWidth === 1
    && shape.dilationHeight === 1 && shape.dilationWidth === 1
    && shape.inChannels % 4 === 0 && shape.outChannels % 4 === 0
    && simdKernels(backend) !== undefined;
}

/**
 * The filter gradient's products are [out x tiles] x [tiles x in], and XNNPACK repacks the second operand for every
 * product (~4.5 ns a float): a cost per (tile, input channel) that only enough output channels pay back. F(4x4, 3x3)
 * has 2.25 transformed values per input value to F(2x2, 3x3)'s 4, and pays at every size measured. Per layer (ms,
 * direct im2col product, then F(2x2), then F(4x4); alternating, 2 threads): 128x32x32x64->64 436, 410, 252;
 * 128x16x16x64->128 182, 137, 85; 128x16x16x128->128 425, 247, 155; 128x8x8x256->256 378, 188, 142;
 * 128x4x4x512->512 527, 188, 146; 32x32x32x64->64 98, 95, 60; 32x4x4x512->512 127, 53, 51. So the filter gradient runs
 * F(4x4, 3x3) wherever winogradApplies; under TEMPER_WINOGRAD_TILE=2 it runs F(2x2, 3x3) from this many output
 * channels only (64 -> 64: 0.86-1.02x the direct product).
 */
export const WINOGRAD_FILTER_GRAD_MIN_OUT_CHANNELS = 128;

/**
 * The filter gradient's block size: TEMPER_WINOGRAD_TILE where set, else F(4x4, 3x3), except on a dy whose 4x4 blocks
 * cover half again as many outputs as 2x2 blocks do (6x6). There the transforms of the empty part cost more than
 * F(4x4)'s fewer multiplications save. Fused, batch 128, ms, F(2x2) then F(4x4), two rounds: 6x6x64->64 2.86, 2.76
 * then 3.67, 3.66; 6x6x128->128 9.78, 9.42 then 12.66, 12.84; but 10x10x64->64 7.01, 6.64 then 6.61, 6.66;
 * 14x14x16->32 2.79, 2.54 then 2.47, 2.46; 14x14x32->64 6.87, 6.53 then 6.09, 6.21; 14x14x64->64 12.50, 11.72 then
 * 10.89, 10.92. (Before the cache-fitting transforms F(2x2) also won on 14x14: 7.9-8.0 against 9.3-10.6 ms.)
 */
export function filterGradTile(outHeight?: number, outWidth?: number): WinogradTile {
  const forced = process.env['TEMPER_WINOGRAD_TILE']?.trim();
  if (forced === '2' || forced === '4') return forced === '2' ? 2 : 4;
  if (outHeight === undefined || outWidth === undefined) return 4;
  return edgeWaste(outHeight, outWidth) >= 1.5 ? 2 : 4;
}

/** Outputs that F(4x4, 3x3)'s blocks cover, over those that F(2x2, 3x3)'s cover, on an outHeight x outWidth plane. */
function edgeWaste(outHeight: number, outWidth: number): number {
  const outputs = (tile: number) => tile * tile * Math.ceil(outHeight / tile) * Math.ceil(outWidth / tile);
  return outputs(4) / outputs(2);
}

/** Whether the filter gradient of a convolution of this shape runs as Winograd: winogradApplies, and for F(2x2, 3x3) 128+ output channels unless TEMPER_WINOGRAD=all. */
export function winogradFilterGradApplies(shape: WinogradShape, backend: Backend): boolean {
  return winogradApplies(shape, backend)
    && (filterGradTile() === 4 || winogradMode() === 'all' || shape.outChannels >= WINOGRAD_FILTER_GRAD_MIN_OUT_CHANNELS);
}

/**
 * Output block size of the forward convolution and input gradient. F(4x4, 3x3) does 36 products over a quarter as many
 * tiles as F(2x2, 3x3)'s 16: 2.25 multiplications per output, input and output channel against 4 (the direct
 * convolution: 9), and its transformed input is 2.25 times the input, not 4. But XNNPACK packs each product's
 * transformed filter anew (~4.5 ns a float, points x in x out of them), which products of few tiles do not pay back.
 * Measured per layer (forward / input gradient, ms, 2 threads, F(2x2) then F(4x4)): 128x32x32x64->64 163/160 then
 * 121/130, 128x16x16x128->128 157/136 then 106/87, 128x8x8x256->256 118/111 then 80/75, 128x4x4x512->512 116/124
 * then 110/109 (128 tiles), but 32x4x4x512->512 (32 tiles) 49/57 then 74/74. So F(4x4, 3x3) from
 * WINOGRAD4_MIN_TILES tiles per product, unless TEMPER_WINOGRAD_TILE=2 (or 4, whatever the size; tests). The filter
 * gradient, whose transformed filter is its output, not a packed operand, takes F(4x4, 3x3) at any size
 * (filterGradTile).
 */
export type WinogradTile = 2 | 4;
export const WINOGRAD4_MIN_TILES = 128;
/**
 * Where 4x4 blocks leave 25% or more of their outputs past the plane's edge (14x14, 10x10, 6x6: heights and widths 2
 * more than a multiple of 4), F(2x2, 3x3) also takes layers with fewer than this many channels (the smaller of in and
 * out), and every layer from 50% (6x6). Fused, 2 threads, batch 128, forward / input gradient in ms, F(4x4) then
 * F(2x2): 14x14x32->32 4.2/4.2 then 3.9/3.8; 14x14x32->64 7.6/8.2 then 6.9/6.6; 14x14x64->64 12.1/11.9 then
 * 13.3/12.5; 14x14x64->128 21.2/21.9 then 22.6/22.8; 6x6x64->64 3.4/3.3 then 2.7/2.5; 6x6x128->128 11.0/10.9 then
 * 8.2/8.5. The transforms of the empty part cost more than F(4x4)'s fewer multiplications save until the products,
 * which grow with in x out channels, dominate. Since the cache-fitting transforms and the first-layer kernels (same
 * measure, two rounds, F(2x2) then F(4x4)): 14x14x16->32 1.93/1.89, 1.99/1.84 then 2.15/1.83, 1.73/1.74;
 * 14x14x32->32 3.45/4.05, 3.33/3.32 then 2.98/3.96, 2.85/3.07; 14x14x32->64 6.10/5.70, 5.59/5.37 then 5.16/5.04,
 * 5.18/5.45; 14x14x48->48 6.42/6.29, 6.49/6.36 then 6.08/6.26, 5.32/5.44. So the bound moved from 64 to 32 channels
 * (cnn-small's PGD step 22.9-23.2 -> 21.3-22.3 ms, alternating).
 */
export const WINOGRAD_EDGE_MIN_CHANNELS = 32;
/** `channels`: the smaller of the convolution's input and output channels (unknown: F(4x4) on a 14x14 plane). */
export function forwardTile(batchSize: number, outHeight: number, outWidth: number, channels = Infinity): WinogradTile {
  const forced = process.env['TEMPER_WINOGRAD_TILE']?.trim();
  if (forced === '2' || forced === '4') return forced === '2' ? 2 : 4;
  if (batchSize * Math.ceil(outHeight / 4) * Math.ceil(outWidth / 4) < WINOGRAD4_MIN_TILES) return 2;
  const waste = edgeWaste(outHeight, outWidth);
  return waste >= 1.5 || (waste >= 1.25 && channels < WINOGRAD_EDGE_MIN_CHANNELS) ? 2 : 4;
}

/** Transformed points per tile: (tile + 2)^2. */
export const pointsOf = (tile: WinogradTile): number => (tile + 2) ** 2;

/**
 * The transformed filter [points, in, out] of `filter` [3, 3, in, out] (G g G^T per channel pair, for F(tile x tile,
 * 3x3)). `transposed`: the filter of the input gradient instead, [points, out, in]: rotated by 180 degrees, input and
 * output channels swapped.
 */
export function transformFilter(backend: Backend, filter: tf.TensorInfo, transposed: boolean, tile: WinogradTile = 2): tf.TensorInfo {
  const simd = simdKernels(backend)!;
  const transform = tile === 4 ? simd.winograd4_filter : simd.winograd_filter;
  const points = pointsOf(tile);
  const [, , inChannels, outChannels] = filter.shape as [number, number, number, number];
  const taps = inChannels * outChannels;
  if (!transposed) {
    const u = backend.makeOutput([points, inChannels, outChannels], 'float32');
    transform(heapOffset(backend, filter), heapOffset(backend, u), taps, 0);
    return u;
  }
  const swapped = backend.makeOutput([3, 3, outChannels, inChannels], 'float32');
  const u = backend.makeOutput([points, outChannels, inChannels], 'float32');
  for (let k = 0; k < 9; k++) {
    simd.transpose(heapOffset(backend, filter) + 4 * k * taps, heapOffset(backend, swapped) + 4 * k * taps, inChannels, outChannels);
  }
  transform(heapOffset(backend, swapped), heapOffset(backend, u), taps, 1);
  backend.disposeData(swapped.dataId);
  return u;
}

/** What winogradConv computes besides the input: the transformed filter, the output's shape and padding, bias, ReLU. */
export interface WinogradConvSpec {
  /** transformFilter's output for `tile`, [points, in, out]. */
  u: tf.TensorInfo;
  /** F(2x2, 3x3) (the default) or F(4x4, 3x3). */
  tile?: WinogradTile;
  /** [N, OH, OW, out]. */
  outShape: [number, number, number, number];
  /** Zero rows above and columns left of the input (the first output reads input row -padTop, column -padLeft). */
  padTop: number;
  padLeft: number;
  /** [out] added to every output, or none. */
  bias?: tf.TensorInfo;
  relu: boolean;
  /**
   * Also pool the output (2x2, stride 2) as each group of images is done, for the MaxPool that reads it
   * (notePooledAhead): the fused path only, with even output height and width and channels a multiple of 4.
   */
  poolAhead?: boolean;
  /** Largest transformed input plus products held at once, in floats (tests lower it to exercise chunking). */
  chunkFloats?: number;
  /** Fused (winogradFusedJob) or not; by default fused where the transformed filter is at most WINOGRAD_FUSED_MAX_FILTER_BYTES. */
  fused?: boolean;
  /** With `fused`: the bytes of one group's transformed input plus products (tests lower it to exercise groups). */
  groupBytes?: number;
}

/**
 * The fused convolution (winogradFusedJob) runs every product of a group against the whole transformed filter, so it
 * pays where that filter stays in cache beside the group's data: up to this many bytes (points x in x out floats).
 * Where it is larger the unfused one runs, whose products each read their plane of the filter once per chunk.
 */
export const WINOGRAD_FUSED_MAX_FILTER_BYTES = 12 << 20;
/** A fused group's transformed input plus products, in bytes: half of the 2 MiB L2 cache of a core of the machines measured. */
export const WINOGRAD_FUSED_GROUP_BYTES = 1 << 20;

/** Whether winogradConv fuses by default for this filter. */
export function winogradFuses(backend: Backend, tile: WinogradTile, inChannels: number, outChannels: number): boolean {
  return gemmInstance(backend) !== undefined && 4 * pointsOf(tile) * inChannels * outChannels <= WINOGRAD_FUSED_MAX_FILTER_BYTES;
}

/**
 * The fused filter gradient adds every group's products into its part's sum, as large as the transformed filter: it
 * pays while that sum stays in cache (128x32x32x64->64 88 -> 58 ms, 128x16x16x128->128 62 -> 58), and loses once it
 * does not (128x8x8x256->256, 9 MiB: 75 -> 116 ms).
 */
export const WINOGRAD_FUSED_FILTER_GRAD_MAX_BYTES = 4 << 20;

/** Whether winogradFilterGradient fuses by default for this filter. */
export function filterGradFuses(backend: Backend, tile: WinogradTile, inChannels: number, outChannels: number): boolean {
  return gemmInstance(backend) !== undefined && 4 * pointsOf(tile) * inChannels * outChannels <= WINOGRAD_FUSED_FILTER_GRAD_MAX_BYTES;
}

/** The block geometry of a Winograd convolution of x [N, H, W, in] into (or, backwards, from) `outShape` [N, OH, OW, out]. */
function tiling(x: tf.TensorInfo, spec: { tile?: WinogradTile; outShape: [number, number, number, number] }) {
  const tile = spec.tile ?? 2;
  const [batch, height, width, inChannels] = x.shape as [number, number, number, number];
  const [, outHeight, outWidth, outChannels] = spec.outShape;
  const tilesHigh = Math.ceil(outHeight / tile);
  const tilesWide = Math.ceil(outWidth / tile);
  return { tile, points: pointsOf(tile), batch, height, width, inChannels, outHeight, outWidth, outChannels, tilesHigh, tilesWide, tilesPerImage: tilesHigh * tilesWide };
}

/** y = conv3x3(x, g) (+ bias, ReLU) for x [N, H, W, in] NHWC, given g's transform; zeros outside x. */
export function winogradConv(backend: Backend, x: tf.TensorInfo, spec: WinogradConvSpec): tf.TensorInfo {
  const { tile, points, batch, height, width, inChannels, outHeight, outWidth, outChannels, tilesHigh, tilesWide, tilesPerImage } = tiling(x, spec);
  if (spec.fused ?? winogradFuses(backend, tile, inChannels, outChannels)) return fusedWinogradConv(backend, x, spec);
  const chunkFloats = spec.chunkFloats ?? DEFAULT_WINOGRAD_CHUNK_FLOATS;
  const chunk = Math.max(1, Math.min(batch, Math.floor(chunkFloats / (points * tilesPerImage * (inChannels + outChannels)))));

  const y = backend.makeOutput(spec.outShape, 'float32');
  // Every chunk's planes as far apart as the first's (paddedPlane): the last, shorter chunk leaves their ends unused.
  const [planeV, planeM] = [paddedPlane(chunk * tilesPerImage * inChannels), paddedPlane(chunk * tilesPerImage * outChannels)];
  const v = backend.makeOutput([points * planeV], 'float32');
  const threads = transformThreads(backend);
  // Zeros for cells outside the input, zeros for a missing bias, and a sink per thread for outputs past the edge.
  const scratch = backend.makeOutput([inChannels + outChannels + threads * outChannels], 'float32');
  const geometry = backend.makeOutput([threads * GEOMETRY_INTS], 'int32');
  const table = backend.makeOutput([threads * points], 'int32');
  heapFloat32(backend, scratch).fill(0);
  const zeros = heapOffset(backend, scratch);
  const noBias = zeros + 4 * inChannels;
  const sinks = noBias + 4 * outChannels;
  const uViews = Array.from({ length: points }, (_, xi) => heapView(backend, spec.u, xi * inChannels * outChannels, [inChannels, outChannels]));
  const imageIn = 4 * height * width * inChannels;
  const imageOut = 4 * outHeight * outWidth * outChannels;
  for (let start = 0; start < batch; start += chunk) {
    const count = Math.min(chunk, batch - start);
    const tiles = count * tilesPerImage;
    const shares = imageShares(count, threads);
    const geometryAt = (t: number): number => heapOffset(backend, geometry) + 4 * GEOMETRY_INTS * t;
    shares.forEach(([first, end], t) =>
      (backend.typedArrayFromHeap(geometry) as Int32Array).set(
        [end - first, height, width, inChannels, tilesHigh, tilesWide, spec.padTop, spec.padLeft, planeV], GEOMETRY_INTS * t));
    runKernelJobs(backend, shares.map(([first], t) => ({
      fn: tile === 4 ? 'winograd4_input' : 'winograd_input',
      args: [heapOffset(backend, x) + (start + first) * imageIn, heapOffset(backend, v) + 4 * first * tilesPerImage * inChannels, zeros, geometryAt(t)],
    })));
    // Each point's products [tiles][out]: their byte offsets, and the buffers to free afterwards.
    let planes: number[];
    let owned: tf.TensorInfo[];
    const instance = gemmInstance(backend);
    if (instance) {
      // All the points' products in one batch (one wake-up per thread), into one buffer [points][tiles][out].
      const all = backend.makeOutput([points * planeM], 'float32');
      gemmBatch(backend, instance, {
        a: { data: v, rowStride: inChannels, colStride: 1 }, b: { data: spec.u, rowStride: outChannels, colStride: 1 }, c: { data: all, ldc: outChannels },
        m: tiles, n: outChannels, k: inChannels, count: points, aStep: planeV, bStep: inChannels * outChannels, cStep: planeM,
      });
      planes = Array.from({ length: points }, (_, xi) => heapOffset(backend, all) + 4 * xi * planeM);
      owned = [all];
    } else {
      owned = Array.from({ length: points }, (_, xi) => {
        const a = heapView(backend, v, xi * planeV, [tiles, inChannels]);
        const product = runWasmKernel(tf.BatchMatMul, backend, { a, b: uViews[xi]! }, { transposeA: false, transposeB: false });
        disposeHeapView(backend, a);
        return product;
      });
      planes = owned.map((p) => heapOffset(backend, p));
    }
    // Each thread's table points at its images' rows of the products.
    shares.forEach(([first, end], t) => {
      (backend.typedArrayFromHeap(table) as Int32Array).set(planes.map((p) => p + 4 * first * tilesPerImage * outChannels), points * t);
      (backend.typedArrayFromHeap(geometry) as Int32Array).set(
        [end - first, outHeight, outWidth, outChannels, tilesHigh, tilesWide, spec.relu ? 1 : 0], GEOMETRY_INTS * t);
    });
    runKernelJobs(backend, shares.map(([first], t) => ({
      fn: tile === 4 ? 'winograd4_output' : 'winograd_output',
      args: [
        heapOffset(backend, table) + 4 * points * t, heapOffset(backend, y) + (start + first) * imageOut,
        spec.bias ? heapOffset(backend, spec.bias) : noBias, sinks + 4 * outChannels * t, geometryAt(t),
      ],
    })));
    for (const p of owned) backend.disposeData(p.dataId);
  }
  for (const view of uViews) disposeHeapView(backend, view);
  for (const t of [v, scratch, geometry, table]) backend.disposeData(t.dataId);
  return y;
}

/**
 * winogradConv as one job per thread (winogradFusedJob): each thread takes its share of the images, a group at a time,
 * through input transform, products and output transform, its group's data staying in its core's cache. The filter's
 * transform is packed once for the product (pack_b panels) and read by every thread.
 */
function fusedWinogradConv(backend: Backend, x: tf.TensorInfo, spec: WinogradConvSpec): tf.TensorInfo {
  const instance = gemmInstance(backend)!;
  const { tile, points, batch, height, width, inChannels, outHeight, outWidth, outChannels, tilesHigh, tilesWide, tilesPerImage } = tiling(x, spec);
  const group = Math.max(1, Math.floor((spec.groupBytes ?? WINOGRAD_FUSED_GROUP_BYTES) / (4 * points * tilesPerImage * (inChannels + outChannels))));
  const shares = imageShares(batch, transformThreads(backend));
  const groupTiles = Math.min(group, Math.max(...shares.map(([first, end]) => end - first))) * tilesPerImage;
  const panelFloats = 8 * Math.ceil(outChannels / 8) * inChannels;
  const [planeV, planeM] = [paddedPlane(groupTiles * inChannels), paddedPlane(groupTiles * outChannels)];
  // Per thread: v, m (floats), then table and geometry (16 ints each: points <= 36 needs its own 36), then the product's scratch.
  const perThread = points * (planeV + planeM) + 2 * 64 + 32;
  const y = backend.makeOutput(spec.outShape, 'float32');
  const packed = backend.makeOutput([points * panelFloats], 'float32');
  const scratch = backend.makeOutput([inChannels + outChannels + shares.length * (outChannels + perThread)], 'float32');
  heapFloat32(backend, scratch).fill(0, 0, inChannels + outChannels + shares.length * outChannels);
  const zeros = heapOffset(backend, scratch);
  const noBias = zeros + 4 * inChannels;
  const sinks = noBias + 4 * outChannels;
  const threadBase = sinks + 4 * shares.length * outChannels;
  const uBase = heapOffset(backend, spec.u);
  const packedBase = heapOffset(backend, packed);
  for (let xi = 0; xi < points; xi++) {
    instance.exports.pack_b(uBase + 4 * xi * inChannels * outChannels, 4 * outChannels, 4, inChannels, outChannels, packedBase + 4 * xi * panelFloats);
  }
  const imageIn = 4 * height * width * inChannels;
  const imageOut = 4 * outHeight * outWidth * outChannels;
  const pooled = spec.poolAhead && outHeight % 2 === 0 && outWidth % 2 === 0 && outChannels % 4 === 0
    ? backend.makeOutput([batch, outHeight / 2, outWidth / 2, outChannels], 'float32') : undefined;
  runKernelJobs(backend, shares.map(([first, end], t) => {
    const v = threadBase + 4 * t * perThread;
    const m = v + 4 * points * planeV;
    const table = m + 4 * points * planeM;
    const geometry = table + 4 * 64;
    const args: Record<(typeof WINOGRAD_FUSED_ARGS)[number], number> = {
      tile, count: end - first, group, x: heapOffset(backend, x) + first * imageIn, imageIn, y: heapOffset(backend, y) + first * imageOut, imageOut,
      bias: spec.bias ? heapOffset(backend, spec.bias) : noBias, zeros, sink: sinks + 4 * outChannels * t, v, m, table, geometry, u: packedBase,
      inChannels, outChannels, height, width, outHeight, outWidth, tilesHigh, tilesWide, padTop: spec.padTop, padLeft: spec.padLeft,
      relu: spec.relu ? 1 : 0, scratch: geometry + 4 * 64, planeV, planeM, pooled: pooled ? heapOffset(backend, pooled) + first * (imageOut / 4) : 0,
    };
    return { fn: 'winograd_fused', args: WINOGRAD_FUSED_ARGS.map((name) => args[name]) };
  }));
  backend.disposeData(packed.dataId);
  backend.disposeData(scratch.dataId);
  if (pooled) notePooledAhead(backend, y, pooled);
  return y;
}

/**
 * Floats between the planes of a Winograd transform's output ([points][tiles][channels]), `floats` or a little more: a
 * stride that is a multiple of 4 KiB puts the same row of every plane in one set of the L1 cache, and the 36 planes of
 * F(4x4, 3x3) are more than its ways. With 2 images of 32x32x64 (128 tiles, 32 KiB a plane) the input transform took
 * 0.38 ms; planes 64 bytes further apart, 0.25 ms (0.12 ms once it also went a column and a row at a time, which
 * stores to and reads back from the planes). The padding keeps the stride's largest power-of-two factor at 256 bytes
 * or less, so at least 16 sets share the planes.
 */
export function paddedPlane(floats: number): number {
  let padded = floats;
  while ((4 * padded) % 512 === 0) padded += 16;
  return padded;
}

/** Int32 values per thread in a transform's geometry block. */
const GEOMETRY_INTS = 16;

/** Threads the transforms may be split over: the matrix product's pool and this thread, where it is ready. */
function transformThreads(backend: Backend): number {
  return parallelThreads(gemmInstance(backend));
}

/** Images [first, end) of a chunk of `count` for each of up to `threads` threads, in order, none empty. */
export function imageShares(count: number, threads: number): Array<[number, number]> {
  const parts = Math.max(1, Math.min(threads, count));
  return Array.from({ length: parts }, (_, t) => [Math.floor((t * count) / parts), Math.floor(((t + 1) * count) / parts)]);
}


/** Where winogradFilterGradient reads x and dy: the convolution's geometry (computeConv2DInfo's fields it uses). */
export interface WinogradFilterGradientSpec {
  /** [N, OH, OW, out]: dy's shape. */
  outShape: [number, number, number, number];
  padTop: number;
  padLeft: number;
  /** Largest transformed input, transformed dy and products held at once, in floats (tests lower it). */
  chunkFloats?: number;
  /** F(2x2, 3x3) (the default) or F(4x4, 3x3) run backwards. */
  tile?: WinogradTile;
  /** Fused (winogradFilterGradFusedJob) or not; by default fused where the transformed filter is at most WINOGRAD_FUSED_MAX_FILTER_BYTES. */
  fused?: boolean;
  /** With `fused`: one group's bytes (tests lower it to exercise groups). */
  groupBytes?: number;
}

/** Most parts a fused filter gradient cuts the batch into (one partial sum each): enough for a pool of 8 threads. */
export const WINOGRAD_FILTER_GRAD_MAX_PARTS = 8;
/** Most bytes of partial sums a fused filter gradient holds (fewer parts for a larger filter). */
export const WINOGRAD_FILTER_GRAD_PARTIAL_BYTES = 32 << 20;

/** Parts of a fused filter gradient: a function of the shape only, never of the thread count, so the bits are not either. */
export function filterGradParts(batch: number, points: number, inChannels: number, outChannels: number): number {
  return Math.max(1, Math.min(WINOGRAD_FILTER_GRAD_MAX_PARTS, batch, Math.floor(WINOGRAD_FILTER_GRAD_PARTIAL_BYTES / (4 * points * inChannels * outChannels))));
}

/**
 * dW [3, 3, in, out] of y = conv3x3(x, W) for x [N, H, W, in] and dy [N, OH, OW, out], as Winograd F(t x t, 3x3) run
 * backwards: for each t x t tile of dy and the (t + 2) x (t + 2) tile of x under it, the 3x3 block of dW it adds is
 * G^T [(A dy A^T) . (B^T d B)] G (the forward's <dy, A^T [(G g G^T) . (B^T d B)] A> read as a function of g), and the
 * sum over tiles moves inside: (t + 2)^2 products [out x tiles] x [tiles x in] between an input transform (the
 * forward's, on the same tiles) and one output transform. dy goes to channel planes first (a transpose), so that its
 * transform runs four tiles at a time and writes the [out][tiles] rows the products need with no transposed operand.
 */
export function winogradFilterGradient(backend: Backend, x: tf.TensorInfo, dy: tf.TensorInfo, spec: WinogradFilterGradientSpec): tf.TensorInfo {
  const simd = simdKernels(backend)!;
  const { tile, points, batch, height, width, inChannels, outHeight, outWidth, outChannels, tilesHigh, tilesWide, tilesPerImage } = tiling(x, spec);
  if (spec.fused ?? filterGradFuses(backend, tile, inChannels, outChannels)) return fusedWinogradFilterGradient(backend, x, dy, spec);
  const outputTransform = tile === 4 ? simd.winograd4_filter_grad_output : simd.winograd_filter_grad_output;
  // dy's planes, padded so that every tile row reads whole groups of four tiles (zeros past the real dy).
  const planeRows = tile * tilesHigh;
  const planeCols = 4 * tile * Math.ceil(tilesWide / 4);
  const padded = planeRows !== outHeight || planeCols !== outWidth;
  const chunkFloats = spec.chunkFloats ?? DEFAULT_WINOGRAD_CHUNK_FLOATS;
  const perImage = points * tilesPerImage * (inChannels + outChannels) + 2 * planeRows * planeCols * outChannels;
  const chunk = Math.max(1, Math.min(batch, Math.floor(chunkFloats / perImage)));
  const taps = inChannels * outChannels;

  const sum = backend.makeOutput([points, outChannels, inChannels], 'float32');
  // Every chunk's planes as far apart as the first's (paddedPlane): the last, shorter chunk leaves their ends unused.
  const [planeV, planeW] = [paddedPlane(chunk * tilesPerImage * inChannels), paddedPlane(outChannels * chunk * tilesPerImage)];
  const v = backend.makeOutput([points * planeV], 'float32');
  const w = backend.makeOutput([points * planeW], 'float32');
  const planes = backend.makeOutput([outChannels, chunk * planeRows * planeCols], 'float32');
  const zeros = backend.makeOutput([inChannels], 'float32');
  const threads = transformThreads(backend);
  const geometry = backend.makeOutput([threads * GEOMETRY_INTS], 'int32');
  heapFloat32(backend, zeros).fill(0);
  heapFloat32(backend, sum).fill(0);
  if (padded) heapFloat32(backend, planes).fill(0);
  const imageIn = 4 * height * width * inChannels;
  const imageDy = 4 * outHeight * outWidth * outChannels;
  for (let start = 0; start < batch; start += chunk) {
    const count = Math.min(chunk, batch - start);
    const tiles = count * tilesPerImage;
    const shares = imageShares(count, threads);
    shares.forEach(([first, end], t) =>
      (backend.typedArrayFromHeap(geometry) as Int32Array).set(
        [end - first, height, width, inChannels, tilesHigh, tilesWide, spec.padTop, spec.padLeft, planeV], GEOMETRY_INTS * t));
    runKernelJobs(backend, shares.map(([first], t) => ({
      fn: tile === 4 ? 'winograd4_input' : 'winograd_input',
      args: [
        heapOffset(backend, x) + (start + first) * imageIn, heapOffset(backend, v) + 4 * first * tilesPerImage * inChannels,
        heapOffset(backend, zeros), heapOffset(backend, geometry) + 4 * GEOMETRY_INTS * t,
      ],
    })));
    // dy as channel planes (their padding stays zero from the fill above), then their transform: both split by channels.
    const channelShares = elementShares(backend, outChannels, 4, count * outHeight * outWidth * outChannels, threads);
    const planeFloats = count * planeRows * planeCols;
    channelShares.forEach(([c0, c1], t) => (backend.typedArrayFromHeap(geometry) as Int32Array).set(
      [c0, c1, outChannels, count, outHeight, outWidth, planeRows, planeCols], GEOMETRY_INTS * t));
    runKernelJobs(backend, channelShares.map((_, t) => ({
      fn: 'dy_to_planes',
      args: [heapOffset(backend, dy) + start * imageDy, heapOffset(backend, planes), heapOffset(backend, geometry) + 4 * GEOMETRY_INTS * t],
    })));
    channelShares.forEach(([c0, c1], t) => (backend.typedArrayFromHeap(geometry) as Int32Array).set(
      [c1 - c0, count, planeRows, planeCols, tilesHigh, tilesWide, outChannels, planeW - outChannels * tiles], GEOMETRY_INTS * t));
    runKernelJobs(backend, channelShares.map(([c0], t) => ({
      fn: tile === 4 ? 'winograd4_dy_planes' : 'winograd_dy_planes',
      args: [
        heapOffset(backend, planes) + 4 * c0 * planeFloats, heapOffset(backend, w) + 4 * c0 * tiles,
        heapOffset(backend, geometry) + 4 * GEOMETRY_INTS * t,
      ],
    })));
    const instance = gemmInstance(backend);
    if (instance) {
      // All the points' products in one batch, each chunk added into the sum (C += A B after the first).
      gemmBatch(backend, instance, {
        a: { data: w, rowStride: tiles, colStride: 1 }, b: { data: v, rowStride: inChannels, colStride: 1 }, c: { data: sum, ldc: inChannels },
        m: outChannels, n: inChannels, k: tiles, count: points, aStep: planeW, bStep: planeV, cStep: taps, accumulate: start > 0,
      });
      continue;
    }
    for (let xi = 0; xi < points; xi++) {
      // The chunk's w and v hold `tiles` rows at the start of each plane: product xi reads its own plane of each.
      const a = heapView(backend, w, xi * planeW, [outChannels, tiles]);
      const b = heapView(backend, v, xi * planeV, [tiles, inChannels]);
      const product = runWasmKernel(tf.BatchMatMul, backend, { a, b }, { transposeA: false, transposeB: false });
      disposeHeapView(backend, a);
      disposeHeapView(backend, b);
      const values = heapFloat32(backend, product);
      const into = heapFloat32(backend, sum).subarray(xi * taps, (xi + 1) * taps);
      if (start === 0) into.set(values);
      else for (let i = 0; i < taps; i++) into[i]! += values[i]!;
      backend.disposeData(product.dataId);
    }
  }
  const kc = backend.makeOutput([3, 3, outChannels, inChannels], 'float32');
  outputTransform(heapOffset(backend, sum), heapOffset(backend, kc), taps);
  const dw = backend.makeOutput([3, 3, inChannels, outChannels], 'float32');
  for (let k = 0; k < 9; k++) {
    simd.transpose(heapOffset(backend, kc) + 4 * k * taps, heapOffset(backend, dw) + 4 * k * taps, outChannels, inChannels);
  }
  for (const t of [sum, v, w, planes, zeros, geometry, kc]) backend.disposeData(t.dataId);
  return dw;
}

/**
 * winogradFilterGradient as one job per thread (winogradFilterGradFusedJob): the batch in filterGradParts parts, each
 * summed by one thread a group of images at a time (transforms and products in its core's cache), then the parts added
 * in order (a product with a row of ones: C[1 x n] = [1 ... 1] partials[parts x n], split by columns) and the output
 * transform.
 */
function fusedWinogradFilterGradient(backend: Backend, x: tf.TensorInfo, dy: tf.TensorInfo, spec: WinogradFilterGradientSpec): tf.TensorInfo {
  const instance = gemmInstance(backend)!;
  const simd = simdKernels(backend)!;
  const { tile, points, batch, height, width, inChannels, outHeight, outWidth, outChannels, tilesHigh, tilesWide, tilesPerImage } = tiling(x, spec);
  const planeRows = tile * tilesHigh;
  const planeCols = 4 * tile * Math.ceil(tilesWide / 4);
  const taps = inChannels * outChannels;
  const parts = filterGradParts(batch, points, inChannels, outChannels);
  const imageFloats = points * tilesPerImage * (inChannels + outChannels) + outChannels * planeRows * planeCols;
  const group = Math.max(1, Math.floor((spec.groupBytes ?? WINOGRAD_FUSED_GROUP_BYTES) / (4 * imageFloats)));
  const threads = Math.min(parts, transformThreads(backend));
  const partShares = imageShares(parts, threads);
  const groupImages = Math.min(group, Math.ceil(batch / parts));
  const groupTiles = groupImages * tilesPerImage;
  const planeV = paddedPlane(groupTiles * inChannels);
  const planeW = paddedPlane(outChannels * groupTiles);
  const v = points * planeV;
  const w = points * planeW;
  const planes = outChannels * groupImages * planeRows * planeCols;
  const packed = 8 * Math.ceil(inChannels / 8) * groupTiles;
  // Per thread: v, w, planes, packed B, then 16 ints of geometry and the product's scratch.
  const perThread = v + w + planes + packed + 16 + 32;
  const partials = backend.makeOutput([parts, points * taps], 'float32');
  const scratch = backend.makeOutput([inChannels + threads * perThread + parts], 'float32');
  const heap = heapFloat32(backend, scratch);
  heap.fill(0, 0, inChannels + threads * perThread);
  heap.fill(1, inChannels + threads * perThread);
  const zeros = heapOffset(backend, scratch);
  const threadBase = zeros + 4 * inChannels;
  const ones = threadBase + 4 * threads * perThread;
  const imageIn = 4 * height * width * inChannels;
  const imageDy = 4 * outHeight * outWidth * outChannels;
  runKernelJobs(backend, partShares.map(([part0, part1], t) => {
    const base = threadBase + 4 * t * perThread;
    const geometry = base + 4 * (v + w + planes + packed);
    const args: Record<(typeof WINOGRAD_FILTER_GRAD_FUSED_ARGS)[number], number> = {
      tile, part0, part1, parts, batch, group: groupImages, x: heapOffset(backend, x), imageIn, dy: heapOffset(backend, dy), imageDy, zeros,
      v: base, w: base + 4 * v, planes: base + 4 * (v + w), packed: base + 4 * (v + w + planes), geometry, partials: heapOffset(backend, partials),
      inChannels, outChannels, height, width, outHeight, outWidth, tilesHigh, tilesWide, padTop: spec.padTop, padLeft: spec.padLeft,
      planeRows, planeCols, scratch: geometry + 4 * 16, planeV, planeW,
    };
    return { fn: 'winograd_filter_grad_fused', args: WINOGRAD_FILTER_GRAD_FUSED_ARGS.map((name) => args[name]) };
  }));
  let sum = partials;
  if (parts > 1) {
    sum = backend.makeOutput([points * taps], 'float32');
    gemm(backend, instance, {
      a: { data: scratch, floatOffset: (ones - zeros) / 4, rowStride: parts, colStride: 1 },
      b: { data: partials, rowStride: points * taps, colStride: 1 },
      c: { data: sum, ldc: points * taps },
      m: 1, n: points * taps, k: parts,
    });
  }
  const kc = backend.makeOutput([3, 3, outChannels, inChannels], 'float32');
  (tile === 4 ? simd.winograd4_filter_grad_output : simd.winograd_filter_grad_output)(heapOffset(backend, sum), heapOffset(backend, kc), taps);
  const dw = backend.makeOutput([3, 3, inChannels, outChannels], 'float32');
  for (let k = 0; k < 9; k++) {
    simd.transpose(heapOffset(backend, kc) + 4 * k * taps, heapOffset(backend, dw) + 4 * k * taps, outChannels, inChannels);
  }
  for (const t of new Set([sum, partials, scratch, kc])) backend.disposeData(t.dataId);
  return dw;
}

// JavaScript twins of the SIMD transforms, float32 rounding at every step: the tests compare them bit for bit.
const f = Math.fround;

/** winograd_filter: g [3][3][taps] -> u [16][taps]; `flip` reads the taps in reverse order. */
export function winogradFilterJs(g: Float32Array, u: Float32Array, taps: number, flip: boolean): void {
  for (let e = 0; e < taps; e++) {
    const at = (r: number, s: number) => g[(flip ? 8 - (3 * r + s) : 3 * r + s) * taps + e]!;
    const t: number[][] = [];
    for (let s = 0; s < 3; s++) {
      const g0 = at(0, s), g1 = at(1, s), g2 = at(2, s);
      const sum = f(g0 + g2);
      (t[0] ??= [])[s] = g0;
      (t[1] ??= [])[s] = f(f(sum + g1) * 0.5);
      (t[2] ??= [])[s] = f(f(sum - g1) * 0.5);
      (t[3] ??= [])[s] = g2;
    }
    for (let k = 0; k < 4; k++) {
      const [t0, t1, t2] = t[k] as [number, number, number];
      const sum = f(t0 + t2);
      u[(4 * k) * taps + e] = t0;
      u[(4 * k + 1) * taps + e] = f(f(sum + t1) * 0.5);
      u[(4 * k + 2) * taps + e] = f(f(sum - t1) * 0.5);
      u[(4 * k + 3) * taps + e] = t2;
    }
  }
}

/** winograd_input on arrays: x [N][H][W][C] -> v [16][N * tilesHigh * tilesWide][C]. */
export function winogradInputJs(
  x: Float32Array, v: Float32Array, [n, h, w, c]: number[], tilesHigh: number, tilesWide: number, padTop: number, padLeft: number,
): void {
  const plane = n * tilesHigh * tilesWide * c;
  let tile = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, tile++) {
        for (let ch = 0; ch < c; ch++) {
          const d = (i: number, j: number) => {
            const ih = 2 * ty - padTop + i;
            const iw = 2 * tx - padLeft + j;
            return ih >= 0 && ih < h && iw >= 0 && iw < w ? x[((b * h + ih) * w + iw) * c + ch]! : 0;
          };
          const t: number[][] = [[], [], [], []];
          for (let j = 0; j < 4; j++) {
            t[0]![j] = f(d(0, j) - d(2, j));
            t[1]![j] = f(d(1, j) + d(2, j));
            t[2]![j] = f(d(2, j) - d(1, j));
            t[3]![j] = f(d(1, j) - d(3, j));
          }
          for (let k = 0; k < 4; k++) {
            const [t0, t1, t2, t3] = t[k] as [number, number, number, number];
            const out = tile * c + ch;
            v[(4 * k) * plane + out] = f(t0 - t2);
            v[(4 * k + 1) * plane + out] = f(t1 + t2);
            v[(4 * k + 2) * plane + out] = f(t2 - t1);
            v[(4 * k + 3) * plane + out] = f(t1 - t3);
          }
        }
      }
    }
  }
}

/** winograd_output on arrays: m [16][tiles][C] -> y [N][OH][OW][C], plus bias, then ReLU if asked. */
export function winogradOutputJs(
  m: Float32Array, y: Float32Array, bias: Float32Array | undefined, [n, oh, ow, c]: number[], relu: boolean,
): void {
  const tilesHigh = Math.ceil(oh / 2);
  const tilesWide = Math.ceil(ow / 2);
  const plane = n * tilesHigh * tilesWide * c;
  let tile = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, tile++) {
        for (let ch = 0; ch < c; ch++) {
          const at = (k: number) => m[k * plane + tile * c + ch]!;
          const s: number[][] = [[], []];
          for (let l = 0; l < 4; l++) {
            s[0]![l] = f(f(at(l) + at(4 + l)) + at(8 + l));
            s[1]![l] = f(f(at(4 + l) - at(8 + l)) - at(12 + l));
          }
          for (let row = 0; row < 2; row++) {
            const [s0, s1, s2, s3] = s[row] as [number, number, number, number];
            const values = [f(f(s0 + s1) + s2), f(f(s1 - s2) - s3)];
            for (let col = 0; col < 2; col++) {
              const oy = 2 * ty + row;
              const ox = 2 * tx + col;
              if (oy >= oh || ox >= ow) continue;
              const value = f(values[col]! + (bias ? bias[ch]! : 0));
              y[((b * oh + oy) * ow + ox) * c + ch] = relu ? Math.max(value, 0) : value;
            }
          }
        }
      }
    }
  }
}

/** winograd_dy_planes on arrays: dy [K][N][OH][OW] (unpadded) -> w [16][K][N * tilesHigh * tilesWide]. */
export function winogradDyPlanesJs(dy: Float32Array, w: Float32Array, [k, n, oh, ow]: number[]): void {
  const tilesHigh = Math.ceil(oh / 2);
  const tilesWide = Math.ceil(ow / 2);
  const tiles = n * tilesHigh * tilesWide;
  const plane = k * tiles;
  for (let ch = 0; ch < k; ch++) {
    for (let b = 0; b < n; b++) {
      for (let ty = 0; ty < tilesHigh; ty++) {
        for (let tx = 0; tx < tilesWide; tx++) {
          const d = (i: number, j: number) => {
            const r = 2 * ty + i;
            const c = 2 * tx + j;
            return r < oh && c < ow ? dy[((ch * n + b) * oh + r) * ow + c]! : 0;
          };
          const t = [[d(0, 0), d(0, 1)], [f(d(0, 0) + d(1, 0)), f(d(0, 1) + d(1, 1))], [f(d(0, 0) - d(1, 0)), f(d(0, 1) - d(1, 1))], [-d(1, 0), -d(1, 1)]];
          const out = ch * tiles + (b * tilesHigh + ty) * tilesWide + tx;
          for (let a = 0; a < 4; a++) {
            const [t0, t1] = t[a] as [number, number];
            w[(4 * a) * plane + out] = t0;
            w[(4 * a + 1) * plane + out] = f(t0 + t1);
            w[(4 * a + 2) * plane + out] = f(t0 - t1);
            w[(4 * a + 3) * plane + out] = -t1;
          }
        }
      }
    }
  }
}

/** winograd_filter_grad_output on arrays: m [16][taps] -> dw [3][3][taps]. */
export function winogradFilterGradOutputJs(m: Float32Array, dw: Float32Array, taps: number): void {
  for (let e = 0; e < taps; e++) {
    const at = (i: number) => m[i * taps + e]!;
    const s: number[] = [];
    for (let j = 0; j < 4; j++) {
      const h = f(f(at(4 + j) + at(8 + j)) * 0.5);
      s[j] = f(at(j) + h);
      s[4 + j] = f(f(at(4 + j) - at(8 + j)) * 0.5);
      s[8 + j] = f(h + at(12 + j));
    }
    for (let r = 0; r < 3; r++) {
      const h = f(f(s[4 * r + 1]! + s[4 * r + 2]!) * 0.5);
      dw[(3 * r) * taps + e] = f(s[4 * r]! + h);
      dw[(3 * r + 1) * taps + e] = f(f(s[4 * r + 1]! - s[4 * r + 2]!) * 0.5);
      dw[(3 * r + 2) * taps + e] = f(h + s[4 * r + 3]!);
    }
  }
}

/** winograd4_filter: g [3][3][taps] -> u [36][taps] (G g G^T); `flip` reads the taps in reverse order. */
export function winograd4FilterJs(g: Float32Array, u: Float32Array, taps: number, flip: boolean): void {
  for (let e = 0; e < taps; e++) {
    const g0 = g[(flip ? 8 : 0) * taps + e]!;
    const g1 = g[(flip ? 7 : 1) * taps + e]!;
    const g2 = g[(flip ? 6 : 2) * taps + e]!;
    const g3 = g[(flip ? 5 : 3) * taps + e]!;
    const g4 = g[(flip ? 4 : 4) * taps + e]!;
    const g5 = g[(flip ? 3 : 5) * taps + e]!;
    const g6 = g[(flip ? 2 : 6) * taps + e]!;
    const g7 = g[(flip ? 1 : 7) * taps + e]!;
    const g8 = g[(flip ? 0 : 8) * taps + e]!;
    const q1 = f(g0 + g6);
    const q2 = f(g0 * 0.25);
    const q3 = f(q2 + g6);
    const q4 = f(g3 * 0.5);
    const q5 = f(g0 * 0.25);
    const q6 = f(q1 + g3);
    const q7 = f(q6 * -0.1666666716337204);
    const q8 = f(q1 - g3);
    const q9 = f(q8 * -0.1666666716337204);
    const q10 = f(q3 + q4);
    const q11 = f(q10 * 0.1666666716337204);
    const q12 = f(q3 - q4);
    const q13 = f(q12 * 0.1666666716337204);
    const q14 = f(g1 + g7);
    const q15 = f(g1 * 0.25);
    const q16 = f(q15 + g7);
    const q17 = f(g4 * 0.5);
    const q18 = f(g1 * 0.25);
    const q19 = f(q14 + g4);
    const q20 = f(q19 * -0.1666666716337204);
    const q21 = f(q14 - g4);
    const q22 = f(q21 * -0.1666666716337204);
    const q23 = f(q16 + q17);
    const q24 = f(q23 * 0.1666666716337204);
    const q25 = f(q16 - q17);
    const q26 = f(q25 * 0.1666666716337204);
    const q27 = f(g2 + g8);
    const q28 = f(g2 * 0.25);
    const q29 = f(q28 + g8);
    const q30 = f(g5 * 0.5);
    const q31 = f(g2 * 0.25);
    const q32 = f(q27 + g5);
    const q33 = f(q32 * -0.1666666716337204);
    const q34 = f(q27 - g5);
    const q35 = f(q34 * -0.1666666716337204);
    const q36 = f(q29 + q30);
    const q37 = f(q36 * 0.1666666716337204);
    const q38 = f(q29 - q30);
    const q39 = f(q38 * 0.1666666716337204);
    const q40 = f(q5 + q31);
    const q41 = f(q5 * 0.25);
    const q42 = f(q41 + q31);
    const q43 = f(q18 * 0.5);
    const q44 = f(q5 * 0.25);
    const q45 = f(q40 + q18);
    const q46 = f(q45 * -0.1666666716337204);
    const q47 = f(q40 - q18);
    const q48 = f(q47 * -0.1666666716337204);
    const q49 = f(q42 + q43);
    const q50 = f(q49 * 0.1666666716337204);
    const q51 = f(q42 - q43);
    const q52 = f(q51 * 0.1666666716337204);
    const q53 = f(q7 + q33);
    const q54 = f(q7 * 0.25);
    const q55 = f(q54 + q33);
    const q56 = f(q20 * 0.5);
    const q57 = f(q7 * 0.25);
    const q58 = f(q53 + q20);
    const q59 = f(q58 * -0.1666666716337204);
    const q60 = f(q53 - q20);
    const q61 = f(q60 * -0.1666666716337204);
    const q62 = f(q55 + q56);
    const q63 = f(q62 * 0.1666666716337204);
    const q64 = f(q55 - q56);
    const q65 = f(q64 * 0.1666666716337204);
    const q66 = f(q9 + q35);
    const q67 = f(q9 * 0.25);
    const q68 = f(q67 + q35);
    const q69 = f(q22 * 0.5);
    const q70 = f(q9 * 0.25);
    const q71 = f(q66 + q22);
    const q72 = f(q71 * -0.1666666716337204);
    const q73 = f(q66 - q22);
    const q74 = f(q73 * -0.1666666716337204);
    const q75 = f(q68 + q69);
    const q76 = f(q75 * 0.1666666716337204);
    const q77 = f(q68 - q69);
    const q78 = f(q77 * 0.1666666716337204);
    const q79 = f(q11 + q37);
    const q80 = f(q11 * 0.25);
    const q81 = f(q80 + q37);
    const q82 = f(q24 * 0.5);
    const q83 = f(q11 * 0.25);
    const q84 = f(q79 + q24);
    const q85 = f(q84 * -0.1666666716337204);
    const q86 = f(q79 - q24);
    const q87 = f(q86 * -0.1666666716337204);
    const q88 = f(q81 + q82);
    const q89 = f(q88 * 0.1666666716337204);
    const q90 = f(q81 - q82);
    const q91 = f(q90 * 0.1666666716337204);
    const q92 = f(q13 + q39);
    const q93 = f(q13 * 0.25);
    const q94 = f(q93 + q39);
    const q95 = f(q26 * 0.5);
    const q96 = f(q13 * 0.25);
    const q97 = f(q92 + q26);
    const q98 = f(q97 * -0.1666666716337204);
    const q99 = f(q92 - q26);
    const q100 = f(q99 * -0.1666666716337204);
    const q101 = f(q94 + q95);
    const q102 = f(q101 * 0.1666666716337204);
    const q103 = f(q94 - q95);
    const q104 = f(q103 * 0.1666666716337204);
    const q105 = f(g6 + g8);
    const q106 = f(g6 * 0.25);
    const q107 = f(q106 + g8);
    const q108 = f(g7 * 0.5);
    const q109 = f(g6 * 0.25);
    const q110 = f(q105 + g7);
    const q111 = f(q110 * -0.1666666716337204);
    const q112 = f(q105 - g7);
    const q113 = f(q112 * -0.1666666716337204);
    const q114 = f(q107 + q108);
    const q115 = f(q114 * 0.1666666716337204);
    const q116 = f(q107 - q108);
    const q117 = f(q116 * 0.1666666716337204);
    u[0 * taps + e] = q44; u[1 * taps + e] = q46; u[2 * taps + e] = q48; u[3 * taps + e] = q50; u[4 * taps + e] = q52; u[5 * taps + e] = q31; u[6 * taps + e] = q57; u[7 * taps + e] = q59; u[8 * taps + e] = q61; u[9 * taps + e] = q63; u[10 * taps + e] = q65; u[11 * taps + e] = q33; u[12 * taps + e] = q70; u[13 * taps + e] = q72; u[14 * taps + e] = q74; u[15 * taps + e] = q76; u[16 * taps + e] = q78; u[17 * taps + e] = q35; u[18 * taps + e] = q83; u[19 * taps + e] = q85; u[20 * taps + e] = q87; u[21 * taps + e] = q89; u[22 * taps + e] = q91; u[23 * taps + e] = q37; u[24 * taps + e] = q96; u[25 * taps + e] = q98; u[26 * taps + e] = q100; u[27 * taps + e] = q102; u[28 * taps + e] = q104; u[29 * taps + e] = q39; u[30 * taps + e] = q109; u[31 * taps + e] = q111; u[32 * taps + e] = q113; u[33 * taps + e] = q115; u[34 * taps + e] = q117; u[35 * taps + e] = g8;
  }
}

/** winograd4_input on arrays: x [N][H][W][C] -> v [36][N * tilesHigh * tilesWide][C] (B^T d B over 6x6 tiles 4 apart). */
export function winograd4InputJs(
  x: Float32Array, v: Float32Array, [n, h, w, c]: number[], tilesHigh: number, tilesWide: number, padTop: number, padLeft: number,
): void {
  const plane = n * tilesHigh * tilesWide * c;
  let tile = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, tile++) {
        for (let ch = 0; ch < c; ch++) {
          const at = (i: number, j: number) => {
            const ih = 4 * ty - padTop + i;
            const iw = 4 * tx - padLeft + j;
            return ih >= 0 && ih < h && iw >= 0 && iw < w ? x[((b * h + ih) * w + iw) * c + ch]! : 0;
          };
          const d0 = at(0, 0); const d1 = at(0, 1); const d2 = at(0, 2); const d3 = at(0, 3); const d4 = at(0, 4); const d5 = at(0, 5);
          const d6 = at(1, 0); const d7 = at(1, 1); const d8 = at(1, 2); const d9 = at(1, 3); const d10 = at(1, 4); const d11 = at(1, 5);
          const d12 = at(2, 0); const d13 = at(2, 1); const d14 = at(2, 2); const d15 = at(2, 3); const d16 = at(2, 4); const d17 = at(2, 5);
          const d18 = at(3, 0); const d19 = at(3, 1); const d20 = at(3, 2); const d21 = at(3, 3); const d22 = at(3, 4); const d23 = at(3, 5);
          const d24 = at(4, 0); const d25 = at(4, 1); const d26 = at(4, 2); const d27 = at(4, 3); const d28 = at(4, 4); const d29 = at(4, 5);
          const d30 = at(5, 0); const d31 = at(5, 1); const d32 = at(5, 2); const d33 = at(5, 3); const d34 = at(5, 4); const d35 = at(5, 5);
          const t1 = f(d6 * 4.0);
          const t2 = f(d18 - t1);
          const t3 = f(d12 * 4.0);
          const t4 = f(d24 - t3);
          const t5 = f(d24 - d12);
          const t6 = f(d18 - d6);
          const t7 = f(t6 * 2.0);
          const t8 = f(d0 * 4.0);
          const t9 = f(t8 + d24);
          const t10 = f(d12 * 5.0);
          const t11 = f(t9 - t10);
          const t12 = f(t4 + t2);
          const t13 = f(t4 - t2);
          const t14 = f(t5 + t7);
          const t15 = f(t5 - t7);
          const t16 = f(d6 * 4.0);
          const t17 = f(t16 + d30);
          const t18 = f(d18 * 5.0);
          const t19 = f(t17 - t18);
          const t20 = f(d7 * 4.0);
          const t21 = f(d19 - t20);
          const t22 = f(d13 * 4.0);
          const t23 = f(d25 - t22);
          const t24 = f(d25 - d13);
          const t25 = f(d19 - d7);
          const t26 = f(t25 * 2.0);
          const t27 = f(d1 * 4.0);
          const t28 = f(t27 + d25);
          const t29 = f(d13 * 5.0);
          const t30 = f(t28 - t29);
          const t31 = f(t23 + t21);
          const t32 = f(t23 - t21);
          const t33 = f(t24 + t26);
          const t34 = f(t24 - t26);
          const t35 = f(d7 * 4.0);
          const t36 = f(t35 + d31);
          const t37 = f(d19 * 5.0);
          const t38 = f(t36 - t37);
          const t39 = f(d8 * 4.0);
          const t40 = f(d20 - t39);
          const t41 = f(d14 * 4.0);
          const t42 = f(d26 - t41);
          const t43 = f(d26 - d14);
          const t44 = f(d20 - d8);
          const t45 = f(t44 * 2.0);
          const t46 = f(d2 * 4.0);
          const t47 = f(t46 + d26);
          const t48 = f(d14 * 5.0);
          const t49 = f(t47 - t48);
          const t50 = f(t42 + t40);
          const t51 = f(t42 - t40);
          const t52 = f(t43 + t45);
          const t53 = f(t43 - t45);
          const t54 = f(d8 * 4.0);
          const t55 = f(t54 + d32);
          const t56 = f(d20 * 5.0);
          const t57 = f(t55 - t56);
          const t58 = f(d9 * 4.0);
          const t59 = f(d21 - t58);
          const t60 = f(d15 * 4.0);
          const t61 = f(d27 - t60);
          const t62 = f(d27 - d15);
          const t63 = f(d21 - d9);
          const t64 = f(t63 * 2.0);
          const t65 = f(d3 * 4.0);
          const t66 = f(t65 + d27);
          const t67 = f(d15 * 5.0);
          const t68 = f(t66 - t67);
          const t69 = f(t61 + t59);
          const t70 = f(t61 - t59);
          const t71 = f(t62 + t64);
          const t72 = f(t62 - t64);
          const t73 = f(d9 * 4.0);
          const t74 = f(t73 + d33);
          const t75 = f(d21 * 5.0);
          const t76 = f(t74 - t75);
          const t77 = f(d10 * 4.0);
          const t78 = f(d22 - t77);
          const t79 = f(d16 * 4.0);
          const t80 = f(d28 - t79);
          const t81 = f(d28 - d16);
          const t82 = f(d22 - d10);
          const t83 = f(t82 * 2.0);
          const t84 = f(d4 * 4.0);
          const t85 = f(t84 + d28);
          const t86 = f(d16 * 5.0);
          const t87 = f(t85 - t86);
          const t88 = f(t80 + t78);
          const t89 = f(t80 - t78);
          const t90 = f(t81 + t83);
          const t91 = f(t81 - t83);
          const t92 = f(d10 * 4.0);
          const t93 = f(t92 + d34);
          const t94 = f(d22 * 5.0);
          const t95 = f(t93 - t94);
          const t96 = f(d11 * 4.0);
          const t97 = f(d23 - t96);
          const t98 = f(d17 * 4.0);
          const t99 = f(d29 - t98);
          const t100 = f(d29 - d17);
          const t101 = f(d23 - d11);
          const t102 = f(t101 * 2.0);
          const t103 = f(d5 * 4.0);
          const t104 = f(t103 + d29);
          const t105 = f(d17 * 5.0);
          const t106 = f(t104 - t105);
          const t107 = f(t99 + t97);
          const t108 = f(t99 - t97);
          const t109 = f(t100 + t102);
          const t110 = f(t100 - t102);
          const t111 = f(d11 * 4.0);
          const t112 = f(t111 + d35);
          const t113 = f(d23 * 5.0);
          const t114 = f(t112 - t113);
          const t115 = f(t30 * 4.0);
          const t116 = f(t68 - t115);
          const t117 = f(t49 * 4.0);
          const t118 = f(t87 - t117);
          const t119 = f(t87 - t49);
          const t120 = f(t68 - t30);
          const t121 = f(t120 * 2.0);
          const t122 = f(t11 * 4.0);
          const t123 = f(t122 + t87);
          const t124 = f(t49 * 5.0);
          const t125 = f(t123 - t124);
          const t126 = f(t118 + t116);
          const t127 = f(t118 - t116);
          const t128 = f(t119 + t121);
          const t129 = f(t119 - t121);
          const t130 = f(t30 * 4.0);
          const t131 = f(t130 + t106);
          const t132 = f(t68 * 5.0);
          const t133 = f(t131 - t132);
          const t134 = f(t31 * 4.0);
          const t135 = f(t69 - t134);
          const t136 = f(t50 * 4.0);
          const t137 = f(t88 - t136);
          const t138 = f(t88 - t50);
          const t139 = f(t69 - t31);
          const t140 = f(t139 * 2.0);
          const t141 = f(t12 * 4.0);
          const t142 = f(t141 + t88);
          const t143 = f(t50 * 5.0);
          const t144 = f(t142 - t143);
          const t145 = f(t137 + t135);
          const t146 = f(t137 - t135);
          const t147 = f(t138 + t140);
          const t148 = f(t138 - t140);
          const t149 = f(t31 * 4.0);
          const t150 = f(t149 + t107);
          const t151 = f(t69 * 5.0);
          const t152 = f(t150 - t151);
          const t153 = f(t32 * 4.0);
          const t154 = f(t70 - t153);
          const t155 = f(t51 * 4.0);
          const t156 = f(t89 - t155);
          const t157 = f(t89 - t51);
          const t158 = f(t70 - t32);
          const t159 = f(t158 * 2.0);
          const t160 = f(t13 * 4.0);
          const t161 = f(t160 + t89);
          const t162 = f(t51 * 5.0);
          const t163 = f(t161 - t162);
          const t164 = f(t156 + t154);
          const t165 = f(t156 - t154);
          const t166 = f(t157 + t159);
          const t167 = f(t157 - t159);
          const t168 = f(t32 * 4.0);
          const t169 = f(t168 + t108);
          const t170 = f(t70 * 5.0);
          const t171 = f(t169 - t170);
          const t172 = f(t33 * 4.0);
          const t173 = f(t71 - t172);
          const t174 = f(t52 * 4.0);
          const t175 = f(t90 - t174);
          const t176 = f(t90 - t52);
          const t177 = f(t71 - t33);
          const t178 = f(t177 * 2.0);
          const t179 = f(t14 * 4.0);
          const t180 = f(t179 + t90);
          const t181 = f(t52 * 5.0);
          const t182 = f(t180 - t181);
          const t183 = f(t175 + t173);
          const t184 = f(t175 - t173);
          const t185 = f(t176 + t178);
          const t186 = f(t176 - t178);
          const t187 = f(t33 * 4.0);
          const t188 = f(t187 + t109);
          const t189 = f(t71 * 5.0);
          const t190 = f(t188 - t189);
          const t191 = f(t34 * 4.0);
          const t192 = f(t72 - t191);
          const t193 = f(t53 * 4.0);
          const t194 = f(t91 - t193);
          const t195 = f(t91 - t53);
          const t196 = f(t72 - t34);
          const t197 = f(t196 * 2.0);
          const t198 = f(t15 * 4.0);
          const t199 = f(t198 + t91);
          const t200 = f(t53 * 5.0);
          const t201 = f(t199 - t200);
          const t202 = f(t194 + t192);
          const t203 = f(t194 - t192);
          const t204 = f(t195 + t197);
          const t205 = f(t195 - t197);
          const t206 = f(t34 * 4.0);
          const t207 = f(t206 + t110);
          const t208 = f(t72 * 5.0);
          const t209 = f(t207 - t208);
          const t210 = f(t38 * 4.0);
          const t211 = f(t76 - t210);
          const t212 = f(t57 * 4.0);
          const t213 = f(t95 - t212);
          const t214 = f(t95 - t57);
          const t215 = f(t76 - t38);
          const t216 = f(t215 * 2.0);
          const t217 = f(t19 * 4.0);
          const t218 = f(t217 + t95);
          const t219 = f(t57 * 5.0);
          const t220 = f(t218 - t219);
          const t221 = f(t213 + t211);
          const t222 = f(t213 - t211);
          const t223 = f(t214 + t216);
          const t224 = f(t214 - t216);
          const t225 = f(t38 * 4.0);
          const t226 = f(t225 + t114);
          const t227 = f(t76 * 5.0);
          const t228 = f(t226 - t227);
          const out = tile * c + ch;
          v[0 * plane + out] = t125; v[1 * plane + out] = t126; v[2 * plane + out] = t127; v[3 * plane + out] = t128; v[4 * plane + out] = t129; v[5 * plane + out] = t133; v[6 * plane + out] = t144; v[7 * plane + out] = t145; v[8 * plane + out] = t146; v[9 * plane + out] = t147; v[10 * plane + out] = t148; v[11 * plane + out] = t152; v[12 * plane + out] = t163; v[13 * plane + out] = t164; v[14 * plane + out] = t165; v[15 * plane + out] = t166; v[16 * plane + out] = t167; v[17 * plane + out] = t171; v[18 * plane + out] = t182; v[19 * plane + out] = t183; v[20 * plane + out] = t184; v[21 * plane + out] = t185; v[22 * plane + out] = t186; v[23 * plane + out] = t190; v[24 * plane + out] = t201; v[25 * plane + out] = t202; v[26 * plane + out] = t203; v[27 * plane + out] = t204; v[28 * plane + out] = t205; v[29 * plane + out] = t209; v[30 * plane + out] = t220; v[31 * plane + out] = t221; v[32 * plane + out] = t222; v[33 * plane + out] = t223; v[34 * plane + out] = t224; v[35 * plane + out] = t228;
        }
      }
    }
  }
}

/** winograd4_output on arrays: m [36][tiles][C] -> y [N][OH][OW][C] (A^T m A per 4x4 block), plus bias, then ReLU if asked. */
export function winograd4OutputJs(
  m: Float32Array, y: Float32Array, bias: Float32Array | undefined, [n, oh, ow, c]: number[], relu: boolean,
): void {
  const tilesHigh = Math.ceil(oh / 4);
  const tilesWide = Math.ceil(ow / 4);
  const plane = n * tilesHigh * tilesWide * c;
  let tile = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, tile++) {
        for (let ch = 0; ch < c; ch++) {
          const m0 = m[0 * plane + tile * c + ch]!; const m1 = m[1 * plane + tile * c + ch]!; const m2 = m[2 * plane + tile * c + ch]!; const m3 = m[3 * plane + tile * c + ch]!; const m4 = m[4 * plane + tile * c + ch]!; const m5 = m[5 * plane + tile * c + ch]!; const m6 = m[6 * plane + tile * c + ch]!; const m7 = m[7 * plane + tile * c + ch]!; const m8 = m[8 * plane + tile * c + ch]!; const m9 = m[9 * plane + tile * c + ch]!; const m10 = m[10 * plane + tile * c + ch]!; const m11 = m[11 * plane + tile * c + ch]!; const m12 = m[12 * plane + tile * c + ch]!; const m13 = m[13 * plane + tile * c + ch]!; const m14 = m[14 * plane + tile * c + ch]!; const m15 = m[15 * plane + tile * c + ch]!; const m16 = m[16 * plane + tile * c + ch]!; const m17 = m[17 * plane + tile * c + ch]!; const m18 = m[18 * plane + tile * c + ch]!; const m19 = m[19 * plane + tile * c + ch]!; const m20 = m[20 * plane + tile * c + ch]!; const m21 = m[21 * plane + tile * c + ch]!; const m22 = m[22 * plane + tile * c + ch]!; const m23 = m[23 * plane + tile * c + ch]!; const m24 = m[24 * plane + tile * c + ch]!; const m25 = m[25 * plane + tile * c + ch]!; const m26 = m[26 * plane + tile * c + ch]!; const m27 = m[27 * plane + tile * c + ch]!; const m28 = m[28 * plane + tile * c + ch]!; const m29 = m[29 * plane + tile * c + ch]!; const m30 = m[30 * plane + tile * c + ch]!; const m31 = m[31 * plane + tile * c + ch]!; const m32 = m[32 * plane + tile * c + ch]!; const m33 = m[33 * plane + tile * c + ch]!; const m34 = m[34 * plane + tile * c + ch]!; const m35 = m[35 * plane + tile * c + ch]!;
          const s1 = f(m6 + m12);
          const s2 = f(m6 - m12);
          const s3 = f(m18 + m24);
          const s4 = f(m18 - m24);
          const s5 = f(m0 + s1);
          const s6 = f(s5 + s3);
          const s7 = f(s4 * 2.0);
          const s8 = f(s2 + s7);
          const s9 = f(s3 * 4.0);
          const s10 = f(s1 + s9);
          const s11 = f(s4 * 8.0);
          const s12 = f(s2 + s11);
          const s13 = f(s12 + m30);
          const s14 = f(m7 + m13);
          const s15 = f(m7 - m13);
          const s16 = f(m19 + m25);
          const s17 = f(m19 - m25);
          const s18 = f(m1 + s14);
          const s19 = f(s18 + s16);
          const s20 = f(s17 * 2.0);
          const s21 = f(s15 + s20);
          const s22 = f(s16 * 4.0);
          const s23 = f(s14 + s22);
          const s24 = f(s17 * 8.0);
          const s25 = f(s15 + s24);
          const s26 = f(s25 + m31);
          const s27 = f(m8 + m14);
          const s28 = f(m8 - m14);
          const s29 = f(m20 + m26);
          const s30 = f(m20 - m26);
          const s31 = f(m2 + s27);
          const s32 = f(s31 + s29);
          const s33 = f(s30 * 2.0);
          const s34 = f(s28 + s33);
          const s35 = f(s29 * 4.0);
          const s36 = f(s27 + s35);
          const s37 = f(s30 * 8.0);
          const s38 = f(s28 + s37);
          const s39 = f(s38 + m32);
          const s40 = f(m9 + m15);
          const s41 = f(m9 - m15);
          const s42 = f(m21 + m27);
          const s43 = f(m21 - m27);
          const s44 = f(m3 + s40);
          const s45 = f(s44 + s42);
          const s46 = f(s43 * 2.0);
          const s47 = f(s41 + s46);
          const s48 = f(s42 * 4.0);
          const s49 = f(s40 + s48);
          const s50 = f(s43 * 8.0);
          const s51 = f(s41 + s50);
          const s52 = f(s51 + m33);
          const s53 = f(m10 + m16);
          const s54 = f(m10 - m16);
          const s55 = f(m22 + m28);
          const s56 = f(m22 - m28);
          const s57 = f(m4 + s53);
          const s58 = f(s57 + s55);
          const s59 = f(s56 * 2.0);
          const s60 = f(s54 + s59);
          const s61 = f(s55 * 4.0);
          const s62 = f(s53 + s61);
          const s63 = f(s56 * 8.0);
          const s64 = f(s54 + s63);
          const s65 = f(s64 + m34);
          const s66 = f(m11 + m17);
          const s67 = f(m11 - m17);
          const s68 = f(m23 + m29);
          const s69 = f(m23 - m29);
          const s70 = f(m5 + s66);
          const s71 = f(s70 + s68);
          const s72 = f(s69 * 2.0);
          const s73 = f(s67 + s72);
          const s74 = f(s68 * 4.0);
          const s75 = f(s66 + s74);
          const s76 = f(s69 * 8.0);
          const s77 = f(s67 + s76);
          const s78 = f(s77 + m35);
          const s79 = f(s19 + s32);
          const s80 = f(s19 - s32);
          const s81 = f(s45 + s58);
          const s82 = f(s45 - s58);
          const s83 = f(s6 + s79);
          const s84 = f(s83 + s81);
          const s85 = f(s82 * 2.0);
          const s86 = f(s80 + s85);
          const s87 = f(s81 * 4.0);
          const s88 = f(s79 + s87);
          const s89 = f(s82 * 8.0);
          const s90 = f(s80 + s89);
          const s91 = f(s90 + s71);
          const s92 = f(s21 + s34);
          const s93 = f(s21 - s34);
          const s94 = f(s47 + s60);
          const s95 = f(s47 - s60);
          const s96 = f(s8 + s92);
          const s97 = f(s96 + s94);
          const s98 = f(s95 * 2.0);
          const s99 = f(s93 + s98);
          const s100 = f(s94 * 4.0);
          const s101 = f(s92 + s100);
          const s102 = f(s95 * 8.0);
          const s103 = f(s93 + s102);
          const s104 = f(s103 + s73);
          const s105 = f(s23 + s36);
          const s106 = f(s23 - s36);
          const s107 = f(s49 + s62);
          const s108 = f(s49 - s62);
          const s109 = f(s10 + s105);
          const s110 = f(s109 + s107);
          const s111 = f(s108 * 2.0);
          const s112 = f(s106 + s111);
          const s113 = f(s107 * 4.0);
          const s114 = f(s105 + s113);
          const s115 = f(s108 * 8.0);
          const s116 = f(s106 + s115);
          const s117 = f(s116 + s75);
          const s118 = f(s26 + s39);
          const s119 = f(s26 - s39);
          const s120 = f(s52 + s65);
          const s121 = f(s52 - s65);
          const s122 = f(s13 + s118);
          const s123 = f(s122 + s120);
          const s124 = f(s121 * 2.0);
          const s125 = f(s119 + s124);
          const s126 = f(s120 * 4.0);
          const s127 = f(s118 + s126);
          const s128 = f(s121 * 8.0);
          const s129 = f(s119 + s128);
          const s130 = f(s129 + s78);
          const values = [s84, s86, s88, s91, s97, s99, s101, s104, s110, s112, s114, s117, s123, s125, s127, s130];
          for (let k = 0; k < 16; k++) {
            const oy = 4 * ty + Math.floor(k / 4);
            const ox = 4 * tx + (k % 4);
            if (oy >= oh || ox >= ow) continue;
            const value = f(values[k]! + (bias ? bias[ch]! : 0));
            y[((b * oh + oy) * ow + ox) * c + ch] = relu ? Math.max(value, 0) : value;
          }
        }
      }
    }
  }
}

/** winograd4_dy_planes on arrays: dy [K][N][OH][OW] (unpadded) -> w [36][K][N * tilesHigh * tilesWide] (A dy A^T per 4x4 tile). */
export function winograd4DyPlanesJs(dy: Float32Array, w: Float32Array, [k, n, oh, ow]: number[]): void {
  const tilesHigh = Math.ceil(oh / 4);
  const tilesWide = Math.ceil(ow / 4);
  const tiles = n * tilesHigh * tilesWide;
  const plane = k * tiles;
  for (let ch = 0; ch < k; ch++) {
    for (let b = 0; b < n; b++) {
      for (let ty = 0; ty < tilesHigh; ty++) {
        for (let tx = 0; tx < tilesWide; tx++) {
          const at = (i: number, j: number) => {
            const r = 4 * ty + i;
            const c = 4 * tx + j;
            return r < oh && c < ow ? dy[((ch * n + b) * oh + r) * ow + c]! : 0;
          };
          const d0 = at(0, 0); const d1 = at(0, 1); const d2 = at(0, 2); const d3 = at(0, 3);
          const d4 = at(1, 0); const d5 = at(1, 1); const d6 = at(1, 2); const d7 = at(1, 3);
          const d8 = at(2, 0); const d9 = at(2, 1); const d10 = at(2, 2); const d11 = at(2, 3);
          const d12 = at(3, 0); const d13 = at(3, 1); const d14 = at(3, 2); const d15 = at(3, 3);
          const t1 = f(d0 + d8);
          const t2 = f(d4 + d12);
          const t3 = f(d8 * 4.0);
          const t4 = f(d0 + t3);
          const t5 = f(d4 * 2.0);
          const t6 = f(d12 * 8.0);
          const t7 = f(t5 + t6);
          const t8 = f(t1 + t2);
          const t9 = f(t1 - t2);
          const t10 = f(t4 + t7);
          const t11 = f(t4 - t7);
          const t12 = f(d1 + d9);
          const t13 = f(d5 + d13);
          const t14 = f(d9 * 4.0);
          const t15 = f(d1 + t14);
          const t16 = f(d5 * 2.0);
          const t17 = f(d13 * 8.0);
          const t18 = f(t16 + t17);
          const t19 = f(t12 + t13);
          const t20 = f(t12 - t13);
          const t21 = f(t15 + t18);
          const t22 = f(t15 - t18);
          const t23 = f(d2 + d10);
          const t24 = f(d6 + d14);
          const t25 = f(d10 * 4.0);
          const t26 = f(d2 + t25);
          const t27 = f(d6 * 2.0);
          const t28 = f(d14 * 8.0);
          const t29 = f(t27 + t28);
          const t30 = f(t23 + t24);
          const t31 = f(t23 - t24);
          const t32 = f(t26 + t29);
          const t33 = f(t26 - t29);
          const t34 = f(d3 + d11);
          const t35 = f(d7 + d15);
          const t36 = f(d11 * 4.0);
          const t37 = f(d3 + t36);
          const t38 = f(d7 * 2.0);
          const t39 = f(d15 * 8.0);
          const t40 = f(t38 + t39);
          const t41 = f(t34 + t35);
          const t42 = f(t34 - t35);
          const t43 = f(t37 + t40);
          const t44 = f(t37 - t40);
          const t45 = f(d0 + d2);
          const t46 = f(d1 + d3);
          const t47 = f(d2 * 4.0);
          const t48 = f(d0 + t47);
          const t49 = f(d1 * 2.0);
          const t50 = f(d3 * 8.0);
          const t51 = f(t49 + t50);
          const t52 = f(t45 + t46);
          const t53 = f(t45 - t46);
          const t54 = f(t48 + t51);
          const t55 = f(t48 - t51);
          const t56 = f(t8 + t30);
          const t57 = f(t19 + t41);
          const t58 = f(t30 * 4.0);
          const t59 = f(t8 + t58);
          const t60 = f(t19 * 2.0);
          const t61 = f(t41 * 8.0);
          const t62 = f(t60 + t61);
          const t63 = f(t56 + t57);
          const t64 = f(t56 - t57);
          const t65 = f(t59 + t62);
          const t66 = f(t59 - t62);
          const t67 = f(t9 + t31);
          const t68 = f(t20 + t42);
          const t69 = f(t31 * 4.0);
          const t70 = f(t9 + t69);
          const t71 = f(t20 * 2.0);
          const t72 = f(t42 * 8.0);
          const t73 = f(t71 + t72);
          const t74 = f(t67 + t68);
          const t75 = f(t67 - t68);
          const t76 = f(t70 + t73);
          const t77 = f(t70 - t73);
          const t78 = f(t10 + t32);
          const t79 = f(t21 + t43);
          const t80 = f(t32 * 4.0);
          const t81 = f(t10 + t80);
          const t82 = f(t21 * 2.0);
          const t83 = f(t43 * 8.0);
          const t84 = f(t82 + t83);
          const t85 = f(t78 + t79);
          const t86 = f(t78 - t79);
          const t87 = f(t81 + t84);
          const t88 = f(t81 - t84);
          const t89 = f(t11 + t33);
          const t90 = f(t22 + t44);
          const t91 = f(t33 * 4.0);
          const t92 = f(t11 + t91);
          const t93 = f(t22 * 2.0);
          const t94 = f(t44 * 8.0);
          const t95 = f(t93 + t94);
          const t96 = f(t89 + t90);
          const t97 = f(t89 - t90);
          const t98 = f(t92 + t95);
          const t99 = f(t92 - t95);
          const t100 = f(d12 + d14);
          const t101 = f(d13 + d15);
          const t102 = f(d14 * 4.0);
          const t103 = f(d12 + t102);
          const t104 = f(d13 * 2.0);
          const t105 = f(d15 * 8.0);
          const t106 = f(t104 + t105);
          const t107 = f(t100 + t101);
          const t108 = f(t100 - t101);
          const t109 = f(t103 + t106);
          const t110 = f(t103 - t106);
          const out = ch * tiles + (b * tilesHigh + ty) * tilesWide + tx;
          w[0 * plane + out] = d0; w[1 * plane + out] = t52; w[2 * plane + out] = t53; w[3 * plane + out] = t54; w[4 * plane + out] = t55; w[5 * plane + out] = d3; w[6 * plane + out] = t8; w[7 * plane + out] = t63; w[8 * plane + out] = t64; w[9 * plane + out] = t65; w[10 * plane + out] = t66; w[11 * plane + out] = t41; w[12 * plane + out] = t9; w[13 * plane + out] = t74; w[14 * plane + out] = t75; w[15 * plane + out] = t76; w[16 * plane + out] = t77; w[17 * plane + out] = t42; w[18 * plane + out] = t10; w[19 * plane + out] = t85; w[20 * plane + out] = t86; w[21 * plane + out] = t87; w[22 * plane + out] = t88; w[23 * plane + out] = t43; w[24 * plane + out] = t11; w[25 * plane + out] = t96; w[26 * plane + out] = t97; w[27 * plane + out] = t98; w[28 * plane + out] = t99; w[29 * plane + out] = t44; w[30 * plane + out] = d12; w[31 * plane + out] = t107; w[32 * plane + out] = t108; w[33 * plane + out] = t109; w[34 * plane + out] = t110; w[35 * plane + out] = d15;
        }
      }
    }
  }
}

/** winograd4_filter_grad_output on arrays: m [36][taps] -> dw [3][3][taps] (G^T m G). */
export function winograd4FilterGradOutputJs(m: Float32Array, dw: Float32Array, taps: number): void {
  for (let e = 0; e < taps; e++) {
    const m0 = m[0 * taps + e]!; const m1 = m[1 * taps + e]!; const m2 = m[2 * taps + e]!; const m3 = m[3 * taps + e]!; const m4 = m[4 * taps + e]!; const m5 = m[5 * taps + e]!; const m6 = m[6 * taps + e]!; const m7 = m[7 * taps + e]!; const m8 = m[8 * taps + e]!; const m9 = m[9 * taps + e]!; const m10 = m[10 * taps + e]!; const m11 = m[11 * taps + e]!; const m12 = m[12 * taps + e]!; const m13 = m[13 * taps + e]!; const m14 = m[14 * taps + e]!; const m15 = m[15 * taps + e]!; const m16 = m[16 * taps + e]!; const m17 = m[17 * taps + e]!; const m18 = m[18 * taps + e]!; const m19 = m[19 * taps + e]!; const m20 = m[20 * taps + e]!; const m21 = m[21 * taps + e]!; const m22 = m[22 * taps + e]!; const m23 = m[23 * taps + e]!; const m24 = m[24 * taps + e]!; const m25 = m[25 * taps + e]!; const m26 = m[26 * taps + e]!; const m27 = m[27 * taps + e]!; const m28 = m[28 * taps + e]!; const m29 = m[29 * taps + e]!; const m30 = m[30 * taps + e]!; const m31 = m[31 * taps + e]!; const m32 = m[32 * taps + e]!; const m33 = m[33 * taps + e]!; const m34 = m[34 * taps + e]!; const m35 = m[35 * taps + e]!;
    const s1 = f(m6 + m12);
    const s2 = f(m6 - m12);
    const s3 = f(m18 + m24);
    const s4 = f(m18 - m24);
    const s5 = f(s1 * -0.1666666716337204);
    const s6 = f(m0 * 0.25);
    const s7 = f(s6 + s5);
    const s8 = f(s3 * 0.0416666679084301);
    const s9 = f(s7 + s8);
    const s10 = f(s2 * -0.1666666716337204);
    const s11 = f(s4 * 0.0833333358168602);
    const s12 = f(s10 + s11);
    const s13 = f(s3 * 0.1666666716337204);
    const s14 = f(s5 + s13);
    const s15 = f(s14 + m30);
    const s16 = f(m7 + m13);
    const s17 = f(m7 - m13);
    const s18 = f(m19 + m25);
    const s19 = f(m19 - m25);
    const s20 = f(s16 * -0.1666666716337204);
    const s21 = f(m1 * 0.25);
    const s22 = f(s21 + s20);
    const s23 = f(s18 * 0.0416666679084301);
    const s24 = f(s22 + s23);
    const s25 = f(s17 * -0.1666666716337204);
    const s26 = f(s19 * 0.0833333358168602);
    const s27 = f(s25 + s26);
    const s28 = f(s18 * 0.1666666716337204);
    const s29 = f(s20 + s28);
    const s30 = f(s29 + m31);
    const s31 = f(m8 + m14);
    const s32 = f(m8 - m14);
    const s33 = f(m20 + m26);
    const s34 = f(m20 - m26);
    const s35 = f(s31 * -0.1666666716337204);
    const s36 = f(m2 * 0.25);
    const s37 = f(s36 + s35);
    const s38 = f(s33 * 0.0416666679084301);
    const s39 = f(s37 + s38);
    const s40 = f(s32 * -0.1666666716337204);
    const s41 = f(s34 * 0.0833333358168602);
    const s42 = f(s40 + s41);
    const s43 = f(s33 * 0.1666666716337204);
    const s44 = f(s35 + s43);
    const s45 = f(s44 + m32);
    const s46 = f(m9 + m15);
    const s47 = f(m9 - m15);
    const s48 = f(m21 + m27);
    const s49 = f(m21 - m27);
    const s50 = f(s46 * -0.1666666716337204);
    const s51 = f(m3 * 0.25);
    const s52 = f(s51 + s50);
    const s53 = f(s48 * 0.0416666679084301);
    const s54 = f(s52 + s53);
    const s55 = f(s47 * -0.1666666716337204);
    const s56 = f(s49 * 0.0833333358168602);
    const s57 = f(s55 + s56);
    const s58 = f(s48 * 0.1666666716337204);
    const s59 = f(s50 + s58);
    const s60 = f(s59 + m33);
    const s61 = f(m10 + m16);
    const s62 = f(m10 - m16);
    const s63 = f(m22 + m28);
    const s64 = f(m22 - m28);
    const s65 = f(s61 * -0.1666666716337204);
    const s66 = f(m4 * 0.25);
    const s67 = f(s66 + s65);
    const s68 = f(s63 * 0.0416666679084301);
    const s69 = f(s67 + s68);
    const s70 = f(s62 * -0.1666666716337204);
    const s71 = f(s64 * 0.0833333358168602);
    const s72 = f(s70 + s71);
    const s73 = f(s63 * 0.1666666716337204);
    const s74 = f(s65 + s73);
    const s75 = f(s74 + m34);
    const s76 = f(m11 + m17);
    const s77 = f(m11 - m17);
    const s78 = f(m23 + m29);
    const s79 = f(m23 - m29);
    const s80 = f(s76 * -0.1666666716337204);
    const s81 = f(m5 * 0.25);
    const s82 = f(s81 + s80);
    const s83 = f(s78 * 0.0416666679084301);
    const s84 = f(s82 + s83);
    const s85 = f(s77 * -0.1666666716337204);
    const s86 = f(s79 * 0.0833333358168602);
    const s87 = f(s85 + s86);
    const s88 = f(s78 * 0.1666666716337204);
    const s89 = f(s80 + s88);
    const s90 = f(s89 + m35);
    const s91 = f(s24 + s39);
    const s92 = f(s24 - s39);
    const s93 = f(s54 + s69);
    const s94 = f(s54 - s69);
    const s95 = f(s91 * -0.1666666716337204);
    const s96 = f(s9 * 0.25);
    const s97 = f(s96 + s95);
    const s98 = f(s93 * 0.0416666679084301);
    const s99 = f(s97 + s98);
    const s100 = f(s92 * -0.1666666716337204);
    const s101 = f(s94 * 0.0833333358168602);
    const s102 = f(s100 + s101);
    const s103 = f(s93 * 0.1666666716337204);
    const s104 = f(s95 + s103);
    const s105 = f(s104 + s84);
    const s106 = f(s27 + s42);
    const s107 = f(s27 - s42);
    const s108 = f(s57 + s72);
    const s109 = f(s57 - s72);
    const s110 = f(s106 * -0.1666666716337204);
    const s111 = f(s12 * 0.25);
    const s112 = f(s111 + s110);
    const s113 = f(s108 * 0.0416666679084301);
    const s114 = f(s112 + s113);
    const s115 = f(s107 * -0.1666666716337204);
    const s116 = f(s109 * 0.0833333358168602);
    const s117 = f(s115 + s116);
    const s118 = f(s108 * 0.1666666716337204);
    const s119 = f(s110 + s118);
    const s120 = f(s119 + s87);
    const s121 = f(s30 + s45);
    const s122 = f(s30 - s45);
    const s123 = f(s60 + s75);
    const s124 = f(s60 - s75);
    const s125 = f(s121 * -0.1666666716337204);
    const s126 = f(s15 * 0.25);
    const s127 = f(s126 + s125);
    const s128 = f(s123 * 0.0416666679084301);
    const s129 = f(s127 + s128);
    const s130 = f(s122 * -0.1666666716337204);
    const s131 = f(s124 * 0.0833333358168602);
    const s132 = f(s130 + s131);
    const s133 = f(s123 * 0.1666666716337204);
    const s134 = f(s125 + s133);
    const s135 = f(s134 + s90);
    dw[0 * taps + e] = s99; dw[1 * taps + e] = s102; dw[2 * taps + e] = s105; dw[3 * taps + e] = s114; dw[4 * taps + e] = s117; dw[5 * taps + e] = s120; dw[6 * taps + e] = s129; dw[7 * taps + e] = s132; dw[8 * taps + e] = s135;
  }
}
