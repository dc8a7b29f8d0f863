// Pixel helpers for the corruptions: one HWC float image at a time, reflect borders, convolution, bilinear sampling,
// and the rule that scales Hendrycks & Dietterich's 32x32 spatial parameters to other image sizes.

/** One image: `h * w * c` floats, HWC (channels innermost). */
export interface Image {
  data: Float32Array;
  h: number;
  w: number;
  c: number;
}

/** A new image of the same size filled with zeros. */
export function blankLike(image: Image): Image {
  return { data: new Float32Array(image.data.length), h: image.h, w: image.w, c: image.c };
}

/**
 * How much bigger this image is than CIFAR's 32x32: the mean side over 32 (0.875 for MNIST, 2 for Tiny-ImageNet).
 * Spatial parameters of make_cifar_c.py (blur sigmas and radii, shuffle distance, elastic alpha / sigma / affine
 * jitter) are multiplied by it, so a corruption covers the same fraction of the image at every size. Parameters that
 * are already relative (zoom factors, pixelate factor, JPEG quality, intensities) are used as they are. Two
 * discrete parameters do not shrink below their 32x32 values: the glass-blur shuffle distance (at least 1 pixel) and
 * the defocus disk (a set of whole pixels; see blur.ts).
 */
export function spatialScale(h: number, w: number): number {
  return (h + w) / 64;
}

/**
 * Index `i` folded into 0..n-1 by half-sample symmetric reflection (... c b a | a b c ... x y z | z y x ...), scipy's
 * "reflect" mode. The one border rule used everywhere here; the reference code mixes it with OpenCV's reflect-101
 * and skimage's "nearest", which differ from it only in the outermost pixel or two.
 */
export function reflectIndex(i: number, n: number): number {
  if (i >= 0 && i < n) return i;
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/** Python's round(): halves go to the even neighbour (scipy's zoom sizes its output with it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Normalised 1-D gaussian taps for `sigma`, radius floor(truncate * sigma + 0.5) as in scipy / skimage
 * (truncate 4 by default). A sigma of 0 (or one too small to reach a neighbour) gives the identity [1].
 */
export function gaussianTaps(sigma: number, truncate = 4): Float64Array {
  const radius = Math.floor(truncate * sigma + 0.5);
  if (sigma <= 0 || radius === 0) return Float64Array.of(1);
  const taps = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let i = -radius; i <= radius; i++) {
    const weight = Math.exp(-(i * i) / (2 * sigma * sigma));
    taps[i + radius] = weight;
    total += weight;
  }
  for (let i = 0; i < taps.length; i++) taps[i]! /= total;
  return taps;
}

/**
 * Each channel correlated with the odd-length `taps` along rows, then along columns (a separable filter; for
 * symmetric taps correlation and convolution agree). Reflect borders. Returns a new image.
 */
export function filterSeparable(image: Image, taps: Float64Array): Image {
  if (taps.length === 1) return { ...image, data: Float32Array.from(image.data, (v) => v * taps[0]!) };
  const { h, w, c } = image;
  const radius = (taps.length - 1) / 2;
  const rows = new Float32Array(image.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let t = -radius; t <= radius; t++) sum += taps[t + radius]! * image.data[(y * w + reflectIndex(x + t, w)) * c + k]!;
        rows[(y * w + x) * c + k] = sum;
      }
    }
  }
  const out = new Float32Array(image.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let t = -radius; t <= radius; t++) sum += taps[t + radius]! * rows[(reflectIndex(y + t, h) * w + x) * c + k]!;
        out[(y * w + x) * c + k] = sum;
      }
    }
  }
  return { data: out, h, w, c };
}

/** A gaussian blur of every channel (scipy / skimage `gaussian` with reflect borders). */
export function gaussianBlur(image: Image, sigma: number, truncate = 4): Image {
  return filterSeparable(image, gaussianTaps(sigma, truncate));
}

/**
 * Each channel correlated with a `size` x `size` kernel (row-major, `size` odd), reflect borders, like OpenCV's
 * filter2D. Returns a new image.
 */
export function filter2d(image: Image, kernel: Float64Array, size: number): Image {
  const { h, w, c, data } = image;
  const radius = (size - 1) / 2;
  // Only the non-zero taps matter (disk kernels are mostly zeros at their corners).
  const taps: Array<{ dy: number; dx: number; weight: number }> = [];
  for (let ky = -radius; ky <= radius; ky++) {
    for (let kx = -radius; kx <= radius; kx++) {
      const weight = kernel[(ky + radius) * size + kx + radius]!;
      if (weight !== 0) taps.push({ dy: ky, dx: kx, weight });
    }
  }
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (const { dy, dx, weight } of taps) {
        const from = (reflectIndex(y + dy, h) * w + reflectIndex(x + dx, w)) * c;
        const to = (y * w + x) * c;
        for (let k = 0; k < c; k++) out[to + k]! += weight * data[from + k]!;
      }
    }
  }
  return { data: out, h, w, c };
}

/**
 * Bilinear interpolation of every channel at (y, x) in pixel coordinates (pixel centres at integers), with the
 * image extended by reflection (scipy's map_coordinates(order=1, mode='reflect')). Writes `c` values into `out`
 * at `outOffset`.
 */
export function sampleBilinear(image: Image, y: number, x: number, out: Float32Array, outOffset: number): void {
  const { h, w, c, data } = image;
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const ya = reflectIndex(y0, h) * w;
  const yb = reflectIndex(y0 + 1, h) * w;
  const xa = reflectIndex(x0, w);
  const xb = reflectIndex(x0 + 1, w);
  for (let k = 0; k < c; k++) {
    const top = data[(ya + xa) * c + k]! * (1 - fx) + data[(ya + xb) * c + k]! * fx;
    const bottom = data[(yb + xa) * c + k]! * (1 - fx) + data[(yb + xb) * c + k]! * fx;
    out[outOffset + k] = top * (1 - fy) + bottom * fy;
  }
}
