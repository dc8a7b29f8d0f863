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
 * The filter gradient's products are [out x tiles] x [tiles x in], and XNNPACK repacks the second operand for every
 * product (~4.5 ns a float, measured: 25 ms of the 40 ms that one chunk's 16 products take at 5461 tiles, 64 x 64): a
 * cost per (tile, input channel) that only enough output channels pay back. Measured per layer (direct im2col product
 * against Winograd, alternating, 2 threads): 128x32x32x64->64 1.02x, 32x32x32x64->64 0.86x; with 128+ output channels
 * 1.3-2.8x (128x16x16x64->128 1.31x, 128x16x16x128->128 1.56x, 128x8x8x256->256 2.0x, 128x4x4x512->512 2.76x, batch
 * 32 1.35-1.96x).
 */
export const WINOGRAD_FILTER_GRAD_MIN_OUT_CHANNELS = 128;

/** Whether the filter gradient of a convolution of this shape runs as Winograd: winogradApplies, and 128+ output channels unless TEMPER_WINOGRAD=all. */
export function winogradFilterGradApplies(shape: WinogradShape, backend: Backend): boolean {
  return winogradApplies(shape, backend) && (winogradMode() === 'all' || shape.outChannels >= WINOGRAD_FILTER_GRAD_MIN_OUT_CHANNELS);
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

/** Where winogradFilterGradient reads x and dy: the convolution's geometry (computeConv2DInfo's fields it uses). */
export interface WinogradFilterGradientSpec {
  /** [N, OH, OW, out]: dy's shape. */
  outShape: [number, number, number, number];
  padTop: number;
  padLeft: number;
  /** Largest transformed input, transformed dy and products held at once, in floats (tests lower it). */
  chunkFloats?: number;
}

/**
 * dW [3, 3, in, out] of y = conv3x3(x, W) for x [N, H, W, in] and dy [N, OH, OW, out], as Winograd F(2x2, 3x3) run
 * backwards: for each 2x2 tile of dy and the 4x4 tile of x under it, the 3x3 block of dW it adds is
 * G^T [(A dy A^T) . (B^T d B)] G (the forward's <dy, A^T [(G g G^T) . (B^T d B)] A> read as a function of g), and the
 * sum over tiles moves inside: 16 products [out x tiles] x [tiles x in] between an input transform (the forward's, on
 * the same tiles) and one output transform. dy goes to channel planes first (a transpose), so that its transform runs
 * four tiles at a time and writes the [out][tiles] rows the products need with no transposed operand.
 */
export function winogradFilterGradient(backend: Backend, x: tf.TensorInfo, dy: tf.TensorInfo, spec: WinogradFilterGradientSpec): tf.TensorInfo {
  const simd = simdKernels(backend)!;
  const [batch, height, width, inChannels] = x.shape as [number, number, number, number];
  const [, outHeight, outWidth, outChannels] = spec.outShape;
  const tilesHigh = Math.ceil(outHeight / 2);
  const tilesWide = Math.ceil(outWidth / 2);
  const tilesPerImage = tilesHigh * tilesWide;
  // dy's planes, padded so that every tile row reads whole groups of four tiles (zeros past the real dy).
  const planeRows = 2 * tilesHigh;
  const planeCols = 8 * Math.ceil(tilesWide / 4);
  const padded = planeRows !== outHeight || planeCols !== outWidth;
  const chunkFloats = spec.chunkFloats ?? DEFAULT_WINOGRAD_CHUNK_FLOATS;
  const perImage = 16 * tilesPerImage * (inChannels + outChannels) + 2 * outHeight * outWidth * outChannels;
  const chunk = Math.max(1, Math.min(batch, Math.floor(chunkFloats / perImage)));
  const taps = inChannels * outChannels;

  const sum = backend.makeOutput([16, outChannels, inChannels], 'float32');
  const v = backend.makeOutput([16, chunk * tilesPerImage, inChannels], 'float32');
  const w = backend.makeOutput([16, outChannels, chunk * tilesPerImage], 'float32');
  const planes = backend.makeOutput([outChannels, chunk * planeRows * planeCols], 'float32');
  const flat = padded ? backend.makeOutput([outChannels, chunk * outHeight * outWidth], 'float32') : planes;
  const zeros = backend.makeOutput([inChannels], 'float32');
  const geometry = backend.makeOutput([9], 'int32');
  heapFloat32(backend, zeros).fill(0);
  heapFloat32(backend, sum).fill(0);
  if (padded) heapFloat32(backend, planes).fill(0);
  const imageIn = 4 * height * width * inChannels;
  const imageDy = 4 * outHeight * outWidth * outChannels;
  for (let start = 0; start < batch; start += chunk) {
    const count = Math.min(chunk, batch - start);
    const tiles = count * tilesPerImage;
    (backend.typedArrayFromHeap(geometry) as Int32Array).set([count, height, width, inChannels, tilesHigh, tilesWide, spec.padTop, spec.padLeft, tiles]);
    simd.winograd_input(heapOffset(backend, x) + start * imageIn, heapOffset(backend, v), heapOffset(backend, zeros), heapOffset(backend, geometry));
    const positions = count * outHeight * outWidth;
    simd.transpose(heapOffset(backend, dy) + start * imageDy, heapOffset(backend, flat), positions, outChannels);
    if (padded) padPlanes(heapFloat32(backend, flat), heapFloat32(backend, planes), outChannels * count, outHeight, outWidth, planeRows, planeCols);
    (backend.typedArrayFromHeap(geometry) as Int32Array).set([outChannels, count, planeRows, planeCols, tilesHigh, tilesWide]);
    simd.winograd_dy_planes(heapOffset(backend, planes), heapOffset(backend, w), heapOffset(backend, geometry));
    for (let xi = 0; xi < 16; xi++) {
      // The chunk's w and v are packed for `tiles` rows: product xi reads its own plane of each.
      const a = heapView(backend, w, xi * outChannels * tiles, [outChannels, tiles]);
      const b = heapView(backend, v, xi * tiles * inChannels, [tiles, inChannels]);
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
  simd.winograd_filter_grad_output(heapOffset(backend, sum), heapOffset(backend, kc), taps);
  const dw = backend.makeOutput([3, 3, inChannels, outChannels], 'float32');
  for (let k = 0; k < 9; k++) {
    simd.transpose(heapOffset(backend, kc) + 4 * k * taps, heapOffset(backend, dw) + 4 * k * taps, outChannels, inChannels);
  }
  for (const t of [sum, v, w, planes, ...(padded ? [flat] : []), zeros, geometry, kc]) backend.disposeData(t.dataId);
  return dw;
}

/** [planes][rows][cols] -> [planes][planeRows][planeCols], each plane's rows copied to the top left (the rest stays zero). */
function padPlanes(from: Float32Array, to: Float32Array, planeCount: number, rows: number, cols: number, planeRows: number, planeCols: number): void {
  for (let p = 0; p < planeCount; p++) {
    for (let r = 0; r < rows; r++) {
      const src = (p * rows + r) * cols;
      to.set(from.subarray(src, src + cols), (p * planeRows + r) * planeCols);
    }
  }
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
