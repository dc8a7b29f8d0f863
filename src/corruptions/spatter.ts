// Spatter of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py: blobs of liquid from thresholded,
// smoothed normal noise; severities 1-3 splash water (pale turquoise, shaded from the blobs' edges), 4-5 mud (brown,
// opaque).
import { level, type Corruption } from './corruption.js';
import { canny, distanceTransform, equalizeHist } from './edges.js';
import { filter2d, gaussianBlur, gaussianTaps, reflectIndex, spatialScale, type Image } from './image.js';
import { normalSampler } from './random.js';
import { GREY_WEIGHTS } from './snow.js';
import type { Rng } from '../util/rng.js';

type SpatterLevel = [number, number, number, number, number, number];
/**
 * Spatter: [noise mean, noise std, smoothing sigma, threshold, strength, mode]. Mode 0 is water (strength: the
 * largest amount of colour added), mode 1 mud (strength: the sigma that softens the mud mask).
 */
const SPATTER: readonly [SpatterLevel, SpatterLevel, SpatterLevel, SpatterLevel, SpatterLevel] = [
  [0.62, 0.1, 0.7, 0.7, 0.5, 0],
  [0.65, 0.1, 0.8, 0.7, 0.5, 0],
  [0.65, 0.3, 1, 0.69, 0.5, 0],
  [0.65, 0.1, 0.7, 0.69, 0.6, 1],
  [0.65, 0.1, 0.5, 0.68, 0.6, 1],
];

/** Pale turquoise (175, 238, 238), the colour water adds. */
const WATER = [175 / 255, 238 / 255, 238 / 255] as const;
/** Mud brown (63, 42, 20), the colour mud covers the image with. */
const MUD = [63 / 255, 42 / 255, 20 / 255] as const;
/** Canny thresholds of the reference. */
const CANNY_LOW = 50;
const CANNY_HIGH = 150;
/** Distances to a blob edge beyond this many (32x32) pixels count as this far. */
const DIST_CAP = 20;
/** The reference's 3x3 emboss kernel (it sums to 1: the image plus a diagonal derivative), row-major. */
const EMBOSS = [-2, -1, 0, -1, 1, 1, 0, 1, 2] as const;

/** Sum of squared taps: a gaussian blur of this sigma scales the standard deviation of white noise by it, per axis. */
function noiseGain(sigma: number): number {
  return gaussianTaps(sigma).reduce((sum, t) => sum + t * t, 0);
}

/**
 * The liquid layer, h * w values: N(mean, std') noise per pixel smoothed by a gaussian of sigma * spatialScale, values
 * below the threshold set to 0. The reference draws N(mean, std) at 32x32; a wider blur on a larger image would shrink
 * the noise left after smoothing (and so the share above the threshold), so std' = std * gain(sigma) /
 * gain(sigma * scale), with gain the sum of squared gaussian taps, keeps the smoothed noise's standard deviation at
 * its 32x32 value while the blobs grow with the image.
 */
export function liquidLayer(h: number, w: number, severity: number, random: Rng): Float32Array {
  const [mean, std, sigma, threshold] = level(SPATTER, severity);
  const scale = spatialScale(h, w);
  const noiseStd = std * (noiseGain(sigma) / noiseGain(sigma * scale));
  const normal = normalSampler(random);
  const noise: Image = { data: new Float32Array(h * w).map(() => mean + noiseStd * normal()), h, w, c: 1 };
  return gaussianBlur(noise, sigma * scale).data.map((v) => (v < threshold ? 0 : v));
}

/**
 * A (2 r + 1)^2 box mean of a plane (cv2.blur), reflect borders. Sums in double precision and divides once, as
 * OpenCV's box filter does, so a window of equal values gives exactly that value (the truncation after it needs that).
 */
function boxMean(plane: ArrayLike<number>, h: number, w: number, radius: number): Float32Array {
  const count = (2 * radius + 1) ** 2;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let dy = -radius; dy <= radius; dy++) {
        const row = reflectIndex(y + dy, h) * w;
        for (let dx = -radius; dx <= radius; dx++) sum += plane[row + reflectIndex(x + dx, w)]!;
      }
      out[y * w + x] = sum / count;
    }
  }
  return out;
}

/**
 * The water mask, h * w values in [0, strength], from the liquid layer as the reference computes it: the layer as
 * bytes (liquid * 255, truncated; clamped at 255, where numpy's uint8 cast would wrap); its Canny edges; every pixel's distance to the nearest edge, capped at 20; a 3x3
 * box mean, truncated to whole numbers; histogram equalisation; the emboss kernel (clipped to 0-255); another 3x3 box
 * mean (rounded to bytes); times the liquid bytes, so the mask is 0 outside the liquid; and finally scaled so that its
 * largest value is `strength`. The distances are measured in 32x32 pixels (pixels / spatialScale), and the box and
 * emboss kernels span s = max(1, round(spatialScale)) pixels per step (3x3 at 32x32 and 28x28, 5x5 taps at 64x64),
 * so the shading keeps its size relative to the image. With no liquid at all the mask is 0 (the reference divides
 * 0 by 0 there).
 */
export function waterMask(liquid: Float32Array, h: number, w: number, strength: number): Float32Array {
  const scale = spatialScale(h, w);
  const step = Math.max(1, Math.round(scale));
  const liquidBytes = Uint8Array.from(liquid, (v) => Math.floor(Math.min(255, Math.max(0, v * 255))));
  const edges = canny(liquidBytes, h, w, CANNY_LOW, CANNY_HIGH);
  const distances = distanceTransform(edges.map((v) => 255 - v), h, w).map((d) => Math.min(d / scale, DIST_CAP));
  const smoothDistances = Uint8Array.from(boxMean(distances, h, w, step), (v) => Math.trunc(v));
  const equalised = equalizeHist(smoothDistances);
  // The emboss taps sit `step` pixels apart (the 3x3 kernel itself at 32x32).
  const size = 2 * step + 1;
  const kernel = new Float64Array(size * size);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) kernel[i * step * size + j * step] = EMBOSS[i * 3 + j]!;
  const embossed = filter2d({ data: Float32Array.from(equalised), h, w, c: 1 }, kernel, size).data.map((v) => Math.min(255, Math.max(0, Math.round(v))));
  const shade = boxMean(embossed, h, w, step).map((v) => Math.round(v));
  const mask = new Float32Array(h * w);
  let max = 0;
  for (let p = 0; p < h * w; p++) {
    mask[p] = liquidBytes[p]! * shade[p]!;
    max = Math.max(max, mask[p]!);
  }
  return max > 0 ? mask.map((v) => (v / max) * strength) : mask;
}

/**
 * The mud mask, h * w values in {0} U [0.8, 1]: 1 where the liquid layer is above the threshold, smoothed by a
 * gaussian of strength * spatialScale, values below 0.8 set to 0 (so only the blobs' cores remain, with soft rims).
 */
export function mudMask(liquid: Float32Array, h: number, w: number, threshold: number, strength: number): Float32Array {
  const wet: Image = { data: liquid.map((v) => (v > threshold ? 1 : 0)), h, w, c: 1 };
  return gaussianBlur(wet, strength * spatialScale(h, w)).data.map((v) => (v < 0.8 ? 0 : v));
}

/**
 * Spatter, as the reference: water adds mask * (175, 238, 238) / 255 to the image; mud replaces it by
 * x * (1 - mask) + mask * (63, 42, 20) / 255. A one-channel image gets the OpenCV luma of the colour (so it is the grey
 * of what its RGB copy would get). The reference's OpenCV steps use reflect-101 borders and skimage's gaussian
 * repeats the edge; here the module's reflect border is used for them (Canny's Sobel keeps its edge-repeating
 * border).
 */
export const spatter: Corruption = (image, severity, random) => {
  const [, , , threshold, strength, mode] = level(SPATTER, severity);
  const { h, w, c, data } = image;
  const liquid = liquidLayer(h, w, severity, random);
  const colour = mode === 0 ? WATER : MUD;
  const tint = c === 1 ? [GREY_WEIGHTS[0] * colour[0] + GREY_WEIGHTS[1] * colour[1] + GREY_WEIGHTS[2] * colour[2]] : colour;
  const mask = mode === 0 ? waterMask(liquid, h, w, strength) : mudMask(liquid, h, w, threshold, strength);
  const out = new Float32Array(data.length);
  for (let p = 0; p < h * w; p++) {
    const m = mask[p]!;
    for (let k = 0; k < c; k++) {
      const v = data[p * c + k]!;
      out[p * c + k] = mode === 0 ? v + m * tint[k]! : v * (1 - m) + m * tint[k]!;
    }
  }
  return { ...image, data: out };
};
