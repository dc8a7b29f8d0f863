// Fog of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py: a diamond-square plasma fractal added to
// the image, then the image rescaled so its brightest value keeps its place.
import type { Rng } from '../util/rng.js';
import { level, type Corruption } from './corruption.js';
import { uniform } from './random.js';

/** Fog: [strength, wibble decay]; a slower decay keeps more fine detail in the fractal. */
const FOG: readonly [[number, number], [number, number], [number, number], [number, number], [number, number]] = [
  [0.2, 3],
  [0.5, 3],
  [0.75, 2.5],
  [1, 2],
  [1.5, 1.75],
];

/**
 * A `size` x `size` (a power of two) plasma fractal in [0, 1] by the diamond-square algorithm on a torus, as the
 * reference's plasma_fractal: starting from a single 0 corner and step `size`, each square's centre becomes the mean of
 * its four corners, then each edge midpoint the mean of its two corners and two neighbouring centres (indices wrap),
 * each plus wibble * U(-wibble, wibble); the step halves and wibble (from 100) is divided by `decay`. Finally the map
 * is shifted and scaled to span [0, 1].
 */
export function plasmaFractal(size: number, decay: number, random: Rng): Float64Array {
  if (size < 1 || (size & (size - 1)) !== 0) throw new Error(`plasma fractal size must be a power of two, got ${size}`);
  const map = new Float64Array(size * size);
  const at = (y: number, x: number) => map[(((y % size) + size) % size) * size + (((x % size) + size) % size)]!;
  let wibble = 100;
  const noisy = (sum: number) => sum / 4 + wibble * uniform(random, -wibble, wibble);
  for (let step = size; step >= 2; step /= 2, wibble /= decay) {
    const half = step / 2;
    for (let y = 0; y < size; y += step) {
      for (let x = 0; x < size; x += step) map[(y + half) * size + x + half] = noisy(at(y, x) + at(y + step, x) + at(y, x + step) + at(y + step, x + step));
    }
    // Edge midpoints read only corners and centres, so the order of these two passes does not matter.
    for (let y = 0; y < size; y += step) {
      for (let x = 0; x < size; x += step) map[y * size + x + half] = noisy(at(y - half, x + half) + at(y + half, x + half) + at(y, x) + at(y, x + step));
    }
    for (let y = 0; y < size; y += step) {
      for (let x = 0; x < size; x += step) map[(y + half) * size + x] = noisy(at(y + half, x - half) + at(y + half, x + half) + at(y, x) + at(y + step, x));
    }
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const range = max - min;
  return map.map((v) => (range > 0 ? (v - min) / range : 0));
}

/**
 * Fog: x + strength * plasma, times max / (max + strength) where max is the image's largest value. The fractal is
 * made at the smallest power of two covering the image (32 for 32x32 and 28x28, 64 for 64x64) and cropped to its
 * top-left corner, as the reference crops [:32, :32]; its coarse structure thus spans the image at every size.
 */
export const fog: Corruption = (image, severity, random) => {
  const [strength, decay] = level(FOG, severity);
  const { h, w, c, data } = image;
  let size = 1;
  while (size < Math.max(h, w)) size *= 2;
  const plasma = plasmaFractal(size, decay, random);
  let max = -Infinity;
  for (const v of data) max = Math.max(max, v);
  const rescale = max / (max + strength);
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const haze = strength * plasma[y * size + x]!;
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = (data[(y * w + x) * c + k]! + haze) * rescale;
    }
  }
  return { ...image, data: out };
};
