// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions on wasm (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): each 2x2 block of outputs comes from a 4x4 input tile as A^T [(G g G^T) . (B^T d B)] A, so over
// all tiles and channels the convolution is 16 independent matrix products [tiles x in] x [in x out] (2.25x fewer
// multiplications than the direct convolution's 9 per output, input and output channel), between an input transform
// and an output transform. The transforms are WebAssembly SIMD (simd/kernels.wat); the products are the backend's
// XNNPACK matrix product on views of the transformed data. Results differ from the direct convolution's at rounding
// level (the transforms add and subtract before multiplying). TEMPER_WINOGRAD=0 turns it off.
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels } from './simd/index.js';
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

/** TEMPER_WINOGRAD: '0' never, 'all' every 3x3 stride-1 convolution whose channels are a multiple of 4 (tests and measurements), anything else where it pays. */
function winogradMode(): 'off' | 'all' | 'auto' {
  const value = process.env['TEMPER_WINOGRAD'];
  return value === '0' ? 'off' : value === 'all' ? 'all' : 'auto';
}

/**
 * Whether a convolution of this shape runs as Winograd on this backend: 3x3, stride 1, undilated, channels a multiple
 * of 4 and at least WINOGRAD_MIN_CHANNELS, at least WINOGRAD_MIN_PRODUCT_MACS per product, SIMD kernels available.
 */
export function winogradApplies(shape: WinogradShape, backend: Backend): boolean {
  const mode = winogradMode();
  if (mode === 'off') return false;
  const large = Math.min(shape.inChannels, shape.outChannels) >= WINOGRAD_MIN_CHANNELS
    && shape.batchSize * Math.ceil(shape.outHeight / 2) * Math.ceil(shape.outWidth / 2) * shape.inChannels * shape.outChannels >= WINOGRAD_MIN_PRODUCT_MACS;
  return (mode === 'all' || large)
    && shape.filterHeight === 3 && shape.filterWidth === 3
    && shape.strideHeight === 1 && shape.strideWidth === 1
    && shape.dilationHeight === 1 && shape.dilationWidth === 1
    && shape.inChannels % 4 === 0 && shape.outChannels % 4 === 0
    && simdKernels(backend) !== undefined;
}

/**
 * The transformed filter [16, in, out] of `filter` [3, 3, in, out] (G g G^T per channel pair). `transposed`: the
 * filter of the input gradient instead, [16, out, in]: rotated by 180 degrees, input and output channels swapped.
 */
export function transformFilter(backend: Backend, filter: tf.TensorInfo, transposed: boolean): tf.TensorInfo {
  const simd = simdKernels(backend)!;
  const [, , inChannels, outChannels] = filter.shape as [number, number, number, number];
  const taps = inChannels * outChannels;
  if (!transposed) {
    const u = backend.makeOutput([16, inChannels, outChannels], 'float32');
    simd.winograd_filter(heapOffset(backend, filter), heapOffset(backend, u), taps, 0);
    return u;
  }
  const swapped = backend.makeOutput([3, 3, outChannels, inChannels], 'float32');
  const u = backend.makeOutput([16, outChannels, inChannels], 'float32');
  for (let k = 0; k < 9; k++) {
    simd.transpose(heapOffset(backend, filter) + 4 * k * taps, heapOffset(backend, swapped) + 4 * k * taps, inChannels, outChannels);
  }
  simd.winograd_filter(heapOffset(backend, swapped), heapOffset(backend, u), taps, 1);
  backend.disposeData(swapped.dataId);
  return u;
}

/** What winogradConv computes besides the input: the transformed filter, the output's shape and padding, bias, ReLU. */
export interface WinogradConvSpec {
  /** transformFilter's output, [16, in, out]. */
  u: tf.TensorInfo;
  /** [N, OH, OW, out]. */
  outShape: [number, number, number, number];
  /** Zero rows above and columns left of the input (the first output reads input row -padTop, column -padLeft). */
  padTop: number;
  padLeft: number;
  /** [out] added to every output, or none. */
  bias?: tf.TensorInfo;
  relu: boolean;
  /** Largest transformed input plus products held at once, in floats (tests lower it to exercise chunking). */
  chunkFloats?: number;
}

/** y = conv3x3(x, g) (+ bias, ReLU) for x [N, H, W, in] NHWC, given g's transform; zeros outside x. */
export function winogradConv(backend: Backend, x: tf.TensorInfo, spec: WinogradConvSpec): tf.TensorInfo {
  const simd = simdKernels(backend)!;
  const [batch, height, width, inChannels] = x.shape as [number, number, number, number];
  const [, outHeight, outWidth, outChannels] = spec.outShape;
  const tilesHigh = Math.ceil(outHeight / 2);
  const tilesWide = Math.ceil(outWidth / 2);
  const tilesPerImage = tilesHigh * tilesWide;
  const chunkFloats = spec.chunkFloats ?? DEFAULT_WINOGRAD_CHUNK_FLOATS;
  const chunk = Math.max(1, Math.min(batch, Math.floor(chunkFloats / (16 * tilesPerImage * (inChannels + outChannels)))));

  const y = backend.makeOutput(spec.outShape, 'float32');
  const v = backend.makeOutput([16, chunk * tilesPerImage, inChannels], 'float32');
  // Zeros for cells outside the input, zeros for a missing bias, and a sink for outputs past the edge.
  const scratch = backend.makeOutput([inChannels + 2 * outChannels], 'float32');
  const geometry = backend.makeOutput([9], 'int32');
  const table = backend.makeOutput([16], 'int32');
  heapFloat32(backend, scratch).fill(0);
  const zeros = heapOffset(backend, scratch);
  const noBias = zeros + 4 * inChannels;
  const sink = noBias + 4 * outChannels;
  const uViews = Array.from({ length: 16 }, (_, xi) => heapView(backend, spec.u, xi * inChannels * outChannels, [inChannels, outChannels]));
  const imageIn = 4 * height * width * inChannels;
  const imageOut = 4 * outHeight * outWidth * outChannels;
  for (let start = 0; start < batch; start += chunk) {
    const count = Math.min(chunk, batch - start);
    const tiles = count * tilesPerImage;
    (backend.typedArrayFromHeap(geometry) as Int32Array).set([count, height, width, inChannels, tilesHigh, tilesWide, spec.padTop, spec.padLeft, tiles]);
    simd.winograd_input(heapOffset(backend, x) + start * imageIn, heapOffset(backend, v), zeros, heapOffset(backend, geometry));
    const products: tf.TensorInfo[] = [];
    for (let xi = 0; xi < 16; xi++) {
      const a = heapView(backend, v, xi * tiles * inChannels, [tiles, inChannels]);
      products.push(runWasmKernel(tf.BatchMatMul, backend, { a, b: uViews[xi]! }, { transposeA: false, transposeB: false }));
      disposeHeapView(backend, a);
    }
    (backend.typedArrayFromHeap(table) as Int32Array).set(products.map((p) => heapOffset(backend, p)));
    (backend.typedArrayFromHeap(geometry) as Int32Array).set([count, outHeight, outWidth, outChannels, tilesHigh, tilesWide, spec.relu ? 1 : 0]);
    simd.winograd_output(
      heapOffset(backend, table), heapOffset(backend, y) + start * imageOut,
      spec.bias ? heapOffset(backend, spec.bias) : noBias, sink, heapOffset(backend, geometry));
    for (const p of products) backend.disposeData(p.dataId);
  }
  for (const view of uViews) disposeHeapView(backend, view);
  for (const t of [v, scratch, geometry, table]) backend.disposeData(t.dataId);
  return y;
}

// JavaScript twins of the three SIMD transforms, float32 rounding at every step: the tests compare them bit for bit.
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
