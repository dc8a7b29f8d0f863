// Winograd F(2x2, 3x3) on wasm (src/backend/kernels/winograd.ts): the SIMD transforms equal their JavaScript twins bit
// for bit; the forward convolution, the input gradient and the filter gradient equal the cpu backend's within error
// bounds derived for the algorithm; the size threshold picks the layers it was measured to speed up; nothing leaks; the same inputs give
// the same bits at 1 and 2 threads; a few training steps give the losses of the direct convolution within rounding.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { FUSED_CONV } from '../src/backend/kernels/fused-conv.js';
import { heapOffset, simdKernels } from '../src/backend/kernels/simd/index.js';
import {
  WINOGRAD_MIN_CHANNELS,
  WINOGRAD_FUSED_MIN_CHANNELS,
  WINOGRAD_FILTER_GRAD_MAX_PARTS,
  filterGradParts,
  filterGradFuses,
  winogradFuses,
  transformFilter,
  WINOGRAD_FILTER_GRAD_MIN_OUT_CHANNELS,
  winogradApplies,
  winogradConv,
  winogradDyPlanesJs,
  winogradFilterGradApplies,
  filterGradTile,
  winogradFilterGradient,
  winogradFilterGradOutputJs,
  winogradFilterJs,
  winograd4DyPlanesJs,
  winograd4FilterGradOutputJs,
  winograd4FilterJs,
  winograd4InputJs,
  winograd4OutputJs,
  WINOGRAD4_MIN_TILES,
  forwardTile,
  WINOGRAD_EDGE_MIN_CHANNELS,
  checkWinogradEnv,
  winogradInputJs,
  winogradOutputJs,
  type WinogradShape,
} from '../src/backend/kernels/winograd.js';
import { bits, distUrl, runNodeScript, seededValues, TFJS_URL, wasmBackend } from './helpers.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function withEnv<T>(name: string, value: string, run: () => T): T {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return run();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}
const withWinograd = <T>(mode: string, run: () => T): T => withEnv('TEMPER_WINOGRAD', mode, run);

// The algorithm's transforms with absolute values (|B^T|, |G|, |A^T|): the error bound below runs them on |x| and |g|.
const ABS_BT = [[1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]];
const ABS_G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0, 0, 1]];
const ABS_AT = [[1, 1, 1, 0], [0, 1, 1, 1]];

/**
 * One Winograd algorithm as the bounds need it: its block size, its transforms in absolute value, and the most
 * float32 roundings on any path from the inputs to an output besides the sum over input channels (see errorBound).
 */
interface WinogradForm {
  tile: 2 | 4;
  absBT: number[][];
  absG: number[][];
  absAT: number[][];
  roundings: number;
  /** The same for the filter gradient, besides the sum over tiles (see filterGradBound). */
  filterGradRoundings: number;
}
const F2: WinogradForm = { tile: 2, absBT: ABS_BT, absG: ABS_G, absAT: ABS_AT, roundings: 12, filterGradRoundings: 8 };
/**
 * F(4x4, 3x3) as winograd.ts computes it. Roundings per direction: the input transform 3 (e.g. (4 d0 + d4) - 5 d2:
 * an addition, a multiplication by 5 and a subtraction; multiplications by 2 and 4 are exact), the filter transform 4
 * (e.g. ((g0 + g2) + g1) * (-1/6): two additions, the multiplication, and 1/6's own rounding), the output transform 3
 * (e.g. ((m1 - m2) + 8 (m3 - m4)) + m5): 6 + 8 + 6 in two dimensions, plus the product and the bias: 22.
 */
const F4: WinogradForm = {
  tile: 4,
  absBT: [[4, 0, 5, 0, 1, 0], [0, 4, 4, 1, 1, 0], [0, 4, 4, 1, 1, 0], [0, 2, 1, 2, 1, 0], [0, 2, 1, 2, 1, 0], [0, 4, 0, 5, 0, 1]],
  absG: [[1 / 4, 0, 0], [1 / 6, 1 / 6, 1 / 6], [1 / 6, 1 / 6, 1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, 1 / 12, 1 / 6], [0, 0, 1]],
  absAT: [[1, 1, 1, 1, 1, 0], [0, 1, 1, 2, 2, 0], [0, 1, 1, 4, 4, 0], [0, 1, 1, 8, 8, 1]],
  roundings: 22,
  // Filter gradient: B^T d B 6; A dy A^T 2 per direction ((d0 + 4 d2) + (2 d1 + 8 d3)), 4; the product 1; G^T m G 6
  // per direction ((m0 / 4 + (m1 + m2) (-1/6)) + (m3 + m4) (1/24): additions, multiplications, 1/6's and 1/24's own
  // rounding), 12: 23, taken as 26.
  filterGradRoundings: 26,
};

/**
 * out[(a * size + c) * stride + offset] = sum over p, q < taps of coef(a, p) * at(p, q) * coef(c, q): a 2-D transform
 * M T M^T of a taps x taps tile `at` with M = coef (size x taps), in float64, for the bounds below.
 */
function transform2d(coef: (a: number, p: number) => number, size: number, taps: number, at: (p: number, q: number) => number, out: Float64Array, stride: number, offset: number): void {
  for (let a = 0; a < size; a++) {
    for (let c = 0; c < size; c++) {
      let sum = 0;
      for (let p = 0; p < taps; p++) for (let q = 0; q < taps; q++) sum += coef(a, p) * at(p, q) * coef(c, q);
      out[(a * size + c) * stride + offset] = sum;
    }
  }
}

/**
 * Per output element (NHWC, float64): W = sum over input channels of |A^T| [(|G| |g| |G^T|) . (|B^T| |d| |B|)] |A|,
 * plus |bias|; and M = (|x| conv |g|) + |bias|, the direct convolution of the absolute values.
 *
 * The tolerance is the first-order forward error bound of each computation, u = 2^-24 (float32 rounding):
 * - Winograd: every element of B^T d B is one addition of two terms per direction (2 roundings); of G g G^T, two
 *   additions and an exact halving per direction (4); the product U V (1) summed over `in` channels in any order
 *   (in - 1); A^T m A, two additions per direction (4), and the bias (1): at most (in + 11) u W in all.
 * - The cpu backend's direct convolution, 9 in products summed in some order, plus the bias: (9 in + 1) u M.
 * So |wasm - cpu| <= (in + 12) u W + (9 in + 1) u M. Measured errors reach 0.04-4% of it (the bound adds every
 * rounding with the same sign, real ones cancel). A wrong transform, tile or padding gives errors of the size of the
 * outputs themselves, orders of magnitude above it.
 */
function errorBound(
  x: Float32Array, [n, h, w, ci]: Shape4, g: Float32Array, co: number, padTop: number, padLeft: number,
  [, oh, ow]: Shape4, bias: Float32Array | undefined, form: WinogradForm = F2,
): Float64Array {
  const { tile, absBT, absG, absAT } = form;
  const size = tile + 2;
  const points = size * size;
  const out = new Float64Array(n * oh * ow * co);
  const tilesHigh = Math.ceil(oh / tile);
  const tilesWide = Math.ceil(ow / tile);
  // |G| |g| |G^T| per (in, out) channel pair, once.
  const u = new Float64Array(ci * co * points);
  for (let i = 0; i < ci; i++) {
    for (let o = 0; o < co; o++) {
      transform2d((a, r) => absG[a]![r]!, size, 3, (r, s) => Math.abs(g[((r * 3 + s) * ci + i) * co + o]!), u, 1, (i * co + o) * points);
    }
  }
  const v = new Float64Array(points);
  const m = new Float64Array(co * points);
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++) {
        m.fill(0);
        for (let i = 0; i < ci; i++) {
          const d = (p: number, q: number): number => {
            const ih = tile * ty - padTop + p;
            const iw = tile * tx - padLeft + q;
            return ih >= 0 && ih < h && iw >= 0 && iw < w ? Math.abs(x[((b * h + ih) * w + iw) * ci + i]!) : 0;
          };
          transform2d((a, p) => absBT[a]![p]!, size, size, d, v, 1, 0);
          for (let o = 0; o < co; o++) for (let k = 0; k < points; k++) m[o * points + k]! += u[(i * co + o) * points + k]! * v[k]!;
        }
        for (let r = 0; r < tile; r++) {
          for (let c = 0; c < tile; c++) {
            const oy = tile * ty + r;
            const ox = tile * tx + c;
            if (oy >= oh || ox >= ow) continue;
            for (let o = 0; o < co; o++) {
              let sum = bias ? Math.abs(bias[o]!) : 0;
              for (let a = 0; a < size; a++) for (let e = 0; e < size; e++) sum += absAT[r]![a]! * m[o * points + a * size + e]! * absAT[c]![e]!;
              out[((b * oh + oy) * ow + ox) * co + o] = sum;
            }
          }
        }
      }
    }
  }
  return out;
}

/** |x| conv |g| + |bias| (float64), the magnitude the cpu backend's own rounding scales with. */
function directMagnitude(
  x: Float32Array, [n, h, w, ci]: Shape4, g: Float32Array, co: number, padTop: number, padLeft: number,
  [, oh, ow]: Shape4, bias: Float32Array | undefined,
): Float64Array {
  const out = new Float64Array(n * oh * ow * co);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let z = 0; z < ow; z++) {
        for (let o = 0; o < co; o++) {
          let sum = bias ? Math.abs(bias[o]!) : 0;
          for (let r = 0; r < 3; r++) {
            for (let s = 0; s < 3; s++) {
              const ih = y - padTop + r;
              const iw = z - padLeft + s;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              for (let i = 0; i < ci; i++) sum += Math.abs(x[((b * h + ih) * w + iw) * ci + i]! * g[((r * 3 + s) * ci + i) * co + o]!);
            }
          }
          out[((b * oh + y) * ow + z) * co + o] = sum;
        }
      }
    }
  }
  return out;
}

/** Asserts |got - want| <= (in + roundings) u W + (9 in + 1) u M elementwise; returns the largest error / tolerance seen. */
function assertWithinBound(
  got: Float32Array, want: Float32Array, w: Float64Array, m: Float64Array, inChannels: number, what: string, form: WinogradForm = F2,
): number {
  assert.equal(got.length, want.length, `${what}: length`);
  const unit = 2 ** -24;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const tolerance = (inChannels + form.roundings) * unit * w[i]! + (9 * inChannels + 1) * unit * m[i]!;
    const error = Math.abs(got[i]! - want[i]!);
    if (!(error <= tolerance)) assert.fail(`${what}: element ${i} is ${got[i]}, cpu gives ${want[i]} (error ${error} > bound ${tolerance})`);
    worst = Math.max(worst, error / tolerance);
  }
  return worst;
}

/**
 * The filter gradient's bound, per element of dW [3][3][in][out] (float64): W = |G^T| [sum over tiles of
 * (|A| |dy| |A^T|) . (|B^T| |d| |B|)] |G|, and M = sum over positions of |x| |dy| (what the cpu backend adds up).
 * Roundings, Winograd: B^T d B 2, A dy A^T 2 (one addition per direction each), the product 1, the sum over T tiles
 * in any order (chunks included) T - 1, G^T m G 4 (an addition and an exact halving, then an addition, per
 * direction): (T + 8) u W. The cpu's direct sum over P positions: P u M.
 */
function filterGradBound(
  x: Float32Array, [n, h, w, ci]: Shape4, dy: Float32Array, [, oh, ow, co]: Shape4, padTop: number, padLeft: number,
  form: WinogradForm = F2,
): { w: Float64Array; m: Float64Array; tiles: number; positions: number; roundings: number } {
  const { tile, absBT, absG, absAT } = form;
  const size = tile + 2;
  const points = size * size;
  const tilesHigh = Math.ceil(oh / tile);
  const tilesWide = Math.ceil(ow / tile);
  const sum = new Float64Array(points * ci * co);
  const v = new Float64Array(points * ci);
  const e = new Float64Array(points * co);
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++) {
        for (let i = 0; i < ci; i++) {
          const d = (p: number, q: number): number => {
            const ih = tile * ty - padTop + p;
            const iw = tile * tx - padLeft + q;
            return ih >= 0 && ih < h && iw >= 0 && iw < w ? Math.abs(x[((b * h + ih) * w + iw) * ci + i]!) : 0;
          };
          transform2d((a, p) => absBT[a]![p]!, size, size, d, v, ci, i);
        }
        for (let o = 0; o < co; o++) {
          const g = (p: number, q: number): number => {
            const oy = tile * ty + p;
            const ox = tile * tx + q;
            return oy < oh && ox < ow ? Math.abs(dy[((b * oh + oy) * ow + ox) * co + o]!) : 0;
          };
          // |A| = |A^T| transposed.
          transform2d((a, p) => absAT[p]![a]!, size, tile, g, e, co, o);
        }
        for (let k = 0; k < points; k++) {
          for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) sum[(k * ci + i) * co + o]! += v[k * ci + i]! * e[k * co + o]!;
        }
      }
    }
  }
  const wBound = new Float64Array(9 * ci * co);
  const mBound = new Float64Array(9 * ci * co);
  for (let r = 0; r < 3; r++) {
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) {
          let total = 0;
          for (let a = 0; a < size; a++) for (let c = 0; c < size; c++) total += absG[a]![r]! * sum[((a * size + c) * ci + i) * co + o]! * absG[c]![s]!;
          wBound[((r * 3 + s) * ci + i) * co + o] = total;
          let direct = 0;
          for (let b = 0; b < n; b++) {
            for (let oy = 0; oy < oh; oy++) {
              for (let ox = 0; ox < ow; ox++) {
                const ih = oy - padTop + r;
                const iw = ox - padLeft + s;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                direct += Math.abs(x[((b * h + ih) * w + iw) * ci + i]! * dy[((b * oh + oy) * ow + ox) * co + o]!);
              }
            }
          }
          mBound[((r * 3 + s) * ci + i) * co + o] = direct;
        }
      }
    }
  }
  return { w: wBound, m: mBound, tiles: n * tilesHigh * tilesWide, positions: n * oh * ow, roundings: form.filterGradRoundings };
}

/** Asserts |got - want| <= (tiles + roundings) u W + positions u M elementwise (filterGradBound); returns the largest error / tolerance. */
function assertFilterGradWithinBound(got: Float32Array, want: Float32Array, bound: ReturnType<typeof filterGradBound>, what: string): number {
  assert.equal(got.length, want.length, `${what}: length`);
  const unit = 2 ** -24;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const tolerance = (bound.tiles + bound.roundings) * unit * bound.w[i]! + bound.positions * unit * bound.m[i]!;
    const error = Math.abs(got[i]! - want[i]!);
    if (!(error <= tolerance)) assert.fail(`${what}: element ${i} is ${got[i]}, cpu gives ${want[i]} (error ${error} > bound ${tolerance})`);
    worst = Math.max(worst, error / tolerance);
  }
  return worst;
}

/** The explicit [top, bottom, left, right] padding of a 3x3 stride-1 convolution, and its output shape. */
function geometry(x: Shape4, co: number, pad: Pad): { top: number; left: number; outShape: Shape4 } {
  const info = tf.backend_util.computeConv2DInfo(x, [3, 3, x[3], co], 1, 1, pad, undefined, false, 'channelsLast');
  return { top: info.padInfo.top, left: info.padInfo.left, outShape: info.outShape as Shape4 };
}

interface Case {
  x: Shape4;
  co: number;
  pad: Pad;
  activation: 'relu' | 'linear';
  bias: boolean;
}

// Odd and even heights and widths (partial tiles at the bottom and right), 'same', 'valid' and uneven explicit padding,
// 1-3 images, channel counts from the SIMD minimum (4) past WINOGRAD_MIN_CHANNELS.
const cases: Case[] = [
  { x: [1, 5, 6, 4], co: 8, pad: 'same', activation: 'relu', bias: true },
  { x: [3, 7, 7, 12], co: 4, pad: 'valid', activation: 'linear', bias: false },
  { x: [2, 8, 9, 16], co: 20, pad: 'same', activation: 'linear', bias: true },
  { x: [1, 6, 5, 8], co: 8, pad: [[0, 0], [2, 1], [0, 2], [0, 0]], activation: 'relu', bias: false },
  { x: [2, 4, 4, WINOGRAD_MIN_CHANNELS], co: WINOGRAD_MIN_CHANNELS, pad: 'same', activation: 'relu', bias: true },
  { x: [1, 3, 3, 2 * WINOGRAD_MIN_CHANNELS], co: 36, pad: 'valid', activation: 'linear', bias: true },
  { x: [2, 11, 10, WINOGRAD_MIN_CHANNELS - 4], co: 12, pad: 'same', activation: 'relu', bias: true },
];
const describeCase = (c: Case): string => `x [${c.x}] -> ${c.co}, ${JSON.stringify(c.pad)}, ${c.activation}${c.bias ? ', bias' : ''}`;

describe('Winograd F(2x2, 3x3) and F(4x4, 3x3) on wasm', () => {
  let backend: BackendWasm;
  before(async () => {
    await wasmBackend();
    backend = tf.backend() as unknown as BackendWasm;
  });
  after(async () => {
    await tf.setBackend('wasm');
  });

  // Each form's transforms against their JavaScript twins: the filter in both orientations; the input on partial
  // tiles, 'valid', the input gradient's padding of 2, and (F(4x4)) a 3x3 image in one tile; the output with edges
  // past the image, with and without bias and ReLU.
  const twinForms = [
    {
      tile: 2, filter: 'winograd_filter', input: 'winograd_input', output: 'winograd_output',
      filterJs: winogradFilterJs, inputJs: winogradInputJs, outputJs: winogradOutputJs, seed: 1,
      inputs: [[[2, 5, 7, 8], 1, 1, 5, 7], [[2, 6, 6, 8], 0, 0, 4, 4], [[2, 5, 7, 8], 2, 2, 7, 9]],
      outputs: [[[2, 5, 3, 12], true, true], [[2, 5, 3, 12], false, false]],
    },
    {
      tile: 4, filter: 'winograd4_filter', input: 'winograd4_input', output: 'winograd4_output',
      filterJs: winograd4FilterJs, inputJs: winograd4InputJs, outputJs: winograd4OutputJs, seed: 61,
      inputs: [[[2, 7, 9, 8], 1, 1, 7, 9], [[1, 10, 6, 4], 0, 0, 8, 4], [[2, 5, 7, 8], 2, 2, 7, 9], [[3, 3, 3, 12], 1, 1, 3, 3]],
      outputs: [[[2, 5, 7, 12], true, true], [[1, 8, 3, 4], false, false], [[2, 6, 6, 8], true, false]],
    },
  ] as const;
  for (const form of twinForms) {
    it(`the F(${form.tile}x${form.tile}, 3x3) SIMD filter, input and output transforms equal their JavaScript twins bit for bit`, () => {
      const simd = simdKernels(backend);
      assert.ok(simd, 'the SIMD kernels load');
      const heap = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
      const out = (shape: number[]) => backend.makeOutput(shape, 'float32');
      const points = (form.tile + 2) ** 2;
      const free: tf.TensorInfo[] = [];
      for (const flip of [0, 1]) {
        const g = tf.tensor(seededValues(9 * 96, form.seed), [3, 3, 8, 12]);
        const u = out([points, 96]);
        simd[form.filter](heapOffset(backend, g), heapOffset(backend, u), 96, flip);
        const want = new Float32Array(points * 96);
        form.filterJs(heap(g), want, 96, flip === 1);
        assert.equal(bits(heap(u)), bits(want), `filter transform, flip ${flip}`);
        free.push(g, u);
      }
      for (const [shape, padTop, padLeft, outH, outW] of form.inputs) {
        const tilesHigh = Math.ceil(outH / form.tile);
        const tilesWide = Math.ceil(outW / form.tile);
        const tiles = shape[0] * tilesHigh * tilesWide;
        const channels = shape[3];
        const x = tf.tensor(seededValues(sizeOf([...shape]), form.seed + 1), [...shape]);
        const zeros = out([channels]);
        heap(zeros).fill(0);
        const want = new Float32Array(points * tiles * channels);
        form.inputJs(heap(x), want, [...shape], tilesHigh, tilesWide, padTop, padLeft);
        // Planes right after each other, then 16 floats apart more (as paddedPlane spaces them); a NaN fill shows any
        // value the kernel did not write, or wrote into the gaps.
        for (const gap of [0, 16]) {
          const plane = tiles * channels + gap;
          const v = out([points * plane]);
          heap(v).fill(NaN);
          const geometryInfo = backend.makeOutput([9], 'int32');
          (backend.typedArrayFromHeap(geometryInfo) as Int32Array).set([...shape, tilesHigh, tilesWide, padTop, padLeft, plane]);
          simd[form.input](heapOffset(backend, x), heapOffset(backend, v), heapOffset(backend, zeros), heapOffset(backend, geometryInfo));
          const got = heap(v);
          const planes = new Float32Array(points * tiles * channels);
          for (let xi = 0; xi < points; xi++) planes.set(got.subarray(xi * plane, xi * plane + tiles * channels), xi * tiles * channels);
          assert.equal(bits(planes), bits(want), `input transform, [${shape}], pad ${padTop}, ${padLeft}, planes ${gap} floats apart`);
          assert.ok(got.every((value, i) => (i % plane < tiles * channels) !== Number.isNaN(value)), 'the gaps stay unwritten');
          free.push(v, geometryInfo);
        }
        free.push(x, zeros);
      }
      for (const [yShape, relu, withBias] of form.outputs) {
        const tilesHigh = Math.ceil(yShape[1] / form.tile);
        const tilesWide = Math.ceil(yShape[2] / form.tile);
        const tiles = yShape[0] * tilesHigh * tilesWide;
        const channels = yShape[3];
        const m = tf.tensor(seededValues(points * tiles * channels, form.seed + 2), [points, tiles, channels]);
        const bias = tf.tensor(seededValues(channels, form.seed + 3));
        const y = out([...yShape]);
        const scratch = out([2 * channels]);
        heap(scratch).fill(0);
        const table = backend.makeOutput([points], 'int32');
        (backend.typedArrayFromHeap(table) as Int32Array).set(Array.from({ length: points }, (_, k) => heapOffset(backend, m) + 4 * k * tiles * channels));
        const geometryInfo = backend.makeOutput([7], 'int32');
        (backend.typedArrayFromHeap(geometryInfo) as Int32Array).set([...yShape, tilesHigh, tilesWide, relu ? 1 : 0]);
        simd[form.output](
          heapOffset(backend, table), heapOffset(backend, y), withBias ? heapOffset(backend, bias) : heapOffset(backend, scratch),
          heapOffset(backend, scratch) + 4 * channels, heapOffset(backend, geometryInfo));
        const want = new Float32Array(sizeOf([...yShape]));
        form.outputJs(heap(m), want, withBias ? heap(bias) : undefined, [...yShape], relu);
        assert.equal(bits(heap(y)), bits(want), `output transform, [${yShape}], relu ${relu}, bias ${withBias}`);
        free.push(m, bias, y, scratch, table, geometryInfo);
      }
      for (const t of free) backend.disposeData(t.dataId);
    });
  }

  for (const [c, form] of cases.flatMap((c) => [[c, F2], [c, F4]] as const)) {
    it(`the forward convolution and the input gradient of F(${form.tile}x${form.tile}, 3x3) equal the cpu backend's within the error bound: ${describeCase(c)}`, async (t) => {
      const { top, left, outShape } = geometry(c.x, c.co, c.pad);
      const filterShape: Shape4 = [3, 3, c.x[3], c.co];
      const x = seededValues(sizeOf(c.x), 11);
      const g = seededValues(sizeOf(filterShape), 12);
      const bias = c.bias ? seededValues(c.co, 13) : undefined;
      const dy = seededValues(sizeOf(outShape), 14);
      const conv = (fused: boolean): Float32Array[] => {
        const results = tf.tidy(() => {
          const xt = tf.tensor4d(x, c.x);
          const gt = tf.tensor4d(g, filterShape);
          const bt = bias ? tf.tensor1d(bias) : undefined;
          let y: tf.Tensor;
          if (fused) {
            y = tf.engine().runKernel(FUSED_CONV, { x: xt, filter: gt, ...(bt ? { bias: bt } : {}) },
              { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], activation: c.activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
          } else {
            const z = bt ? tf.add(tf.conv2d(xt, gt, 1, c.pad), bt) : tf.conv2d(xt, gt, 1, c.pad);
            y = c.activation === 'relu' ? tf.relu(z) : z;
          }
          const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor4d(dy, outShape), filter: gt },
            { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
          return [y, dx];
        });
        return results.map((t) => {
          const values = t.dataSync() as Float32Array;
          t.dispose();
          return values;
        });
      };
      await tf.setBackend('cpu');
      const [yCpu, dxCpu] = conv(false);
      await tf.setBackend('wasm');
      const [yWino, dxWino] = withEnv('TEMPER_WINOGRAD_TILE', String(form.tile), () => withWinograd('all', () => conv(true)));
      const [yDirect, dxDirect] = withWinograd('0', () => conv(true));

      const yW = errorBound(x, c.x, g, c.co, top, left, outShape, bias, form);
      const yM = directMagnitude(x, c.x, g, c.co, top, left, outShape, bias);
      const worstY = assertWithinBound(yWino!, yCpu!, yW, yM, c.x[3], `forward, ${describeCase(c)}`, form);
      // The input gradient is the convolution of dy with the filter rotated by 180 degrees, channels swapped, padded by
      // 2 - padding on the top and left: the same bound with dy's channels summed.
      const rotated = new Float32Array(g.length);
      for (let k = 0; k < 9; k++) {
        for (let i = 0; i < c.x[3]; i++) for (let o = 0; o < c.co; o++) rotated[(k * c.co + o) * c.x[3] + i] = g[((8 - k) * c.x[3] + i) * c.co + o]!;
      }
      const dxW = errorBound(dy, outShape, rotated, c.x[3], 2 - top, 2 - left, c.x, undefined, form);
      const dxM = directMagnitude(dy, outShape, rotated, c.x[3], 2 - top, 2 - left, c.x, undefined);
      const worstDx = assertWithinBound(dxWino!, dxCpu!, dxW, dxM, c.co, `input gradient, ${describeCase(c)}`, form);
      // Winograd ran: its rounding differs from the direct convolution's somewhere (and the direct one is within bound too).
      assert.notEqual(bits(yWino!), bits(yDirect!), 'forward: Winograd gave the direct convolution\'s bits');
      assert.notEqual(bits(dxWino!), bits(dxDirect!), 'input gradient: Winograd gave the direct convolution\'s bits');
      if (form.tile === 4) {
        // And it was F(4x4, 3x3): F(2x2, 3x3) rounds otherwise.
        const [yTwo, dxTwo] = withEnv('TEMPER_WINOGRAD_TILE', '2', () => withWinograd('all', () => conv(true)));
        assert.notEqual(bits(yWino!), bits(yTwo!), 'forward: F(4x4) gave F(2x2)\'s bits');
        assert.notEqual(bits(dxWino!), bits(dxTwo!), 'input gradient: F(4x4) gave F(2x2)\'s bits');
      }
      t.diagnostic(`largest error / bound: forward ${worstY.toFixed(4)}, input gradient ${worstDx.toFixed(4)}`);
    });
  }

  it('the SIMD filter-gradient transforms (dy planes, G^T m G) of both forms equal their JavaScript twins bit for bit', () => {
    const simd = simdKernels(backend)!;
    const heap = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
    const free: tf.TensorInfo[] = [];
    // dy planes: odd and even heights and widths, tile rows of 1 to 6 tiles (groups of four and the 1-3 left over).
    const forms = [
      { tile: 2, transform: simd.winograd_dy_planes, twin: winogradDyPlanesJs, shapes: [[4, 2, 5, 7], [8, 1, 4, 16], [4, 3, 3, 2], [12, 2, 6, 11]] },
      { tile: 4, transform: simd.winograd4_dy_planes, twin: winograd4DyPlanesJs, shapes: [[4, 2, 5, 7], [8, 1, 4, 32], [4, 3, 3, 2], [12, 2, 9, 22]] },
    ] as const;
    for (const { tile, transform, twin, shapes } of forms) {
      const points = (tile + 2) ** 2;
      for (const [k, n, oh, ow] of shapes) {
        const tilesHigh = Math.ceil(oh / tile);
        const tilesWide = Math.ceil(ow / tile);
        const rows = tile * tilesHigh;
        const cols = 4 * tile * Math.ceil(tilesWide / 4);
        const dy = seededValues(k * n * oh * ow, 5 + tile);
        const planes = new Float32Array(k * n * rows * cols);
        for (let p = 0; p < k * n; p++) for (let r = 0; r < oh; r++) planes.set(dy.subarray((p * oh + r) * ow, (p * oh + r + 1) * ow), (p * rows + r) * cols);
        const planesT = tf.tensor1d(planes);
        const tiles = n * tilesHigh * tilesWide;
        const w = backend.makeOutput([points * k * tiles], 'float32');
        const geometryInfo = backend.makeOutput([8], 'int32');
        (backend.typedArrayFromHeap(geometryInfo) as Int32Array).set([k, n, rows, cols, tilesHigh, tilesWide, 0, 0]);
        transform(heapOffset(backend, planesT), heapOffset(backend, w), heapOffset(backend, geometryInfo));
        const want = new Float32Array(points * k * tiles);
        twin(dy, want, [k, n, oh, ow]);
        assert.equal(bits(heap(w)), bits(want), `F(${tile}x${tile}) dy planes [${k}, ${n}, ${oh}, ${ow}]`);
        // The planes 16 floats further apart (8th value): the same values, the gaps (NaN) left alone.
        const spaced = backend.makeOutput([points * (k * tiles + 16)], 'float32');
        heap(spaced).fill(NaN);
        (backend.typedArrayFromHeap(geometryInfo) as Int32Array).set([k, n, rows, cols, tilesHigh, tilesWide, 0, 16]);
        transform(heapOffset(backend, planesT), heapOffset(backend, spaced), heapOffset(backend, geometryInfo));
        const spacedValues = heap(spaced);
        for (let xi = 0; xi < points; xi++) {
          const at = xi * (k * tiles + 16);
          assert.equal(bits(spacedValues.subarray(at, at + k * tiles)), bits(want.subarray(xi * k * tiles, (xi + 1) * k * tiles)), `F(${tile}x${tile}) spaced plane ${xi}`);
          assert.ok(spacedValues.subarray(at + k * tiles, at + k * tiles + 16).every(Number.isNaN), 'the gap stays unwritten');
        }
        free.push(spaced);
        // Channels [4, k) alone, into the same planes of a w of k channels (7th value: w's channels), as a thread does.
        if (k > 4) {
          const part = backend.makeOutput([points * k * tiles], 'float32');
          heap(part).fill(0);
          (backend.typedArrayFromHeap(geometryInfo) as Int32Array).set([k - 4, n, rows, cols, tilesHigh, tilesWide, k, 0]);
          transform(heapOffset(backend, planesT) + 4 * 4 * n * rows * cols, heapOffset(backend, part) + 4 * 4 * tiles, heapOffset(backend, geometryInfo));
          const got = heap(part);
          for (let xi = 0; xi < points; xi++) {
            const from = (xi * k + 4) * tiles;
            assert.equal(bits(got.subarray(from, (xi + 1) * k * tiles)), bits(want.subarray(from, (xi + 1) * k * tiles)), `F(${tile}x${tile}) channels 4.. of point ${xi}`);
            assert.ok(got.subarray(xi * k * tiles, from).every((value) => value === 0), 'channels before the range untouched');
          }
          free.push(part);
        }
        free.push(planesT, w, geometryInfo);
      }
    }
    for (const [points, transform, twin] of [[16, simd.winograd_filter_grad_output, winogradFilterGradOutputJs], [36, simd.winograd4_filter_grad_output, winograd4FilterGradOutputJs]] as const) {
      const m = tf.tensor1d(seededValues(points * 96, 6));
      const dw = backend.makeOutput([9 * 96], 'float32');
      transform(heapOffset(backend, m), heapOffset(backend, dw), 96);
      const want = new Float32Array(9 * 96);
      twin(heap(m), want, 96);
      assert.equal(bits(heap(dw)), bits(want), `G^T m G, ${points} points`);
      free.push(m, dw);
    }
    for (const t of free) backend.disposeData(t.dataId);
  });

  for (const [c, form] of cases.flatMap((c) => [[c, F2], [c, F4]] as const)) {
    it(`the filter gradient of F(${form.tile}x${form.tile}, 3x3) equals the cpu backend's within the error bound: ${describeCase(c)}`, async (t) => {
      const { top, left, outShape } = geometry(c.x, c.co, c.pad);
      const filterShape: Shape4 = [3, 3, c.x[3], c.co];
      const x = seededValues(sizeOf(c.x), 15);
      const dy = seededValues(sizeOf(outShape), 16);
      const dw = (): Float32Array => tf.tidy(() => (tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor4d(x, c.x), dy: tf.tensor4d(dy, outShape) },
        { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor)).dataSync() as Float32Array;
      await tf.setBackend('cpu');
      const cpu = dw();
      await tf.setBackend('wasm');
      const wino = withEnv('TEMPER_WINOGRAD_TILE', String(form.tile), () => withWinograd('all', dw));
      const direct = withWinograd('0', dw);
      const bound = filterGradBound(x, c.x, dy, outShape, top, left, form);
      const worst = assertFilterGradWithinBound(wino, cpu, bound, `filter gradient, ${describeCase(c)}`);
      assert.notEqual(bits(wino), bits(direct), 'filter gradient: Winograd gave the direct product\'s bits');
      if (form.tile === 4) assert.notEqual(bits(wino), bits(withEnv('TEMPER_WINOGRAD_TILE', '2', () => withWinograd('all', dw))), 'F(4x4) gave F(2x2)\'s bits');
      t.diagnostic(`largest error / bound: ${worst.toFixed(4)}`);
    });
  }

  it('the unfused filter gradient in chunks of images stays within the bound, gives the same bits every time, and frees what it allocates', () => {
    const xShape: Shape4 = [5, 7, 6, 8];
    const dyShape: Shape4 = [5, 7, 6, 16];
    const xv = seededValues(sizeOf(xShape), 51);
    const dyv = seededValues(sizeOf(dyShape), 52);
    const x = tf.tensor4d(xv, xShape);
    const dy = tf.tensor4d(dyv, dyShape);
    const ids = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    for (const [form, perImage] of [[F2, 16 * 12 * 24 + 2 * 8 * 8 * 16], [F4, 36 * 4 * 24 + 2 * 8 * 16 * 16]] as const) {
      const run = (chunkFloats: number): Float32Array => {
        const dw = winogradFilterGradient(backend, x, dy, { outShape: dyShape, padTop: 1, padLeft: 1, chunkFloats, tile: form.tile, fused: false });
        const values = (backend.typedArrayFromHeap(dw) as Float32Array).slice();
        backend.disposeData(dw.dataId);
        return values;
      };
      const whole = run(1 << 24);
      const buffersBefore = ids();
      const bound = filterGradBound(xv, xShape, dyv, dyShape, 1, 1, form);
      // Chunks add their products in another order than one pass: rounding-level differences, within the bound.
      for (const chunkFloats of [1, 2 * perImage]) {
        const chunked = run(chunkFloats);
        assertFilterGradWithinBound(chunked, whole, bound, `F(${form.tile}x${form.tile}), chunks of ${chunkFloats} floats`);
        assert.equal(bits(run(chunkFloats)), bits(chunked), 'the same chunks give the same bits');
      }
      assert.equal(ids(), buffersBefore);
    }
    tf.dispose([x, dy]);
  });

  it('the same inputs give the same bits on every call', () => {
    const x = tf.tensor4d(seededValues(2 * 9 * 8 * 16, 21), [2, 9, 8, 16]);
    const g = tf.tensor4d(seededValues(9 * 16 * 24, 22), [3, 3, 16, 24]);
    const dy = tf.tensor4d(seededValues(2 * 9 * 8 * 24, 23), [2, 9, 8, 24]);
    const run = (): string => withWinograd('all', () => tf.tidy(() => {
      const y = tf.engine().runKernel(FUSED_CONV, { x, filter: g }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor;
      const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: g }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', inputShape: x.shape }) as tf.Tensor;
      return bits(y.dataSync() as Float32Array) + bits(dx.dataSync() as Float32Array);
    }));
    const first = run();
    for (let i = 0; i < 3; i++) assert.equal(run(), first);
    tf.dispose([x, g, dy]);
  });

  it('unfused, chunks of images give the bits of one pass over the batch, and free what they allocate', () => {
    const x = tf.tensor4d(seededValues(5 * 7 * 6 * 8, 41), [5, 7, 6, 8]);
    const g = tf.tensor4d(seededValues(9 * 8 * 16, 42), [3, 3, 8, 16]);
    const b = tf.tensor1d(seededValues(16, 43));
    const ids = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    const run = (chunkFloats: number, tile: 2 | 4): string => {
      const u = transformFilter(backend, g, false, tile);
      const y = winogradConv(backend, x, { u, tile, outShape: [5, 7, 6, 16], padTop: 1, padLeft: 1, bias: b, relu: true, chunkFloats, fused: false });
      const values = bits(backend.typedArrayFromHeap(y) as Float32Array);
      backend.disposeData(u.dataId);
      backend.disposeData(y.dataId);
      return values;
    };
    for (const [tile, perImage] of [[2, 16 * 12 * 24], [4, 36 * 4 * 24]] as const) {
      const whole = run(1 << 24, tile);
      const buffersBefore = ids();
      // 1 float: one image per chunk; twice one image's transformed input and products: two per chunk, the last one.
      assert.equal(run(1, tile), whole, `F(${tile}x${tile}), one image per chunk`);
      assert.equal(run(perImage * 2, tile), whole, `F(${tile}x${tile}), two images per chunk`);
      assert.equal(ids(), buffersBefore);
    }
    tf.dispose([x, g, b]);
  });

  it('fused, the forward convolution gives the unfused one\'s bits in groups of any size, and frees what it allocates', () => {
    const ids = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    // 16 output channels (whole panels of 8) and 20 (a partial panel), bias and ReLU or neither, an odd-sized image.
    for (const [xShape, out, withBias, seed] of [[[5, 7, 6, 8], 16, true, 71], [[3, 9, 10, 12], 20, false, 74]] as const) {
      const x = tf.tensor4d(seededValues(sizeOf([...xShape]), seed), [...xShape]);
      const g = tf.tensor4d(seededValues(9 * xShape[3] * out, seed + 1), [3, 3, xShape[3], out]);
      const b = tf.tensor1d(seededValues(out, seed + 2));
      for (const tile of [2, 4] as const) {
        const u = transformFilter(backend, g, false, tile);
        const run = (fused: boolean, groupBytes?: number): string => {
          const y = winogradConv(backend, x, {
            u, tile, outShape: [xShape[0], xShape[1], xShape[2], out], padTop: 1, padLeft: 1, ...(withBias ? { bias: b } : {}), relu: withBias,
            fused, ...(groupBytes === undefined ? {} : { groupBytes }),
          });
          const values = bits(backend.typedArrayFromHeap(y) as Float32Array);
          backend.disposeData(y.dataId);
          return values;
        };
        const unfused = run(false);
        const buffersBefore = ids();
        const image = 4 * (tile + 2) ** 2 * Math.ceil(xShape[1] / tile) * Math.ceil(xShape[2] / tile) * (xShape[3] + out);
        // 1 byte: one image per group; two images' worth: groups of two and a last one of one; the default: one group.
        for (const groupBytes of [1, 2 * image, undefined]) {
          assert.equal(run(true, groupBytes), unfused, `F(${tile}x${tile}), [${xShape}] -> ${out}, groups of ${groupBytes ?? 'default'} bytes`);
        }
        assert.equal(ids(), buffersBefore);
        backend.disposeData(u.dataId);
      }
      tf.dispose([x, g, b]);
    }
  });

  it('fused, the filter gradient stays within the bound in groups of any size, gives the same bits every time, its parts depend on the shape alone, and it frees what it allocates', () => {
    const ids = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    // 8 input channels (the product reads v in place) and 12 (packed first); 11 images: 8 parts of 1 or 2 images.
    for (const [xShape, out, seed] of [[[5, 7, 6, 8], 16, 81], [[11, 6, 9, 12], 8, 84]] as const) {
      const dyShape: Shape4 = [xShape[0], xShape[1], xShape[2], out];
      const xv = seededValues(sizeOf([...xShape]), seed);
      const dyv = seededValues(sizeOf(dyShape), seed + 1);
      const x = tf.tensor4d(xv, [...xShape]);
      const dy = tf.tensor4d(dyv, dyShape);
      for (const form of [F2, F4]) {
        const run = (fused: boolean, groupBytes?: number): Float32Array => {
          const dw = winogradFilterGradient(backend, x, dy, { outShape: dyShape, padTop: 1, padLeft: 1, tile: form.tile, fused, ...(groupBytes === undefined ? {} : { groupBytes }) });
          const values = (backend.typedArrayFromHeap(dw) as Float32Array).slice();
          backend.disposeData(dw.dataId);
          return values;
        };
        const unfused = run(false);
        const buffersBefore = ids();
        const bound = filterGradBound(xv, [...xShape], dyv, dyShape, 1, 1, form);
        const whole = run(true);
        assertFilterGradWithinBound(whole, unfused, bound, `F(${form.tile}x${form.tile}), [${xShape}] -> ${out}, fused`);
        assert.notEqual(bits(whole), bits(unfused), 'fused: the parts are summed apart, so some rounding differs');
        // Groups move where the product's blocks of 256 tiles begin, so rounding differs: within the bound, the same
        // bits for the same groups (their size depends on the shape alone).
        for (const groupBytes of [1, 1 << 12]) {
          const grouped = run(true, groupBytes);
          assertFilterGradWithinBound(grouped, unfused, bound, `F(${form.tile}x${form.tile}), groups of ${groupBytes} bytes`);
          assert.equal(bits(run(true, groupBytes)), bits(grouped), `groups of ${groupBytes} bytes, again`);
        }
        assert.equal(bits(run(true)), bits(whole), 'the same bits on every call');
        assert.equal(ids(), buffersBefore);
      }
      tf.dispose([x, dy]);
    }
    assert.equal(filterGradParts(11, 36, 12, 8), WINOGRAD_FILTER_GRAD_MAX_PARTS);
    assert.equal(filterGradParts(5, 36, 8, 16), 5, 'never more parts than images');
    assert.equal(filterGradParts(128, 36, 512, 512), 1, 'a 36 MiB sum: one part');
  });

  it('leaks no tensor and no wasm buffer over 20 forward, input-gradient and filter-gradient computations', () => {
    const x = tf.tensor4d(seededValues(3 * 6 * 7 * 8, 31), [3, 6, 7, 8]);
    const g = tf.tensor4d(seededValues(9 * 8 * 12, 32), [3, 3, 8, 12]);
    const b = tf.tensor1d(seededValues(12, 33));
    const ids = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    const step = (): void => withWinograd('all', () => tf.tidy(() => {
      const loss = (a: tf.Tensor, filter: tf.Tensor) => tf.sum(tf.engine().runKernel(FUSED_CONV, { x: a, filter, bias: b },
        { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor);
      void tf.grads(loss)([x, g]);
    }));
    step();
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = ids();
    for (let i = 0; i < 20; i++) step();
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.equal(ids(), buffersBefore);
    tf.dispose([x, g, b]);
  });

  it('applies where it was measured to pay: fused from 16 channels, else 64+ channels and 2^25+ multiply-adds per product, 3x3 stride 1 only', () => {
    const shape = (batchSize: number, side: number, inChannels: number, outChannels: number, rest: Partial<WinogradShape> = {}): WinogradShape => ({
      filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1,
      inChannels, outChannels, batchSize, outHeight: side, outWidth: side, ...rest,
    });
    withWinograd('1', () => {
      // vgg6-bn's 3x3 layers past the first at batch 128, ResNet-18's stride-1 ones at batch 32.
      for (const [n, side, i, o] of [[128, 32, 64, 64], [128, 16, 64, 128], [128, 16, 128, 128], [128, 8, 128, 256], [128, 8, 256, 256],
        [32, 32, 64, 64], [32, 16, 128, 128], [32, 8, 256, 256], [32, 4, 512, 512]] as const) {
        assert.ok(winogradApplies(shape(n, side, i, o), backend), `[${n}, ${side}, ${side}, ${i}] -> ${o}`);
      }
      // Fused, from 16 channels whatever the size: cnn-small's second layer, 32 and 16 channels, batch 8, 2^23 per product.
      assert.equal(WINOGRAD_FUSED_MIN_CHANNELS, 16);
      for (const [n, side, i, o] of [[128, 14, 32, 64], [128, 32, 32, 32], [128, 32, 16, 16], [8, 32, 64, 64], [128, 8, 64, 64], [1, 4, 16, 16]] as const) {
        assert.ok(winogradApplies(shape(n, side, i, o), backend), `fused: [${n}, ${side}, ${side}, ${i}] -> ${o}`);
      }
      // First layers, too few channels, other geometry.
      assert.ok(!winogradApplies(shape(128, 32, 3, 64), backend), 'first layer');
      assert.ok(!winogradApplies(shape(128, 32, 12, 64), backend), '12 channels');
      assert.ok(!winogradApplies(shape(128, 32, 64, 8), backend), '8 output channels');
      assert.ok(!winogradApplies(shape(128, 32, 64, 64, { strideHeight: 2, strideWidth: 2 }), backend), 'stride 2');
      assert.ok(!winogradApplies(shape(128, 32, 64, 64, { filterHeight: 5, filterWidth: 5 }), backend), '5x5');
      assert.ok(!winogradApplies(shape(128, 32, 64, 64, { dilationHeight: 2 }), backend), 'dilated');
      assert.ok(!winogradApplies(shape(128, 32, 66, 64), backend), 'channels not a multiple of 4');
    });
    withWinograd('1', () => withEnv('TEMPER_WINOGRAD_TILE', '', () => {
      // F(4x4, 3x3): wherever Winograd applies, vgg6-bn's 64 -> 64 layer included.
      assert.equal(filterGradTile(), 4);
      // F(2x2, 3x3) where 4x4 blocks would cover half again as many outputs as 2x2 blocks: 6x6 (not 14x14, cnn-small's, or 10x10).
      for (const [h, w, tile] of [[32, 32, 4], [16, 16, 4], [8, 8, 4], [4, 4, 4], [28, 28, 4], [7, 7, 4], [30, 30, 4], [14, 14, 4], [6, 6, 2], [10, 10, 4], [6, 8, 4]] as const) {
        assert.equal(filterGradTile(h, w), tile, `${h}x${w}`);
      }
      assert.ok(winogradFilterGradApplies(shape(128, 32, 64, 64), backend), 'filter gradient, 64 -> 64');
      assert.ok(winogradFilterGradApplies(shape(128, 32, 32, 128), backend), 'filter gradient, 32 input channels (fused)');
      assert.ok(!winogradFilterGradApplies(shape(128, 32, 12, 128), backend), 'filter gradient, 12 input channels');
    }));
    withWinograd('1', () => withEnv('TEMPER_WINOGRAD_TILE', '2', () => {
      // F(2x2, 3x3) only from 128 output channels: vgg6-bn's 64 -> 64 layer is left to the direct product.
      assert.equal(filterGradTile(), 2);
      assert.equal(filterGradTile(32, 32), 2, 'TEMPER_WINOGRAD_TILE=2 whatever the size');
      assert.ok(!winogradFilterGradApplies(shape(128, 32, 64, 64), backend), 'filter gradient, 64 -> 64');
      for (const [n, side, i, o] of [[128, 16, 64, 128], [128, 16, 128, 128], [128, 8, 256, 256], [32, 4, 512, 512]] as const) {
        assert.ok(winogradFilterGradApplies(shape(n, side, i, o), backend), `filter gradient, [${n}, ${side}, ${side}, ${i}] -> ${o}`);
      }
      assert.equal(WINOGRAD_FILTER_GRAD_MIN_OUT_CHANNELS, 128);
    }));
    // F(4x4, 3x3) for the forward convolution and input gradient from 128 tiles of 4x4 per product, F(2x2, 3x3) below.
    withEnv('TEMPER_WINOGRAD_TILE', '', () => {
      assert.equal(WINOGRAD4_MIN_TILES, 128);
      assert.equal(forwardTile(128, 32, 32), 4);
      assert.equal(forwardTile(128, 4, 4), 4);
      assert.equal(forwardTile(32, 4, 4), 2, 'ResNet-18\'s last stage at batch 32: 32 tiles');
      assert.equal(forwardTile(8, 15, 15), 4, 'partial blocks count as tiles: 8 x 4 x 4');
      // Planes whose 4x4 blocks leave 25% of their outputs past the edge: F(2x2) below 32 channels, at any from 50%.
      assert.equal(WINOGRAD_EDGE_MIN_CHANNELS, 32);
      assert.equal(forwardTile(128, 14, 14), 4, 'channels unknown');
      assert.equal(forwardTile(128, 14, 14, 32), 4, 'cnn-small\'s 14x14 32 -> 64');
      assert.equal(forwardTile(128, 14, 14, 16), 2, '14x14 16 -> 32');
      assert.equal(forwardTile(128, 14, 14, 64), 4, '14x14 64 -> 128');
      assert.equal(forwardTile(128, 10, 10, 16), 2);
      assert.equal(forwardTile(128, 18, 18, 16), 4, '18x18: 23% past the edge');
      assert.equal(forwardTile(128, 6, 6, 256), 2, '6x6: 78% past the edge');
      assert.equal(forwardTile(128, 32, 32, 16), 4);
    });
    withEnv('TEMPER_WINOGRAD_TILE', '2', () => assert.equal(forwardTile(128, 32, 32), 2));
    withEnv('TEMPER_WINOGRAD_TILE', '4', () => assert.equal(forwardTile(1, 4, 4), 4));
    withWinograd('0', () => assert.ok(!winogradApplies(shape(128, 32, 64, 64), backend), 'TEMPER_WINOGRAD=0'));
    // Fused where the transformed filter stays in cache: up to 12 MiB forward (ResNet-18's 256 -> 256 in F(4x4): 9 MiB;
    // 512 -> 512 in F(2x2): 16 MiB, unfused), up to 4 MiB for the filter gradient (128 -> 128 in F(4x4): 2.25 MiB).
    assert.ok(winogradFuses(backend, 4, 256, 256));
    assert.ok(!winogradFuses(backend, 2, 512, 512));
    assert.ok(filterGradFuses(backend, 4, 128, 128));
    assert.ok(!filterGradFuses(backend, 4, 256, 256));
    // 512 -> 512 still runs (unfused) where it was measured to pay.
    withWinograd('1', () => assert.ok(winogradApplies(shape(32, 4, 512, 512), backend)));
    withEnv('TEMPER_GEMM', '0', () => assert.ok(!winogradFuses(backend, 4, 32, 64), 'without the project\'s product: never fused'));
    // A value that means nothing is refused, naming the variable; the meaningful ones and unset or empty pass.
    for (const env of [{}, { TEMPER_WINOGRAD: '' }, { TEMPER_WINOGRAD: '0' }, { TEMPER_WINOGRAD: ' all ' }, { TEMPER_WINOGRAD: '1', TEMPER_WINOGRAD_TILE: '4' }]) {
      assert.doesNotThrow(() => checkWinogradEnv(env), JSON.stringify(env));
    }
    assert.throws(() => checkWinogradEnv({ TEMPER_WINOGRAD: 'off' }), /TEMPER_WINOGRAD must be one of 0, 1, all \(or unset\), found 'off'/);
    assert.throws(() => checkWinogradEnv({ TEMPER_WINOGRAD_TILE: '3' }), /TEMPER_WINOGRAD_TILE must be one of 2, 4 \(or unset\), found '3'/);
    withWinograd('all', () => assert.ok(winogradFilterGradApplies(shape(1, 4, 4, 4), backend), 'filter gradient, TEMPER_WINOGRAD=all'));
    withWinograd('all', () => assert.ok(winogradApplies(shape(1, 4, 4, 4), backend), 'TEMPER_WINOGRAD=all'));
  });
});

// Trains cnn-small (conv3x3(32) on 1 channel, then conv3x3(64) on 32: the second runs as fused Winograd, forward, input
// gradient and filter gradient; the first's filter gradient takes the few-taps kernel's parts) for 5 Adam steps on
// fixed data; prints the losses and a hash of the weights and of an input gradient (the first layer's from dy alone).
// With TEMPER_STOCK_KERNELS=1 (stock tfjs-wasm has no filter gradient) it hashes the logits and the input gradient instead.
const CHILD = `
import { createHash } from 'node:crypto';
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
const { wasmThreadsInUse } = await import(${JSON.stringify(distUrl('src/backend/wasm-threads.js'))});
const { createModel } = await import(${JSON.stringify(distUrl('src/models/index.js'))});
await initBackend('wasm');
const model = createModel('cnn-small', { inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
const optimizer = tf.train.adam(0.003);
const x = tf.randomUniform([32, 28, 28, 1], 0, 1, 'float32', 9);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => (i * 7) % 10), 'int32'), 10);
const losses = [];
const hash = createHash('sha256');
if (process.env.TEMPER_STOCK_KERNELS === '1') {
  hash.update(Buffer.from(model.apply(x).dataSync().buffer));
  hash.update(Buffer.from(tf.grad((v) => tf.sum(tf.square(model.apply(v))))(x).dataSync().buffer));
}
for (let i = 0; i < (process.env.TEMPER_STOCK_KERNELS === '1' ? 0 : 5); i++) {
  const loss = tf.tidy(() => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true));
  losses.push(loss.dataSync()[0]);
  loss.dispose();
}
for (const w of model.getWeights()) hash.update(Buffer.from(w.dataSync().buffer));
// And an input gradient, as an attack takes it: the first layer's from dy alone (input_grad_few_channels).
hash.update(Buffer.from(tf.grad((v) => tf.sum(tf.square(model.apply(v))))(x).dataSync().buffer));
console.log(JSON.stringify({ threads: wasmThreadsInUse(), losses, hash: hash.digest('hex') }));
`;

function train(env: Record<string, string>): { threads: number; losses: number[]; hash: string } {
  return runNodeScript(CHILD, env);
}

describe('Winograd in training', () => {
  it('gives the same bits at 1 and 2 threads, and the direct convolution\'s losses within rounding', (t) => {
    const one = train({ TEMPER_WINOGRAD: 'all', TEMPER_WASM_THREADS: '1' });
    const two = train({ TEMPER_WINOGRAD: 'all', TEMPER_WASM_THREADS: '2' });
    const direct = train({ TEMPER_WINOGRAD: '0', TEMPER_WASM_THREADS: '1' });
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.deepEqual(two.losses, one.losses);
    assert.equal(two.hash, one.hash);
    assert.notEqual(one.hash, direct.hash, 'Winograd changed no bit: it did not run');
    // Both are float32 evaluations of the same steps: they part at rounding level (measured: 1.1e-7 relative at most).
    // Adam's first steps divide by the square root of tiny second moments and can widen that for a few weights, so the
    // check allows 1e-4, a thousand times the measured gap and still far below any real difference (a wrong gradient
    // moves the loss by percents in 5 steps).
    let widest = 0;
    for (let i = 0; i < direct.losses.length; i++) {
      const gap = Math.abs(one.losses[i]! - direct.losses[i]!) / Math.abs(direct.losses[i]!);
      assert.ok(gap < 1e-4, `step ${i}: loss ${one.losses[i]} against ${direct.losses[i]} (relative gap ${gap})`);
      widest = Math.max(widest, gap);
    }
    t.diagnostic(`widest relative loss gap over 5 steps: ${widest.toExponential(2)}`);
    assert.ok(direct.losses.at(-1)! < direct.losses[0]!, `the net trains: ${direct.losses}`);
  });

  it('TEMPER_STOCK_KERNELS=1 gives stock tfjs whatever TEMPER_WINOGRAD says', () => {
    const stockAll = train({ TEMPER_STOCK_KERNELS: '1', TEMPER_WINOGRAD: 'all', TEMPER_WASM_THREADS: '1' });
    const stockOff = train({ TEMPER_STOCK_KERNELS: '1', TEMPER_WINOGRAD: '0', TEMPER_WASM_THREADS: '1' });
    assert.equal(stockAll.hash, stockOff.hash);
  });
});
