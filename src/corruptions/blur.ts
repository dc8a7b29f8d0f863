// Blur corruptions of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py (for 32x32 images).
// Spatial parameters are multiplied by spatialScale(h, w) for other sizes (see image.ts).
import { level, type Corruption } from './corruption.js';
import { blankLike, filter2d, gaussianBlur, reflectIndex, roundHalfEven, sampleBilinear, spatialScale, type Image } from './image.js';
import { randomInt, uniform } from './random.js';

/** Gaussian blur: sigma in pixels. */
const GAUSSIAN_SIGMA = [0.4, 0.6, 0.7, 0.8, 1] as const;

export const gaussianBlurCorruption: Corruption = (image, severity) => gaussianBlur(image, level(GAUSSIAN_SIGMA, severity) * spatialScale(image.h, image.w));

/** Defocus blur: [disk radius, anti-alias sigma] in pixels. */
const DEFOCUS: readonly [[number, number], [number, number], [number, number], [number, number], [number, number]] = [
  [0.3, 0.4],
  [0.4, 0.5],
  [0.5, 0.6],
  [1, 0.2],
  [1.5, 0.1],
];

/**
 * The defocus kernel: the pixels with x^2 + y^2 <= radius^2, normalised, then smoothed by a small gaussian of
 * `aliasSigma` (3x3 at 32x32 as in the reference; (2 * round(scale) + 1)^2 at larger scales) to soften its edge.
 * Returns the kernel and its side.
 */
export function diskKernel(radius: number, aliasSigma: number, aliasRadius: number): { kernel: Float64Array; size: number } {
  const half = Math.ceil(radius) + aliasRadius;
  const size = 2 * half + 1;
  const disk = new Float64Array(size * size);
  let total = 0;
  for (let y = -half; y <= half; y++) {
    for (let x = -half; x <= half; x++) {
      if (x * x + y * y <= radius * radius) {
        disk[(y + half) * size + x + half] = 1;
        total++;
      }
    }
  }
  for (let i = 0; i < disk.length; i++) disk[i]! /= total;
  // The alias gaussian: OpenCV's GaussianBlur taps exp(-t^2 / (2 sigma^2)) over -aliasRadius..aliasRadius, normalised.
  const taps = new Float64Array(2 * aliasRadius + 1);
  let tapTotal = 0;
  for (let t = -aliasRadius; t <= aliasRadius; t++) tapTotal += taps[t + aliasRadius] = Math.exp(-(t * t) / (2 * aliasSigma * aliasSigma));
  for (let t = 0; t < taps.length; t++) taps[t]! /= tapTotal;
  // The disk sits `aliasRadius` pixels inside the grid, so zero padding here loses nothing.
  const kernel = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (let ty = -aliasRadius; ty <= aliasRadius; ty++) {
        for (let tx = -aliasRadius; tx <= aliasRadius; tx++) {
          const sy = y + ty;
          const sx = x + tx;
          if (sy >= 0 && sy < size && sx >= 0 && sx < size) sum += taps[ty + aliasRadius]! * taps[tx + aliasRadius]! * disk[sy * size + sx]!;
        }
      }
      kernel[y * size + x] = sum;
    }
  }
  return { kernel, size };
}

/**
 * Defocus blur. The disk is a set of whole pixels (radius 1 is a plus sign, 1.5 a 3x3 square), so shrinking its
 * radius below the 32x32 value would drop severity 4 and 5 back to a single pixel (at 28x28, radius 0.875 < 1);
 * images smaller than 32x32 therefore use the 32x32 kernels, and larger ones scale them up.
 */
export const defocusBlur: Corruption = (image, severity) => {
  const scale = Math.max(1, spatialScale(image.h, image.w));
  const [radius, aliasSigma] = level(DEFOCUS, severity);
  const { kernel, size } = diskKernel(radius * scale, aliasSigma * scale, Math.max(1, Math.round(scale)));
  return filter2d(image, kernel, size);
};

/** Glass blur: [gaussian sigma, largest shuffle offset in pixels, shuffle passes]. */
const GLASS: readonly [[number, number, number], [number, number, number], [number, number, number], [number, number, number], [number, number, number]] = [
  [0.05, 1, 1],
  [0.25, 1, 1],
  [0.4, 1, 1],
  [0.25, 1, 2],
  [0.4, 1, 2],
];

/**
 * Glass blur: gaussian blur, local pixel shuffling, gaussian blur again. The shuffle visits pixels from the
 * bottom-right corner to the top-left (rows and columns delta+1 .. side-delta), and for each draws offsets
 * dx, dy in -delta .. delta-1 (numpy's randint(-delta, delta)). The reference's "swap"
 * `x[h, w], x[h', w'] = x[h', w'], x[h, w]` acts on numpy views of RGB pixels and so copies (x[h, w] takes
 * x[h', w']) instead of swapping; the published CIFAR-10-C files were made that way, and so is this. Its
 * intermediate rounding to uint8 is left out.
 */
export const glassBlur: Corruption = (image, severity, random) => {
  const scale = spatialScale(image.h, image.w);
  const [sigma, maxDelta, passes] = level(GLASS, severity);
  const delta = Math.max(1, Math.round(maxDelta * scale));
  const blurred = gaussianBlur(image, sigma * scale);
  const { h, w, c, data } = blurred;
  for (let pass = 0; pass < passes; pass++) {
    for (let y = h - delta; y > delta; y--) {
      for (let x = w - delta; x > delta; x--) {
        const dx = randomInt(random, -delta, delta);
        const dy = randomInt(random, -delta, delta);
        const to = (y * w + x) * c;
        const from = ((y + dy) * w + x + dx) * c;
        for (let k = 0; k < c; k++) data[to + k] = data[from + k]!;
      }
    }
  }
  return gaussianBlur(blurred, sigma * scale);
};

/** Motion blur: [ImageMagick radius, sigma] in pixels. */
const MOTION: readonly [[number, number], [number, number], [number, number], [number, number], [number, number]] = [
  [6, 1],
  [6, 1.5],
  [6, 2],
  [8, 2],
  [9, 2.5],
];

/**
 * ImageMagick's MotionBlurImage, which the reference calls for motion blur and snow: a one-sided line kernel of
 * 2 * ceil(radius) + 1 taps with weights exp(-i^2 / (2 sigma^2)) (normalised) at offsets round(i * (cos a, sin a)),
 * i = 0, 1, ..., for the angle a in degrees (x to the right, y down, as ImageMagick's offsets). Radius and sigma are
 * in pixels, already scaled. Reflect borders (ImageMagick's default repeats the edge). Returns a new image.
 */
export function motionBlurImage(image: Image, radius: number, sigma: number, angleDegrees: number): Image {
  const angle = (angleDegrees * Math.PI) / 180;
  const width = 2 * Math.ceil(radius) + 1;
  // Apply the taps directly (a 2-D kernel would be mostly zeros). Taps with the same rounded offset are merged.
  const merged = new Map<string, { weight: number; dx: number; dy: number }>();
  let total = 0;
  for (let i = 0; i < width; i++) {
    const weight = Math.exp(-(i * i) / (2 * sigma * sigma));
    total += weight;
    const dx = Math.round(i * Math.cos(angle));
    const dy = Math.round(i * Math.sin(angle));
    const key = `${dx},${dy}`;
    const seen = merged.get(key);
    if (seen) seen.weight += weight;
    else merged.set(key, { weight, dx, dy });
  }
  const { h, w, c, data } = image;
  const result = blankLike(image);
  for (const { weight, dx, dy } of merged.values()) {
    const share = weight / total;
    for (let y = 0; y < h; y++) {
      const row = reflectIndex(y + dy, h) * w;
      for (let x = 0; x < w; x++) {
        const from = (row + reflectIndex(x + dx, w)) * c;
        const to = (y * w + x) * c;
        for (let k = 0; k < c; k++) result.data[to + k]! += share * data[from + k]!;
      }
    }
  }
  return result;
}

/** Motion blur: motionBlurImage with the table's radius and sigma (scaled) at an angle drawn uniformly in [-45, 45) degrees per image. */
export const motionBlur: Corruption = (image, severity, random) => {
  const scale = spatialScale(image.h, image.w);
  const [radius, sigma] = level(MOTION, severity).map((v) => v * scale) as [number, number];
  return motionBlurImage(image, radius, sigma, uniform(random, -45, 45));
};

/**
 * Zoom factors: numpy's arange(1, stop, 0.01) for stop 1.06, 1.11, 1.16, 1.21, 1.26 (float rounding makes the
 * first two include their stop: 7, 12, 16, 21 and 26 factors). Factors are relative, so no size scaling.
 */
const ZOOM_STOP = [1.06, 1.11, 1.16, 1.21, 1.26] as const;

/** numpy's arange(start, stop, step): ceil((stop - start) / step) values start + i * step. */
export function arange(start: number, stop: number, step: number): number[] {
  const count = Math.max(0, Math.ceil((stop - start) / step));
  return Array.from({ length: count }, (_, i) => start + i * step);
}

/**
 * The reference's clipped_zoom: crop the centre ceil(side / factor) pixels, enlarge them by `factor` with scipy's
 * zoom(order=1) (output side round(crop * factor); output pixel o samples crop coordinate o * (crop - 1) / (out - 1)),
 * then cut the centre `side` pixels. Done per axis, so non-square images work too. With an output size (outH, outW)
 * other than the input's, the crop is enlarged by factor * out / side instead, so the result shows the same part of
 * the input at the new size (snow zooms a coarse noise grid this way; see snow.ts).
 */
export function clippedZoom(image: Image, factor: number, outH = image.h, outW = image.w): Image {
  const axis = (side: number, outSide: number) => {
    const crop = Math.ceil(side / factor);
    const top = Math.floor((side - crop) / 2);
    const out = roundHalfEven(crop * factor * (outSide / side));
    const trim = Math.floor((out - outSide) / 2);
    const ratio = out > 1 ? (crop - 1) / (out - 1) : 0;
    return (o: number) => top + (o + trim) * ratio;
  };
  const ys = axis(image.h, outH);
  const xs = axis(image.w, outW);
  const result: Image = { data: new Float32Array(outH * outW * image.c), h: outH, w: outW, c: image.c };
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) sampleBilinear(image, ys(y), xs(x), result.data, (y * outW + x) * image.c);
  }
  return result;
}

/** Zoom blur: the mean of the image and its centre zooms by every factor (the reference counts factor 1 too). */
export const zoomBlur: Corruption = (image, severity) => {
  const factors = arange(1, level(ZOOM_STOP, severity), 0.01);
  const sum = Float32Array.from(image.data);
  for (const factor of factors) {
    const zoomed = clippedZoom(image, factor).data;
    for (let i = 0; i < sum.length; i++) sum[i]! += zoomed[i]!;
  }
  return { ...image, data: sum.map((v) => v / (factors.length + 1)) };
};
